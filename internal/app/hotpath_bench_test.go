package app_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/auth-manager/auth-manager/internal/app"
	"github.com/auth-manager/auth-manager/internal/config"
	"github.com/auth-manager/auth-manager/internal/testenv"
)

// BenchmarkHotPath drives the service's handler in-process (no sockets), so that a CPU
// profile shows the service's own work on the paths the performance objectives are about:
//
//	go test -run '^$' -bench 'HotPath/jwt/validate' -cpuprofile cpu.out ./internal/app
//
// (`make bench-profile` runs each path and prints the top of its profile.) It needs the
// local stack: a fresh database, the real Keycloak for logins, introspection and JWKS.
// The service logs at INFO as JSON to a file, as in production, so logging is counted.
// `make bench` measures the same paths over loopback, against the service-level
// objectives.
func BenchmarkHotPath(b *testing.B) {
	for _, mode := range []string{config.AuthModeIntrospect, config.AuthModeJWT} {
		b.Run(mode, func(b *testing.B) {
			h, id, service, user := startInProcess(b, mode, 10000)
			b.Run("access-token-cache-hit", func(b *testing.B) {
				benchHandler(b, h, http.MethodPost, "/v1/access-token?id="+id, service)
			})
			b.Run("validate-token", func(b *testing.B) {
				benchHandler(b, h, http.MethodGet, "/v1/validate-token", user)
			})
		})
	}
	// Without the in-memory cache: a token served from the database's copy (one query
	// and an unsealing), and the service's own CPU around a refresh (Keycloak's wait is
	// not CPU; min_ttl beyond the token's life makes every call one): row lock,
	// decryption, the token call, the update and the access token's upsert.
	b.Run("nocache", func(b *testing.B) {
		h, id, service, _ := startInProcess(b, config.AuthModeIntrospect, 0)
		b.Run("access-token-stored", func(b *testing.B) {
			benchHandler(b, h, http.MethodPost, "/v1/access-token?id="+id, service)
		})
		b.Run("access-token-refresh", func(b *testing.B) {
			benchHandler(b, h, http.MethodPost, "/v1/access-token?id="+id+"&min_ttl=3600", service)
		})
	})
}

// startInProcess wires the whole service on a fresh database, stores alice's refresh
// token through the API and fills the access-token cache (when it has one); it returns
// the handler, the row id, a service-caller token and alice's access token.
func startInProcess(b *testing.B, mode string, cacheSize int) (http.Handler, string, string, string) {
	b.Helper()
	cfg := testenv.NewServiceConfig(b)
	cfg.Auth.Mode = mode
	cfg.Tokens.CacheSize = cacheSize
	logf, err := os.Create(filepath.Join(b.TempDir(), "service.log"))
	testenv.Must(b, err, "log file")
	b.Cleanup(func() { logf.Close() })
	log := slog.New(slog.NewJSONHandler(logf, &slog.HandlerOptions{Level: slog.LevelInfo}))
	// HOTPATH_ACCESS_LOG_SAMPLE sets AUTH_MANAGER_ACCESS_LOG_SAMPLE.
	if v := os.Getenv("HOTPATH_ACCESS_LOG_SAMPLE"); v != "" {
		f, err := strconv.ParseFloat(v, 64)
		testenv.Must(b, err, "HOTPATH_ACCESS_LOG_SAMPLE")
		cfg.AccessLog.Sample = f
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	a, err := app.New(ctx, cfg, log)
	testenv.Must(b, err, "start service")
	b.Cleanup(a.Close)
	h := a.Handler

	alice := testenv.Login(b, testenv.Alice)
	body, _ := json.Marshal(map[string]string{"refresh_token": alice.RefreshToken})
	rec := serve(h, http.MethodPost, "/v1/refresh-token", alice.AccessToken, string(body))
	if rec.Code != http.StatusOK {
		b.Fatalf("store refresh token: %d %s", rec.Code, rec.Body)
	}
	var env struct {
		Data struct {
			ID string `json:"persistent_token_id"`
		} `json:"data"`
	}
	testenv.Must(b, json.Unmarshal(rec.Body.Bytes(), &env), "decode store answer")
	service := testenv.ClientToken(b, testenv.Realm, testenv.ServiceCallerClient, testenv.ServiceCallerSecret).AccessToken

	// The cache serves only once the eviction feed (LISTEN) is connected.
	deadline := time.Now().Add(15 * time.Second)
	for cacheSize > 0 && !a.Tokens.CacheStats().Healthy {
		if time.Now().After(deadline) {
			b.Fatal("access-token cache never became trusted (eviction feed not connected)")
		}
		time.Sleep(50 * time.Millisecond)
	}
	for _, path := range []string{"/v1/access-token?id=" + env.Data.ID} {
		if rec := serve(h, http.MethodPost, path, service, ""); rec.Code != http.StatusOK {
			b.Fatalf("warm %s: %d %s", path, rec.Code, rec.Body)
		}
	}
	return h, env.Data.ID, service, alice.AccessToken
}

func benchHandler(b *testing.B, h http.Handler, method, path, bearer string) {
	// One call outside the timer fills the introspection cache for this token.
	if rec := serve(h, method, path, bearer, ""); rec.Code != http.StatusOK {
		b.Fatalf("%s %s: %d %s", method, path, rec.Code, rec.Body)
	}
	b.ReportAllocs()
	cpu0 := processCPU(b)
	b.ResetTimer()
	defer func() {
		// The process's CPU time per request: unlike ns/op, it does not grow when other
		// processes take the cores (the machine is shared), and it counts the service's
		// background work (GC, the log writer), as the load harness's CPU column does.
		b.ReportMetric(float64(processCPU(b)-cpu0)/float64(b.N), "cpu-ns/op")
	}()
	b.RunParallel(func(pb *testing.PB) {
		// The request and the writer are the benchmark's, built once per goroutine, so
		// that allocs/op and B/op count the service's handler chain only (httptest's
		// request and recorder would add a dozen allocations of their own).
		req := httptest.NewRequest(method, path, nil)
		req.Header.Set("Authorization", "Bearer "+bearer)
		w := &discardWriter{h: http.Header{}}
		for pb.Next() {
			req.Body = http.NoBody // limitBody wraps the body of the request it is given
			w.reset()
			h.ServeHTTP(w, req)
			if w.code != http.StatusOK {
				b.Errorf("%s %s: %d", method, path, w.code)
				return
			}
		}
	})
}

// processCPU is the user and system CPU time this process has used.
func processCPU(b *testing.B) time.Duration {
	var ru syscall.Rusage
	testenv.Must(b, syscall.Getrusage(syscall.RUSAGE_SELF, &ru), "getrusage")
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// discardWriter is a reusable http.ResponseWriter that keeps the status and drops the
// body, as a server's connection writer would (from the handler's side).
type discardWriter struct {
	h    http.Header
	code int
	n    int
}

func (d *discardWriter) reset() {
	clear(d.h)
	d.code, d.n = 0, 0
}

func (d *discardWriter) Header() http.Header { return d.h }

func (d *discardWriter) WriteHeader(code int) {
	if d.code == 0 {
		d.code = code
	}
}

func (d *discardWriter) Write(p []byte) (int, error) {
	if d.code == 0 {
		d.code = http.StatusOK
	}
	d.n += len(p)
	return len(p), nil
}

func serve(h http.Handler, method, path, bearer, body string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+bearer)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}
