package httpapi

import (
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/auth-manager/auth-manager/internal/clientip"
	"github.com/auth-manager/auth-manager/internal/reqctx"
	"github.com/auth-manager/auth-manager/internal/requestid"
)

// withRequestID takes X-Request-ID from the request when it is sane (at most 128
// characters of [A-Za-z0-9._:-]) and generates one otherwise, then echoes it. It puts
// the id and the request's client IP (res) into the context for the access log, audit
// events and rate limits.
func withRequestID(res clientip.Resolver) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			id := r.Header.Get("X-Request-Id")
			if !saneRequestID(id) {
				id = requestid.New()
			}
			w.Header().Set("X-Request-Id", id)
			ctx := reqctx.WithClientIP(reqctx.WithRequestID(r.Context(), id), res.Of(r))
			next.ServeHTTP(w, r.WithContext(ctx))
		})
	}
}

func saneRequestID(id string) bool {
	if id == "" || len(id) > 128 {
		return false
	}
	for _, c := range id {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.ContainsRune("._:-", c)) {
			return false
		}
	}
	return true
}

// statusRecorder remembers the status and size of an answer for the access log.
type statusRecorder struct {
	http.ResponseWriter
	status int
	bytes  int
}

func (s *statusRecorder) WriteHeader(code int) {
	if s.status == 0 {
		s.status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusRecorder) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	n, err := s.ResponseWriter.Write(b)
	s.bytes += n
	return n, err
}

func (s *statusRecorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }

// HTTPMetrics records answered requests.
type HTTPMetrics interface {
	ObserveHTTP(route, method string, status int, d time.Duration)
}

// hotRoutes are the routes whose successful answers AccessLogSkip thins out: the
// ones served from memory at high rates.
var hotRoutes = map[string]bool{"/v1/access-token": true, "/v1/validate-token": true}

// accessLog writes one structured line per request and feeds the request metrics. It
// logs the route pattern and path, never the query string (the consent callback
// carries a code and state there) and never a header value other than the request id.
// A fraction skip of the 2xx answers of the hot routes, chosen at random, gets no line;
// every request is still counted in the metrics.
func accessLog(log *slog.Logger, skip float64, now func() time.Time, m HTTPMetrics) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			start := now()
			rec := &statusRecorder{ResponseWriter: w}
			next.ServeHTTP(rec, r)
			if rec.status == 0 {
				rec.status = http.StatusOK
			}
			route := routePattern(r)
			took := now().Sub(start)
			if m != nil {
				m.ObserveHTTP(route, r.Method, rec.status, took)
			}
			if skip > 0 && rec.status < 300 && rec.status >= 200 && hotRoutes[route] && rand.Float64() < skip {
				return
			}
			ctx := r.Context()
			log.LogAttrs(ctx, slog.LevelInfo, "http request",
				slog.String("request_id", reqctx.RequestID(ctx)),
				slog.String("client_ip", reqctx.ClientIP(ctx)),
				slog.String("method", r.Method),
				slog.String("path", r.URL.Path),
				slog.String("route", route),
				slog.Int("status", rec.status),
				slog.Int("bytes", rec.bytes),
				slog.Float64("duration_ms", float64(took.Microseconds())/1000))
		})
	}
}

// routePattern is the chi pattern of the route r was served by. chi leaves it in
// r.Pattern when it hands r to the route's handler, which saves building it again per
// request; a wildcard or no pattern (unmatched, method not allowed, mounted
// prefixes) is worked out from the routing context, as chi does.
func routePattern(r *http.Request) string {
	if p := r.Pattern; p != "" && !strings.HasSuffix(p, "*") {
		return p
	}
	if rc := chi.RouteContext(r.Context()); rc != nil {
		if p := rc.RoutePattern(); p != "" {
			return p
		}
	}
	if strings.HasPrefix(r.URL.Path, "/v1/") {
		return "/v1/*" // no v1 route matched (or not with this method): one label for all of them
	}
	return ""
}

// securityHeaders forbids MIME sniffing on every answer: a JSON answer echoing input
// must never be taken for HTML. (JSON answers also carry Cache-Control: no-store,
// set where they are written.)
func securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header()["X-Content-Type-Options"] = noSniff // shared, never modified: no allocation per request
		next.ServeHTTP(w, r)
	})
}

var noSniff = []string{"nosniff"}

// recoverer turns a panic into the 500 envelope and logs the stack.
func recoverer(log *slog.Logger, ew errorWriter) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			defer func() {
				if v := recover(); v != nil {
					if v == http.ErrAbortHandler {
						panic(v)
					}
					log.ErrorContext(r.Context(), "panic", "request_id", reqctx.RequestID(r.Context()),
						"panic", fmt.Sprint(v), "stack", string(debug.Stack()))
					ew.write(w, r, fmt.Errorf("panic: %v", v))
				}
			}()
			next.ServeHTTP(w, r)
		})
	}
}

// CORS configures cross-origin access.
type CORS struct {
	Origins          []string // "*" allows any origin (without credentials)
	AllowCredentials bool
}

// cors answers preflights and sets Access-Control-* for allowed origins only.
func cors(c CORS) func(http.Handler) http.Handler {
	any := slices.Contains(c.Origins, "*")
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			origin := r.Header.Get("Origin")
			if origin == "" {
				next.ServeHTTP(w, r)
				return
			}
			h := w.Header()
			h.Add("Vary", "Origin")
			allowed := any || slices.Contains(c.Origins, origin)
			if allowed {
				if any && !c.AllowCredentials {
					h.Set("Access-Control-Allow-Origin", "*")
				} else {
					h.Set("Access-Control-Allow-Origin", origin)
				}
				if c.AllowCredentials {
					h.Set("Access-Control-Allow-Credentials", "true")
				}
				h.Set("Access-Control-Expose-Headers", "X-Request-ID")
			}
			if r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != "" {
				if allowed {
					h.Set("Access-Control-Allow-Methods", "GET, POST, DELETE, OPTIONS")
					h.Set("Access-Control-Allow-Headers", "Authorization, Content-Type, X-Request-ID")
					h.Set("Access-Control-Max-Age", strconv.Itoa(600))
				}
				w.WriteHeader(http.StatusNoContent)
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}

// limitBody caps every request body; decode reports the overflow as 413.
func limitBody(max int64, ew errorWriter) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.ContentLength > max {
				ew.write(w, r, &apiError{Status: http.StatusRequestEntityTooLarge,
					Code: "validation_error", Message: "Request body too large", Details: map[string]any{"body": fmt.Sprintf("at most %d bytes", max)}})
				return
			}
			if r.Body != http.NoBody { // the server's body of a request without one: nothing to cap
				r.Body = http.MaxBytesReader(w, r.Body, max)
			}
			next.ServeHTTP(w, r)
		})
	}
}
