package harness

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"net/url"
	"slices"
	"sync"
	"time"

	"github.com/auth-manager/auth-manager/internal/devstack"
)

// ScaleConfig is one `loadgen scale` run: how many refresh grants one row costs per
// token lifetime across replicas, and what a slow Keycloak does to the paths that do
// not need it.
type ScaleConfig struct {
	Repo    string // repository root (the service is built from it unless Bin is set)
	EnvFile string // the stack's environment, e.g. deploy/dev.env
	Bin     string // a service binary to measure instead (e.g. one built from an older commit)
	// The one-refresh measurement: Rows rows, Calls access-token calls per row by
	// Callers concurrent callers, call k going to replica k mod n, for each n in Replicas.
	Replicas             []int
	Rows, Calls, Callers int
	// The slow-Keycloak measurement: refresh grants held Delay at the proxy, Misses
	// concurrent cache misses of distinct rows on one replica, while Samplers callers
	// time cache hits and GET /v1/tokens, pausing Pause between requests.
	Delay    time.Duration
	Misses   int
	Samplers int
	Pause    time.Duration
	// ServiceEnv is laid over the env file for the service (e.g.
	// AUTH_MANAGER_KEYCLOAK_CONCURRENCY); the harness's own settings win.
	ServiceEnv             map[string]string
	CallerID, CallerSecret string
	Log                    io.Writer
}

// GrantsPoint is the one-refresh measurement at one replica count.
type GrantsPoint struct {
	Replicas, Rows, Calls int
	// Refresh grants Keycloak saw per row (its session), fewest and most, and in all.
	Min, Max, Total int
	// Distinct access tokens answered per row, most; failed calls.
	Tokens, Failed int
}

// Latencies summarises one kind of request.
type Latencies struct {
	N                   int
	P50, P99, Max       time.Duration
	Failed              int
	FailedKinds         map[string]int
	Answered, FirstFail time.Duration // (misses) when the last answer came; when the first failure came
}

func latencies(samples []time.Duration, failed map[string]int) Latencies {
	slices.Sort(samples)
	l := Latencies{N: len(samples), P50: Percentile(samples, 50), P99: Percentile(samples, 99), FailedKinds: failed}
	if len(samples) > 0 {
		l.Max = samples[len(samples)-1]
	}
	for _, n := range failed {
		l.Failed += n
	}
	return l
}

// SlowPoint is the slow-Keycloak measurement.
type SlowPoint struct {
	Delay          time.Duration
	Misses         Latencies // the misses that were answered 200
	Hits, Listings Latencies
	Grants         int   // refresh grants Keycloak saw
	MaxInFlight    int64 // most refresh grants at Keycloak at once
	Drained        time.Duration
}

// ScaleRun is a whole `loadgen scale` run.
type ScaleRun struct {
	Machine Machine
	Date    time.Time
	Commit  string
	Binary  string
	Config  ScaleConfig
	Grants  []GrantsPoint
	Slow    SlowPoint
	Elapsed time.Duration
}

// Scale performs a `loadgen scale` run: build (or take Bin), start a delaying and
// counting proxy in front of Keycloak, measure, clean up (processes, Keycloak users,
// databases) even when ctx is cancelled.
func Scale(ctx context.Context, cfg ScaleConfig) (_ *ScaleRun, err error) {
	start := time.Now()
	r := &runner{cfg: Config{Repo: cfg.Repo, EnvFile: cfg.EnvFile, Log: cfg.Log, CallerID: cfg.CallerID, CallerSecret: cfg.CallerSecret}}
	run := &ScaleRun{Machine: Describe(), Date: start.UTC(), Commit: Commit(ctx, cfg.Repo), Config: cfg, Binary: cfg.Bin}
	cleanupCtx := context.WithoutCancel(ctx)
	adminDB, err := r.connect()
	if err != nil {
		return nil, err
	}
	keepLogs, err := r.workDir("loadgen-scale-*")
	if err != nil {
		return nil, err
	}
	defer func() { keepLogs(err != nil) }()
	if cfg.Bin != "" {
		r.bin = cfg.Bin
	} else if err := r.build(ctx); err != nil {
		return nil, err
	}
	if n, err := RemoveStaleUsers(ctx, r.kc, 30*time.Minute); err != nil {
		return nil, fmt.Errorf("remove stale bench users: %w", err)
	} else if n > 0 {
		r.logf("removed %d bench users left by an earlier run", n)
	}
	proxy, err := devstack.StartKeycloakProxy(r.stack.Config.Keycloak.BaseURL)
	if err != nil {
		return nil, err
	}
	defer proxy.Close()
	r.cfg.ServiceEnv = maps.Clone(cfg.ServiceEnv)
	if r.cfg.ServiceEnv == nil {
		r.cfg.ServiceEnv = map[string]string{}
	}
	r.cfg.ServiceEnv["KEYCLOAK_URL"] = proxy.URL
	s := &scaler{runner: r, cfg: cfg, proxy: proxy, cleanup: cleanupCtx}
	for _, n := range cfg.Replicas {
		p, err := s.grants(ctx, n, adminDB)
		if err != nil {
			return nil, err
		}
		run.Grants = append(run.Grants, p)
	}
	if cfg.Misses > 0 {
		if run.Slow, err = s.slow(ctx, adminDB); err != nil {
			return nil, err
		}
	}
	run.Machine.LoadEnd = loadAvg()
	run.Elapsed = time.Since(start)
	return run, nil
}

