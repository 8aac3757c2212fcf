package harness

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/auth-manager/auth-manager/internal/devstack"
)

// Config is one harness run.
type Config struct {
	Repo         string // repository root (the service is built from it)
	EnvFile      string // the stack's environment, e.g. deploy/dev.env
	Self         string // this driver's executable, re-run as baseline A's server
	Levels       []int  // concurrency levels, e.g. 1, 16, 128
	WideConns    int    // connections of the RSS check, e.g. 500
	Warmup       time.Duration
	Duration     time.Duration // recorded window per point
	MaxRequests  int64         // per point
	Timeout      time.Duration // per request
	Seed         SeedOptions
	CallerID     string // service-caller client (has the service role)
	CallerSecret string
	// ServiceEnv is laid over the env file for the service only (settings under study,
	// e.g. GOMEMLIMIT); the harness's own settings (port, database, mode, cache) win.
	ServiceEnv map[string]string
	// Placements are measured at every level of the scenarios the objectives judge, in
	// order (Shared, Pinned or both); the other scenarios run shared only.
	Placements []Placement
	// RefreshOnly measures only what the refresh-path objective is judged on (baseline
	// BC and the cache-disabled path), for iterating on that path; the others read
	// "not measured".
	RefreshOnly bool
	Log         io.Writer // progress
}

// Point is one measured concurrency level of a scenario, in one placement.
type Point struct {
	Result
	Placement Placement
	Usage     Usage
	HasUsage  bool // the process measured is ours (not Keycloak)
	// Keycloak calls the service made per request (introspections and refreshes), and
	// refreshes of stored tokens per request, from its /metrics over the window.
	KCPerReq, RefreshPerReq float64
	HasKC                   bool
}

// Scenario is one kind of load and its points.
type Scenario struct {
	Key    string // stable key, e.g. "hit-introspect"
	Title  string
	What   string // what one request is
	Points []Point
}

// At returns the shared point at concurrency c.
func (s *Scenario) At(c int) (Point, bool) { return s.AtIn(c, Shared) }

// AtIn returns the point at concurrency c in placement pl.
func (s *Scenario) AtIn(c int, pl Placement) (Point, bool) {
	for _, p := range s.Points {
		if p.Concurrency == c && p.Placement == pl {
			return p, true
		}
	}
	return Point{}, false
}

// Run is a whole harness run, ready to report.
type Run struct {
	Machine   Machine
	Date      time.Time
	Commit    string
	Config    Config
	Scenarios []*Scenario
	Elapsed   time.Duration
}

// Scenario returns the scenario with key, or nil.
func (r *Run) Scenario(key string) *Scenario {
	for _, s := range r.Scenarios {
		if s.Key == key {
			return s
		}
	}
	return nil
}

type runner struct {
	aff   *affinity
	cfg   Config
	stack *devstack.Stack
	kc    *Keycloak
	fix   *Fixture
	dir   string
	bin   string
	dbURL string
	run   *Run
}

func (r *runner) logf(format string, args ...any) {
	fmt.Fprintf(r.cfg.Log, "[loadgen] "+format+"\n", args...)
}

// workDir makes the run's directory for the processes' logs; done, called at the end
// of the run, removes it after a run that succeeded and names it after one that failed.
func (r *runner) workDir(pattern string) (done func(failed bool), err error) {
	if r.dir, err = os.MkdirTemp("", pattern); err != nil {
		return nil, err
	}
	return func(failed bool) {
		if failed {
			r.logf("logs kept in %s", r.dir)
			return
		}
		_ = os.RemoveAll(r.dir)
	}, nil
}

