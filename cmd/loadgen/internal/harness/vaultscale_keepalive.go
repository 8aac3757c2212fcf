package harness

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sort"
	"sync"
	"time"

	"github.com/auth-manager/auth-manager/internal/keepalive"
	"github.com/auth-manager/auth-manager/internal/keycloak"
	"github.com/auth-manager/auth-manager/internal/seal"
	"github.com/auth-manager/auth-manager/internal/store"
	"github.com/auth-manager/auth-manager/internal/vault"
)

// KeepAliveRun is one keep-alive configuration's figures.
type KeepAliveRun struct {
	Replicas, Workers int
	Rate              int // the shared rate (refreshes per second)
	Elapsed           time.Duration
	Refreshed, Failed int
	Calls             int // refresh grants the fake Keycloak received
	PeakPerSecond     int // the most calls that arrived within any one second
	PeakPer10s        int // … within any ten seconds
}

// RowsPerSecond is the pass's throughput.
func (r KeepAliveRun) RowsPerSecond() float64 { return float64(r.Refreshed) / r.Elapsed.Seconds() }

// fakeKeycloak answers discovery and the token endpoint of one realm after a fixed
// delay, as a Keycloak under load would, and records when each refresh grant arrived.
type fakeKeycloak struct {
	srv     *httptest.Server
	latency time.Duration
	mu      sync.Mutex
	calls   []time.Time
}

func newFakeKeycloak(latency time.Duration) *fakeKeycloak {
	f := &fakeKeycloak{latency: latency}
	mux := http.NewServeMux()
	mux.HandleFunc("/realms/bench/.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		base := f.srv.URL + "/realms/bench"
		_ = json.NewEncoder(w).Encode(map[string]any{
			"issuer": base, "authorization_endpoint": base + "/auth", "token_endpoint": base + "/token",
			"jwks_uri": base + "/certs", "introspection_endpoint": base + "/introspect", "revocation_endpoint": base + "/revoke",
			"id_token_signing_alg_values_supported": []string{"RS256"},
		})
	})
	mux.HandleFunc("/realms/bench/token", func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		f.calls = append(f.calls, time.Now())
		f.mu.Unlock()
		time.Sleep(f.latency)
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"access_token": randomToken(900), "token_type": "Bearer",
			"expires_in": 300, "refresh_token": randomToken(750), "scope": "openid offline_access"})
	})
	f.srv = httptest.NewServer(mux)
	return f
}

func (f *fakeKeycloak) issuer() string { return f.srv.URL + "/realms/bench" }

// callsBetween returns the refresh grants received in [from, to), in order.
func (f *fakeKeycloak) callsBetween(from, to time.Time) []time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []time.Time
	for _, c := range f.calls {
		if !c.Before(from) && c.Before(to) {
			out = append(out, c)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Before(out[j]) })
	return out
}

func randomToken(n int) string {
	b := make([]byte, n*3/4)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// peakPerWindow is the most times within any window w.
func peakPerWindow(times []time.Time, w time.Duration) int {
	best, j := 0, 0
	for i := range times {
		for j < len(times) && times[j].Sub(times[i]) < w {
			j++
		}
		best = max(best, j-i)
	}
	return best
}

// runKeepAlive runs replicas keep-alive jobs of workers workers each, sharing rate,
// on the database at url for d, and measures what they did.
func runKeepAlive(ctx context.Context, url string, ring *seal.Ring, fk *fakeKeycloak, replicas, workers, rate int, d time.Duration) (KeepAliveRun, error) {
	run := KeepAliveRun{Replicas: replicas, Workers: workers, Rate: rate}
	discard := slog.New(slog.DiscardHandler)
	var jobs []*keepalive.Job
	for range replicas {
		st, err := store.Open(ctx, store.Options{URL: url, MaxConns: int(workers) + 2}, discard)
		if err != nil {
			return run, err
		}
		defer st.Close()
		kc := keycloak.New(keycloak.Options{IssuerURL: fk.issuer(), ClientID: "auth-manager", ClientSecret: "bench",
			Timeout: 10 * time.Second}, discard)
		if _, err := kc.OAuth2(ctx); err != nil {
			return run, err
		}
		v := vault.New(st, ring, kc, vault.Options{Log: discard})
		jobs = append(jobs, keepalive.New(st, v, kc, keepalive.Options{Interval: time.Hour, IdleThreshold: 24 * time.Hour,
			Rate: rate, Workers: workers, Batch: 10, Retries: 0, Log: discard}))
	}
	rctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	start := time.Now()
	var mu sync.Mutex
	var wg sync.WaitGroup
	var failure error
	for _, j := range jobs {
		wg.Go(func() {
			rep, err := j.RunOnce(rctx)
			mu.Lock()
			defer mu.Unlock()
			run.Refreshed += rep.Refreshed
			run.Failed += rep.Failed
			if err != nil && !errors.Is(err, context.DeadlineExceeded) && failure == nil {
				failure = err
			}
		})
	}
	wg.Wait()
	end := time.Now()
	run.Elapsed = end.Sub(start)
	calls := fk.callsBetween(start, end)
	run.Calls, run.PeakPerSecond, run.PeakPer10s = len(calls), peakPerWindow(calls, time.Second), peakPerWindow(calls, 10*time.Second)
	if failure != nil {
		return run, fmt.Errorf("keep-alive %d×%d: %w", replicas, workers, failure)
	}
	return run, nil
}
