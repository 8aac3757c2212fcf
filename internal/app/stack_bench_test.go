package app_test

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"

	"github.com/go-chi/chi/v5"

	"github.com/auth-manager/auth-manager/internal/config"
)

// BenchmarkStackPerConnection reports the goroutine stack a keep-alive connection
// holds after one request (stack-B/conn): the per-connection share of the peak RSS
// that the 500-connection objective of `make bench` measures. A bare handler (baseline
// A's shape) and the service's /health stay within 4 KB; a route behind
// authentication grows the connection's goroutine to 8 KB and often 16 KB (see
// docs/BENCHMARKS.md). It needs the local stack, like BenchmarkHotPath.
func BenchmarkStackPerConnection(b *testing.B) {
	h, id, service, user := startInProcess(b, config.AuthModeIntrospect, 10000)
	hit := fmt.Sprintf("POST /v1/access-token?id=%s HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\nContent-Length: 0\r\n\r\n", id, service)
	for _, tc := range []struct {
		name string
		h    http.Handler
		req  string
	}{
		{"bare-handler", bareHandler(), hit},
		{"health", h, "GET /health HTTP/1.1\r\nHost: x\r\n\r\n"},
		{"access-token-cache-hit", h, hit},
		{"validate-token", h, fmt.Sprintf("GET /v1/validate-token HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n\r\n", user)},
	} {
		b.Run(tc.name, func(b *testing.B) {
			var perConn float64
			for b.Loop() {
				perConn = stackPerConnection(b, tc.h, tc.req, 500)
			}
			b.ReportMetric(perConn, "stack-B/conn")
		})
	}
}

// stackPerConnection opens n connections to h, sends req once on each and returns the
// growth of the process's goroutine stacks per connection (no GC in between, which
// would shrink them).
func stackPerConnection(b *testing.B, h http.Handler, req string, n int) float64 {
	srv := httptest.NewServer(h)
	defer srv.Close()
	conns := make([]net.Conn, n)
	for i := range conns {
		c, err := net.Dial("tcp", srv.Listener.Addr().String())
		if err != nil {
			b.Fatal(err)
		}
		defer c.Close()
		conns[i] = c
	}
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for _, c := range conns {
		if _, err := fmt.Fprint(c, req); err != nil {
			b.Fatal(err)
		}
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			b.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			b.Fatalf("%q: status %d", req[:30], resp.StatusCode)
		}
	}
	runtime.ReadMemStats(&after)
	return float64(after.StackInuse-before.StackInuse) / float64(n)
}

// bareHandler is baseline A's shape: a chi router with no middleware answering a fixed
// JSON body of an access token's size to any request under /v1/.
func bareHandler() http.Handler {
	body := []byte(`{"data":{"access_token":"` + strings.Repeat("x", 1200) + `","expires_in":300,"token_type":"Bearer"}}` + "\n")
	r := chi.NewRouter()
	r.HandleFunc("/v1/*", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(body)
	})
	return r
}