// Execute performs a whole run: build, start, seed, measure, clean up. Cleanup (child
// processes, Keycloak users, the database) happens even when ctx is cancelled.
func Execute(ctx context.Context, cfg Config) (_ *Run, err error) {
	start := time.Now()
	r := &runner{aff: newAffinity(), cfg: cfg, run: &Run{Machine: Describe(), Date: start.UTC(), Commit: Commit(ctx, cfg.Repo), Config: cfg}}
	cleanupCtx := context.WithoutCancel(ctx)
	adminDB, err := r.connect()
	if err != nil {
		return nil, err
	}
	keepLogs, err := r.workDir("loadgen-*")
	if err != nil {
		return nil, err
	}
	defer func() { keepLogs(err != nil) }()
	if err := r.build(ctx); err != nil {
		return nil, err
	}
	var drop func(context.Context) error
	if r.dbURL, drop, err = devstack.CreateDatabase(ctx, adminDB, dbPrefix); err != nil {
		return nil, err
	}
	defer func() {
		if derr := drop(cleanupCtx); derr != nil {
			r.logf("drop database: %v", derr)
		}
	}()
	if n, err := RemoveStaleUsers(ctx, r.kc, 30*time.Minute); err != nil {
		return nil, fmt.Errorf("remove stale bench users: %w", err)
	} else if n > 0 {
		r.logf("removed %d bench users left by an earlier run", n)
	}
	defer func() {
		if r.fix == nil {
			return
		}
		if cerr := r.fix.Cleanup(cleanupCtx); cerr != nil {
			r.logf("delete bench users: %v (names start with %q; a later run removes them after 30 min)", cerr, UserPrefix)
		}
	}()
	if err := r.scenarios(ctx); err != nil {
		return nil, err
	}
	r.run.Machine.LoadEnd = loadAvg()
	r.run.Elapsed = time.Since(start)
	return r.run, nil
}

// build compiles the service the way `make build` does (static, -trimpath).
func (r *runner) build(ctx context.Context) error {
	r.bin = filepath.Join(r.dir, "auth-manager")
	version := "bench"
	if out, err := exec.CommandContext(ctx, "git", "-C", r.cfg.Repo, "describe", "--tags", "--always", "--dirty").Output(); err == nil {
		version = strings.TrimSpace(string(out))
	}
	r.logf("building the service with -trimpath")
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-ldflags", "-s -w -X main.version="+version, "-o", r.bin, "./cmd/auth-manager")
	cmd.Dir, cmd.Stdout, cmd.Stderr = r.cfg.Repo, r.cfg.Log, r.cfg.Log
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("go build ./cmd/auth-manager: %w", err)
	}
	return nil
}

// startService starts the built service on a free port against the run's database.
func (r *runner) startService(ctx context.Context, name, mode string, cacheSize int) (*Proc, error) {
	port, err := FreePort()
	if err != nil {
		return nil, err
	}
	over := maps.Clone(r.cfg.ServiceEnv)
	if over == nil {
		over = map[string]string{}
	}
	maps.Copy(over, map[string]string{
		"HOST": "127.0.0.1", "PORT": strconv.Itoa(port), "DATABASE_URL": r.dbURL,
		"AUTH_MANAGER_AUTH_MODE": mode, "AUTH_MANAGER_ACCESS_TOKEN_CACHE_SIZE": strconv.Itoa(cacheSize),
		"LOG_LEVEL": "INFO", "METRICS_ADDR": "", "SHUTDOWN_TIMEOUT": "5", "SHUTDOWN_DRAIN_DELAY": "0",
	})
	env := r.stack.Environ(over)
	r.logf("starting the service (%s): auth mode %s, access-token cache size %d, port %d", name, mode, cacheSize, port)
	// Its working directory is the temp dir, so that no stray .env is read.
	return StartProc(ctx, name, fmt.Sprintf("http://127.0.0.1:%d", port), r.bin, []string{"serve"}, env,
		r.dir, filepath.Join(r.dir, name+".log"), "/health/ready")
}

// startBaseline starts baseline A's server: this driver re-run as `baseline`.
func (r *runner) startBaseline(ctx context.Context) (*Proc, error) {
	port, err := FreePort()
	if err != nil {
		return nil, err
	}
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	return StartProc(ctx, "baseline-a", "http://"+addr, r.cfg.Self, []string{"baseline", "-addr", addr},
		os.Environ(), r.dir, filepath.Join(r.dir, "baseline-a.log"), "/health")
}

// measure drives build at every level in levels against proc (nil: a process that is
// not ours, Keycloak or PostgreSQL), recording each point in sc, in each of the run's
// placements (shared only for a scenario no objective judges, see placed).
func (r *runner) measure(ctx context.Context, sc *Scenario, proc *Proc, build TargetFunc, levels ...int) error {
	placements := []Placement{Shared}
	if placed[sc.Key] {
		placements = r.cfg.Placements
	}
	for _, c := range levels {
		for _, pl := range placements {
			if err := r.measureOne(ctx, sc, proc, build, c, pl); err != nil {
				return err
			}
		}
	}
	// Later prewarms and seeding run shared.
	_, err := r.aff.place(ctx, Shared, proc)
	return err
}