type scaler struct {
	*runner
	cfg     ScaleConfig
	proxy   *devstack.KeycloakProxy
	cleanup context.Context
}

// fresh creates a database, starts n replicas on it (the first migrates it) and seeds
// users; stop undoes all of it.
func (s *scaler) fresh(ctx context.Context, adminDB, name string, n, users int) (procs []*Proc, fix *Fixture, stop func(), err error) {
	db, drop, err := devstack.CreateDatabase(ctx, adminDB, dbPrefix)
	if err != nil {
		return nil, nil, nil, err
	}
	s.dbURL = db
	stop = func() {
		stopAll(procs...)
		if fix != nil {
			if err := fix.Cleanup(s.cleanup); err != nil {
				s.logf("delete bench users: %v (names start with %q; a later run removes them after 30 min)", err, UserPrefix)
			}
		}
		if err := drop(s.cleanup); err != nil {
			s.logf("drop database: %v", err)
		}
	}
	defer func() {
		if err != nil {
			stop()
		}
	}()
	delete(s.runner.cfg.ServiceEnv, "AUTH_MANAGER_SKIP_MIGRATIONS")
	for i := range n {
		p, err := s.startService(ctx, fmt.Sprintf("%s-%d", name, i), "jwt", 10000)
		if err != nil {
			return nil, nil, nil, err
		}
		procs = append(procs, p)
		s.runner.cfg.ServiceEnv["AUTH_MANAGER_SKIP_MIGRATIONS"] = "true"
	}
	delete(s.runner.cfg.ServiceEnv, "AUTH_MANAGER_SKIP_MIGRATIONS")
	s.logf("seeding %d users", users)
	fix, err = Seed(ctx, s.kc, procs[0].URL, SeedOptions{Users: users, PerSession: 1, Callers: 1, Parallelism: 4})
	return procs, fix, stop, err
}

// grants measures refresh grants per row with n replicas on one database.
func (s *scaler) grants(ctx context.Context, n int, adminDB string) (GrantsPoint, error) {
	procs, fix, stop, err := s.fresh(ctx, adminDB, fmt.Sprintf("scale-n%d", n), n, s.cfg.Rows)
	if err != nil {
		return GrantsPoint{}, err
	}
	defer stop()
	s.proxy.SetDelay(0)
	s.proxy.TakeGrants()
	client := NewClient(len(fix.Users)*s.cfg.Callers, time.Minute)
	defer client.CloseIdleConnections()
	var (
		mu     sync.Mutex
		failed int
		tokens = make([]map[string]bool, len(fix.Users))
		wg     sync.WaitGroup
	)
	for i, u := range fix.Users {
		tokens[i] = map[string]bool{}
		for c := range s.cfg.Callers {
			wg.Go(func() {
				for k := c; k < s.cfg.Calls; k += s.cfg.Callers {
					tok, err := accessTokenOf(ctx, client, procs[k%n].URL, u.RowID, u.Access)
					mu.Lock()
					if err != nil {
						failed++
					} else {
						tokens[i][tok] = true
					}
					mu.Unlock()
				}
			})
		}
	}
	wg.Wait()
	bySID, _ := s.proxy.TakeGrants()
	p := GrantsPoint{Replicas: n, Rows: len(fix.Users), Calls: s.cfg.Calls, Failed: failed, Min: -1}
	for i, u := range fix.Users {
		g := bySID[devstack.SessionOf(u.Access)]
		p.Total += g
		p.Max = max(p.Max, g)
		if p.Min < 0 || g < p.Min {
			p.Min = g
		}
		p.Tokens = max(p.Tokens, len(tokens[i]))
	}
	s.logf("%2d replicas: %d rows × %d calls: refresh grants per row %d–%d (total %d), distinct access tokens per row ≤ %d, failed calls %d",
		n, p.Rows, p.Calls, p.Min, p.Max, p.Total, p.Tokens, p.Failed)
	return p, nil
}

