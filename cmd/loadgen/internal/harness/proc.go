package harness

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Proc is a child process serving HTTP on a loopback port: the service or baseline A.
type Proc struct {
	Name string
	URL  string // http://127.0.0.1:port
	Pid  int
	Log  string // its stdout and stderr

	cmd  *exec.Cmd
	done chan struct{}
	err  error
}

// StartProc starts bin with args and env (the complete environment) in dir, its
// output going to logPath, and waits until GET url+readyPath answers 200.
func StartProc(ctx context.Context, name, url, bin string, args, env []string, dir, logPath, readyPath string) (*Proc, error) {
	logf, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	defer logf.Close() // the child holds its own descriptor
	cmd := exec.Command(bin, args...)
	cmd.Env, cmd.Dir, cmd.Stdout, cmd.Stderr = env, dir, logf, logf
	// Own process group: a Ctrl-C of the driver reaches the driver, which stops the
	// child itself after the current point.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	p := &Proc{Name: name, URL: url, Pid: cmd.Process.Pid, Log: logPath, cmd: cmd, done: make(chan struct{})}
	go func() { p.err = cmd.Wait(); close(p.done) }()
	if err := p.waitReady(ctx, readyPath, 60*time.Second); err != nil {
		p.Stop()
		return nil, err
	}
	return p, nil
}

func (p *Proc) waitReady(ctx context.Context, path string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	client := &http.Client{Timeout: 2 * time.Second}
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, p.URL+path, nil)
		if resp, err := client.Do(req); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-p.done:
			return fmt.Errorf("%s exited before it was ready (%v); see %s", p.Name, p.err, p.Log)
		case <-ctx.Done():
			return fmt.Errorf("%s not ready at %s%s within %s; see %s", p.Name, p.URL, path, timeout, p.Log)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// Stop sends SIGTERM and waits up to 25 s (the service drains), then kills.
func (p *Proc) Stop() {
	select {
	case <-p.done:
		return
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(25 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

// Exited reports whether the process has ended.
func (p *Proc) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// clockTick is USER_HZ, the unit of utime/stime in /proc/<pid>/stat; Linux fixes it at
// 100 on every architecture Go supports.
const clockTick = 100

// CPU is the user+system CPU time the process has used so far.
func (p *Proc) CPU() (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", p.Pid))
	if err != nil {
		return 0, err
	}
	return parseStatCPU(string(b))
}

// parseStatCPU reads utime and stime (fields 14 and 15) of a /proc/<pid>/stat line;
// the command name (field 2) may hold spaces and parentheses, so fields are counted
// after its closing parenthesis.
func parseStatCPU(stat string) (time.Duration, error) {
	i := strings.LastIndexByte(stat, ')')
	if i < 0 {
		return 0, errors.New("loadgen: malformed /proc stat")
	}
	f := strings.Fields(stat[i+1:])
	if len(f) < 13 {
		return 0, errors.New("loadgen: short /proc stat")
	}
	ut, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, errors.New("loadgen: malformed utime/stime in /proc stat")
	}
	return time.Duration(ut+st) * time.Second / clockTick, nil
}

// ResetPeak resets the kernel's peak-RSS mark (VmHWM) of the process, so that the next
// Peak covers only what happened since. It needs write access to clear_refs (the same
// user, which we are).
func (p *Proc) ResetPeak() error {
	return os.WriteFile(fmt.Sprintf("/proc/%d/clear_refs", p.Pid), []byte("5"), 0)
}

// Memory returns VmHWM (peak resident set since start or the last ResetPeak) and VmRSS
// in bytes.
func (p *Proc) Memory() (peak, rss int64, err error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.Pid))
	if err != nil {
		return 0, 0, err
	}
	return statusKB(string(b), "VmHWM:") * 1024, statusKB(string(b), "VmRSS:") * 1024, nil
}

func statusKB(status, key string) int64 {
	for line := range strings.Lines(status) {
		if rest, ok := strings.CutPrefix(line, key); ok {
			n, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			return n
		}
	}
	return 0
}

// Sockets counts the process's open TCP sockets (established or not).
func (p *Proc) Sockets() int {
	ents, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", p.Pid))
	if err != nil {
		return 0
	}
	n := 0
	for _, e := range ents {
		if t, err := os.Readlink(fmt.Sprintf("/proc/%d/fd/%s", p.Pid, e.Name())); err == nil && strings.HasPrefix(t, "socket:") {
			n++
		}
	}
	return n
}

// FreePort asks the kernel for a free loopback port. Another process could take it
// before the child binds it; StartProc then fails and says so.
func FreePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// machineCPU is the machine's CPU time from /proc/stat's "cpu" line, all CPUs added.
type machineCPU struct {
	busy, total time.Duration
	ok          bool
}

func readMachineCPU() machineCPU {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return machineCPU{}
	}
	return parseMachineCPU(string(b))
}

// parseMachineCPU reads the aggregate line "cpu user nice system idle iowait irq
// softirq steal …" (in USER_HZ ticks); idle and iowait are not busy. Guest time is
// already inside user and nice.
func parseMachineCPU(stat string) machineCPU {
	line, _, _ := strings.Cut(stat, "\n")
	f := strings.Fields(line)
	if len(f) < 9 || f[0] != "cpu" {
		return machineCPU{}
	}
	var v [8]int64
	for i := range v {
		n, err := strconv.ParseInt(f[i+1], 10, 64)
		if err != nil {
			return machineCPU{}
		}
		v[i] = n
	}
	tick := func(n int64) time.Duration { return time.Duration(n) * time.Second / clockTick }
	busy := v[0] + v[1] + v[2] + v[5] + v[6] + v[7]
	return machineCPU{busy: tick(busy), total: tick(busy + v[3] + v[4]), ok: true}
}

// selfCPU is the driver's own user+system CPU time.
func selfCPU() time.Duration {
	b, err := os.ReadFile("/proc/self/stat")
	if err != nil {
		return 0
	}
	d, _ := parseStatCPU(string(b))
	return d
}