// placed are the scenarios measured in every placement: those the objectives judge
// and the baselines they are judged against.
var placed = map[string]bool{
	KeyBaselineA: true, KeyBaselineAReq: true, KeyBaselineAVal: true, KeyBaselineBC: true,
	KeyHitIntrospect: true, KeyHitJWT: true, KeyValidateIntro: true, KeyValidateJWT: true, KeyCacheOff: true,
}

// settle is how long a moved Go process gets to adjust GOMAXPROCS to its new CPU mask
// (the runtime checks once a second) before the warm-up starts.
const settle = 1200 * time.Millisecond

func (r *runner) measureOne(ctx context.Context, sc *Scenario, proc *Proc, build TargetFunc, c int, pl Placement) error {
	if proc != nil && proc.Exited() {
		return fmt.Errorf("%s exited; see %s", proc.Name, proc.Log)
	}
	moved, err := r.aff.place(ctx, pl, proc)
	if err != nil {
		return err
	}
	if moved {
		sleep(ctx, settle)
	}
	m := newMeter(proc)
	// The service's Keycloak counters are read at the window's edges, like its CPU,
	// so that the warm-up's calls are not charged to the window's requests.
	scrape := proc != nil && proc.Name != "baseline-a"
	var kc [2]float64
	var rf [2]float64
	var kcErr [2]error
	window := func(open bool) {
		if open {
			if scrape {
				kc[0], rf[0], kcErr[0] = scrapeKeycloakCalls(ctx, proc.URL)
			}
			m.window(true)
			return
		}
		m.window(false)
		if scrape {
			kc[1], rf[1], kcErr[1] = scrapeKeycloakCalls(ctx, proc.URL)
		}
	}
	client := NewClient(c, r.cfg.Timeout)
	res, err := Drive(ctx, client, build(c), LoadOptions{Concurrency: c, Warmup: r.cfg.Warmup,
		Duration: r.cfg.Duration, MaxRequests: r.cfg.MaxRequests, Timeout: r.cfg.Timeout, OnWindow: window})
	client.CloseIdleConnections()
	if err != nil {
		return err
	}
	p := Point{Result: res, Placement: pl, Usage: m.result(), HasUsage: proc != nil}
	if scrape && kcErr[0] == nil && kcErr[1] == nil && res.Requests > 0 {
		n := float64(res.Requests)
		p.KCPerReq, p.RefreshPerReq, p.HasKC = (kc[1]-kc[0])/n, (rf[1]-rf[0])/n, true
	}
	sc.Points = append(sc.Points, p)
	r.logf("%-22s c=%-4d %-6s %8.0f req/s  p50 %7s  p90 %7s  p99 %7s  errors %d%s  (rest of machine %s CPU)", sc.Key, c, pl, res.RPS,
		ms(res.P50), ms(res.P90), ms(res.P99), res.Errors, errorKinds(res.ErrorKinds), othersCell(p))
	return nil
}

// prewarm makes one unrecorded pass over every user (cache fills, introspections), so
// that a spread scenario's window measures the steady state, not the cold fill.
func (r *runner) prewarm(ctx context.Context, build TargetFunc) error {
	const c = 16
	n := len(r.fix.Users)
	client := NewClient(c, r.cfg.Timeout)
	defer client.CloseIdleConnections()
	res, err := Drive(ctx, client, build(c), LoadOptions{Concurrency: c,
		Duration: time.Minute, MaxRequests: int64(n), Timeout: r.cfg.Timeout})
	if err != nil {
		return err
	}
	if res.Errors > 0 {
		return fmt.Errorf("prewarm: %d of %d requests failed%s", res.Errors, res.Requests, errorKinds(res.ErrorKinds))
	}
	return nil
}

func errorKinds(kinds map[string]int64) string {
	if len(kinds) == 0 {
		return ""
	}
	var parts []string
	for k, v := range kinds {
		parts = append(parts, fmt.Sprintf("%s×%d", k, v))
	}
	return " (" + strings.Join(parts, ", ") + ")"
}

// stopAll stops processes in order, ignoring nils.
func stopAll(ps ...*Proc) {
	for _, p := range ps {
		if p != nil {
			p.Stop()
		}
	}
}

var errNoUsers = errors.New("loadgen: the fixture has no users")
