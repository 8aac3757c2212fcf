package httpapi

import (
	"context"
	"errors"
	"net/http"
	"strings"

	"github.com/auth-manager/auth-manager/internal/caller"
	"github.com/auth-manager/auth-manager/internal/introspect"
	"github.com/auth-manager/auth-manager/internal/reqctx"
)

// Authenticator turns a bearer token into a caller.
type Authenticator interface {
	Authenticate(ctx context.Context, token string) (caller.Caller, error)
}

// requireCaller authenticates the bearer token and puts the caller into the context.
// A missing header, another scheme or an empty token is 401 unauthorized without a
// call to Keycloak. A request whose token fails the local check counts against the
// client's failure limit, and past it is answered 429; a token that passes it is
// never limited, however many failures its address has made.
func requireCaller(auth Authenticator, limit *failureLimiter, ew errorWriter) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			token, ok := bearer(r.Header.Get("Authorization"))
			if !ok {
				limit.refused(w, r, ew, introspect.ErrUnauthorized)
				return
			}
			c, err := auth.Authenticate(r.Context(), token)
			if errors.Is(err, introspect.ErrRefusedLocally) {
				limit.refused(w, r, ew, err)
				return
			}
			if err != nil {
				ew.write(w, r, err)
				return
			}
			next.ServeHTTP(w, r.WithContext(reqctx.WithCaller(r.Context(), c)))
		})
	}
}

// bearer extracts the token of an "Authorization: Bearer <token>" header.
func bearer(h string) (string, bool) {
	scheme, token, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	token = strings.TrimSpace(token)
	return token, token != ""
}

// mustCaller returns the authenticated caller; routes.go guarantees one exists on
// every route that calls it.
func mustCaller(r *http.Request) caller.Caller {
	c, ok := reqctx.Caller(r.Context())
	if !ok {
		panic("httpapi: handler on an unauthenticated route asked for the caller")
	}
	return c
}