// slow measures cache hits and GET /v1/tokens on one replica while Misses cache misses
// of distinct rows wait on a Keycloak slowed to Delay.
func (s *scaler) slow(ctx context.Context, adminDB string) (SlowPoint, error) {
	procs, fix, stop, err := s.fresh(ctx, adminDB, "scale-slow", 1, s.cfg.Misses+1)
	if err != nil {
		return SlowPoint{}, err
	}
	defer stop()
	svc, hot, cold := procs[0].URL, fix.Users[0], fix.Users[1:]
	s.proxy.SetDelay(0)
	client := NewClient(len(cold)+2*s.cfg.Samplers, 5*time.Minute)
	defer client.CloseIdleConnections()
	if _, err := accessTokenOf(ctx, client, svc, hot.RowID, hot.Access); err != nil {
		return SlowPoint{}, fmt.Errorf("warming the hot row: %w", err)
	}
	s.proxy.TakeGrants()
	s.proxy.SetDelay(s.cfg.Delay)
	defer s.proxy.SetDelay(0)
	s.logf("Keycloak delayed %s: %d concurrent misses, %d samplers", s.cfg.Delay, len(cold), s.cfg.Samplers)

	start := time.Now()
	var (
		mu                       sync.Mutex
		missOK, hits, listings   []time.Duration
		missFail, hitFail, lFail = map[string]int{}, map[string]int{}, map[string]int{}
		lastAnswer, firstFail    time.Duration
		misses, samplers         sync.WaitGroup
	)
	record := func(ok *[]time.Duration, fail map[string]int, d time.Duration, err error) {
		mu.Lock()
		defer mu.Unlock()
		if err != nil {
			fail[err.Error()]++
			return
		}
		*ok = append(*ok, d)
	}
	for _, u := range cold {
		misses.Go(func() {
			t0 := time.Now()
			_, err := accessTokenOf(ctx, client, svc, u.RowID, u.Access)
			record(&missOK, missFail, time.Since(t0), err)
			mu.Lock()
			if err == nil {
				lastAnswer = max(lastAnswer, time.Since(start))
			} else if firstFail == 0 {
				firstFail = time.Since(start)
			}
			mu.Unlock()
		})
	}
	done := make(chan struct{})
	for range s.cfg.Samplers {
		samplers.Go(func() {
			for {
				select {
				case <-done:
					return
				case <-time.After(s.cfg.Pause):
				}
				t0 := time.Now()
				err := listTokens(ctx, client, svc, hot.Access)
				record(&listings, lFail, time.Since(t0), err)
				t0 = time.Now()
				_, err = accessTokenOf(ctx, client, svc, hot.RowID, hot.Access)
				record(&hits, hitFail, time.Since(t0), err)
			}
		})
	}
	misses.Wait()
	drained := time.Since(start)
	close(done)
	samplers.Wait()
	bySID, maxIn := s.proxy.TakeGrants()
	p := SlowPoint{Delay: s.cfg.Delay, Misses: latencies(missOK, missFail), Hits: latencies(hits, hitFail),
		Listings: latencies(listings, lFail), MaxInFlight: maxIn, Drained: drained}
	p.Misses.Answered, p.Misses.FirstFail = lastAnswer, firstFail
	for _, g := range bySID {
		p.Grants += g
	}
	s.logf("misses: %d answered (p50 %s, max %s, last after %s), %d failed %v (first after %s); drained in %s; %d refresh grants, at most %d at once",
		p.Misses.N, ms(p.Misses.P50), ms(p.Misses.Max), ms(lastAnswer), p.Misses.Failed, missFail, ms(firstFail), ms(drained), p.Grants, maxIn)
	s.logf("cache hits: n %d p50 %s p99 %s max %s failed %d; GET /v1/tokens: n %d p50 %s p99 %s max %s failed %d",
		p.Hits.N, ms(p.Hits.P50), ms(p.Hits.P99), ms(p.Hits.Max), p.Hits.Failed,
		p.Listings.N, ms(p.Listings.P50), ms(p.Listings.P99), ms(p.Listings.Max), p.Listings.Failed)
	return p, nil
}

// accessTokenOf calls POST /v1/access-token for row id as bearer and returns the token.
func accessTokenOf(ctx context.Context, client *http.Client, base, id, bearer string) (string, error) {
	st, body, err := call(ctx, client, http.MethodPost, base+"/v1/access-token?id="+url.QueryEscape(id), bearer, nil)
	if err != nil {
		return "", fmt.Errorf("transport: %s", errorKind(err))
	}
	if st != http.StatusOK {
		return "", fmt.Errorf("status %d %s", st, codeOf(body))
	}
	var env struct {
		Data struct {
			AccessToken string `json:"access_token"`
		} `json:"data"`
	}
	if err := json.Unmarshal(body, &env); err != nil || env.Data.AccessToken == "" {
		return "", fmt.Errorf("unexpected answer")
	}
	return env.Data.AccessToken, nil
}

// listTokens calls GET /v1/tokens as bearer.
func listTokens(ctx context.Context, client *http.Client, base, bearer string) error {
	st, body, err := call(ctx, client, http.MethodGet, base+"/v1/tokens", bearer, nil)
	if err != nil {
		return fmt.Errorf("transport: %s", errorKind(err))
	}
	if st != http.StatusOK {
		return fmt.Errorf("status %d %s", st, codeOf(body))
	}
	return nil
}

// codeOf is the envelope's code of an error answer.
func codeOf(body []byte) string {
	var e struct {
		Code string `json:"code"`
	}
	_ = json.Unmarshal(body, &e)
	return e.Code
}

// errorKind names a transport failure without its addresses.
func errorKind(err error) string {
	var ne net.Error
	switch {
	case errors.As(err, &ne) && ne.Timeout():
		return "timeout"
	case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF):
		return "connection closed without an answer"
	}
	return "error"
}
