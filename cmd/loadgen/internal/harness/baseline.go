package harness

import (
	"context"
	"errors"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"
)

// BaselinePath is the route baseline A serves.
const BaselinePath = "/v1/baseline"

// baselineBody is baseline A's fixed answer: shaped and sized like an access-token
// answer (a Keycloak access token of the dev realm is about 1.2 KB), so that the
// ceiling it sets for the cached path moves the same bytes.
var baselineBody = []byte(`{"data":{"access_token":"` + strings.Repeat("x", 1200) +
	`","expires_in":300,"token_type":"Bearer","scope":"openid profile email"}}` + "\n")

// BaselineHandler is baseline A: a bare chi router with one handler writing a fixed
// JSON body with the service's content headers, and nothing else (no middleware).
func BaselineHandler() http.Handler {
	r := chi.NewRouter()
	r.Get(BaselinePath, func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		_, _ = w.Write(baselineBody)
	})
	// Baseline A′: any request under /v1/ (the service's paths) gets the same answer.
	r.HandleFunc("/v1/*", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		_, _ = w.Write(baselineBody)
	})
	r.Get("/health", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte(`"OK"`)) })
	return r
}

// ServeBaseline serves baseline A on addr until ctx ends, with the service's server
// timeouts, so that it differs from the service only in what the handler does.
func ServeBaseline(ctx context.Context, addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: BaselineHandler(), ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout: 15 * time.Second, WriteTimeout: 30 * time.Second, IdleTimeout: 120 * time.Second,
		MaxHeaderBytes: 32 << 10}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return err
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
