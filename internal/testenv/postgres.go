package testenv

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"testing"
)

// Postgres is a throw-away PostgreSQL cluster of the test's own, for tests that stop
// and start the database under a running service.
type Postgres struct {
	t    testing.TB
	bin  string
	dir  string
	Port int
	URL  string
}

// ThrowawayPostgres initialises and starts a private cluster on a free loopback port,
// running as the postgres user (the server refuses root). It is removed when the test
// ends.
func ThrowawayPostgres(t testing.TB) *Postgres {
	t.Helper()
	Integration(t)
	bins, _ := filepath.Glob("/usr/lib/postgresql/*/bin/initdb")
	if len(bins) == 0 {
		t.Fatal("testenv: PostgreSQL server binaries not found (run `make stack-up`)")
	}
	sort.Strings(bins)
	p := &Postgres{t: t, bin: filepath.Dir(bins[len(bins)-1]), Port: FreePort(t)}
	dir, err := os.MkdirTemp("", "am-pg-*")
	Must(t, err, "temp dir")
	p.dir = dir
	t.Cleanup(func() {
		_ = p.ctl("stop", "-m", "immediate")
		_ = os.RemoveAll(dir)
	})
	if os.Geteuid() == 0 {
		Must(t, exec.Command("chown", "-R", "postgres:postgres", dir).Run(), "chown temp dir")
	}
	Must(t, p.run(filepath.Join(p.bin, "initdb"), "-D", filepath.Join(dir, "data"), "-A", "trust", "-U", "postgres", "--no-sync"), "initdb")
	p.URL = fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", p.Port)
	p.Start()
	return p
}

// Start starts the cluster and waits until it accepts connections.
func (p *Postgres) Start() {
	p.t.Helper()
	Must(p.t, p.ctl("start", "-w", "-t", "30", "-l", filepath.Join(p.dir, "log"),
		"-o", fmt.Sprintf("-p %d -k %s -c listen_addresses=127.0.0.1 -c fsync=off", p.Port, p.dir)), "pg_ctl start")
}

// Stop stops the cluster at once, dropping every connection.
func (p *Postgres) Stop() {
	p.t.Helper()
	Must(p.t, p.ctl("stop", "-w", "-m", "immediate"), "pg_ctl stop")
}

func (p *Postgres) ctl(args ...string) error {
	return p.run(filepath.Join(p.bin, "pg_ctl"), append([]string{"-D", filepath.Join(p.dir, "data")}, args...)...)
}

func (p *Postgres) run(name string, args ...string) error {
	var cmd *exec.Cmd
	if os.Geteuid() == 0 {
		cmd = exec.Command("runuser", append([]string{"-u", "postgres", "--", name}, args...)...)
	} else {
		cmd = exec.Command(name, args...)
	}
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s: %v: %s", filepath.Base(name), err, out)
	}
	return nil
}

// FreePort returns a loopback port that was free a moment ago.
func FreePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	Must(t, err, "free port")
	defer ln.Close()
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	n, _ := strconv.Atoi(port)
	return n
}
