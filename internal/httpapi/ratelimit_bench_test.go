package httpapi

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/auth-manager/auth-manager/internal/backchannel"
	"github.com/auth-manager/auth-manager/internal/introspect"
	"github.com/auth-manager/auth-manager/internal/keyset"
)

// BenchmarkGarbageOverTheLimit is what a request from a client over its failure limit
// costs the service, by surface and by what it carries: not JWT-shaped, or a JWT under
// the realm's key id with a signature that does not verify (RS256, 2048 bits: one
// signature check). Every answer is 429.
func BenchmarkGarbageOverTheLimit(b *testing.B) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		b.Fatal(err)
	}
	const issuer, kid = "http://127.0.0.1:8080/realms/bench", "realm-key"
	keys := keyset.New(func(context.Context) (jose.JSONWebKeySet, error) {
		return jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: key.Public(), KeyID: kid, Algorithm: "RS256", Use: "sig"}}}, nil
	}, keyset.Options{Algs: []string{"RS256"}, MinRefresh: time.Hour})
	if err := keys.Prefetch(context.Background()); err != nil {
		b.Fatal(err)
	}
	auth := introspect.New(nil, keys, introspect.Options{Mode: introspect.ModeJWT, Issuer: issuer, CacheTTL: time.Minute})
	receiver := backchannel.New(nil, nil, nil, nil, backchannel.NewVerifierWithKeys(keys, issuer, "auth-manager", nil), backchannel.Options{})
	h := NewHandler(Deps{Log: slog.New(slog.NewJSONHandler(io.Discard, nil)),
		Auth: auth, Backchannel: receiver, MaxBodyBytes: 64 << 10, Edge: Edge{RateLimit: 1, Window: time.Hour}})

	enc := base64.RawURLEncoding.EncodeToString
	sig := make([]byte, 256)
	_, _ = rand.Read(sig)
	forged := func(typ, claims string) string {
		return enc([]byte(`{"alg":"RS256","typ":"`+typ+`","kid":"`+kid+`"}`)) + "." + enc([]byte(claims)) + "." + enc(sig)
	}
	bearer := forged("JWT", `{"iss":"`+issuer+`","typ":"Bearer","sub":"u","exp":4102444800}`)
	logout := forged("logout+jwt", `{"iss":"`+issuer+`","aud":"auth-manager","sub":"u","iat":1800000000,"jti":"j"}`)
	garbage := strings.Repeat("garbage-", 100)

	validate := func(tok string) func() *http.Request {
		return func() *http.Request {
			r := httptest.NewRequest(http.MethodGet, "/v1/validate-token", nil)
			r.Header.Set("Authorization", "Bearer "+tok)
			return r
		}
	}
	logoutReq := func(tok string) func() *http.Request {
		body := url.Values{"logout_token": {tok}}.Encode()
		return func() *http.Request {
			r := httptest.NewRequest(http.MethodPost, "/v1/backchannel-logout", strings.NewReader(body))
			r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			return r
		}
	}
	for _, bc := range []struct {
		name string
		req  func() *http.Request
	}{
		{"bearer/not-a-jwt", validate(garbage)},
		{"bearer/forged-jwt", validate(bearer)},
		{"logout/not-a-jwt", logoutReq(garbage)},
		{"logout/forged-jwt", logoutReq(logout)},
	} {
		b.Run(bc.name, func(b *testing.B) {
			w := httptest.NewRecorder()
			h.ServeHTTP(w, bc.req()) // the one failure the limit allows
			for b.Loop() {
				w := httptest.NewRecorder()
				h.ServeHTTP(w, bc.req())
				if w.Code != http.StatusTooManyRequests {
					b.Fatalf("answered %d", w.Code)
				}
			}
		})
	}
}
