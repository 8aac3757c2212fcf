package introspect

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/auth-manager/auth-manager/internal/keycloak"
	"github.com/auth-manager/auth-manager/internal/keyset"
)

// clockSkew is the tolerance for a token's nbf and iat lying in our future.
const clockSkew = 30 * time.Second

// tokenClaims are an access token's claims as the local check reads them.
type tokenClaims struct {
	keycloak.Claims
	NotBefore int64 `json:"nbf"`
}

// precheck is the local check every bearer token passes before anything else: compact
// JWS shape, signature against the realm's keys in a pinned algorithm, issuer, type
// Bearer (not an ID or refresh token), a subject, exp in the future, nbf and iat not.
// It costs no Keycloak call, except the key set's bounded fetch for an unknown key id.
// Its refusals are ErrRefusedLocally as well as ErrUnauthorized or ErrNotActive.
func (a *Authenticator) precheck(ctx context.Context, token string, now time.Time) (keycloak.Claims, error) {
	if !looksLikeJWT(token) {
		return keycloak.Claims{}, errNotJWT
	}
	payload, err := a.keys.VerifySignature(ctx, token)
	if errors.Is(err, keyset.ErrUnavailable) {
		return keycloak.Claims{}, fmt.Errorf("%w: %v", keycloak.ErrUnavailable, err)
	}
	if err != nil {
		return keycloak.Claims{}, refused(ErrUnauthorized, err.Error())
	}
	var tc tokenClaims
	if err := json.Unmarshal(payload, &tc); err != nil {
		return keycloak.Claims{}, refused(ErrUnauthorized, "claims: "+err.Error())
	}
	cl := tc.Claims
	cl.Active = false // only Keycloak's introspection answer or this check may say so
	switch {
	case cl.Issuer != a.opt.Issuer:
		return keycloak.Claims{}, refused(ErrUnauthorized, "issuer")
	case cl.Type != "Bearer":
		return keycloak.Claims{}, refused(ErrUnauthorized, "not an access token")
	case cl.Subject == "" || cl.Expiry <= 0:
		return keycloak.Claims{}, refused(ErrUnauthorized, "no sub or exp")
	case !now.Before(time.Unix(cl.Expiry, 0)):
		return keycloak.Claims{}, refused(ErrNotActive, "expired")
	case tc.NotBefore > now.Add(clockSkew).Unix(), cl.IssuedAt > now.Add(clockSkew).Unix():
		return keycloak.Claims{}, refused(ErrUnauthorized, "not yet valid")
	}
	return cl, nil
}

// refused is a refusal of the local check: err (ErrUnauthorized or ErrNotActive) and
// ErrRefusedLocally, with what failed.
func refused(err error, what string) error {
	return fmt.Errorf("%w: %w: %s", err, ErrRefusedLocally, what)
}

// errNotJWT is the refusal of a token that is not JWT-shaped, built once: a flood of
// garbage tokens allocates nothing for it.
var errNotJWT = refused(ErrUnauthorized, "not a compact JWS")

// looksLikeJWT checks the compact JWS shape: three base64url segments, bounded size.
func looksLikeJWT(t string) bool {
	if len(t) < 20 || len(t) > keyset.MaxTokenLen {
		return false
	}
	dots := 0
	for i := 0; i < len(t); i++ {
		switch jwtChar[t[i]] {
		case 0:
			return false
		case '.':
			dots++
		}
	}
	return dots == 2
}

// jwtChar maps the bytes of a compact JWS to non-zero ('.' for the separator): one
// table load per byte, as this runs over every bearer token of every request.
var jwtChar = func() (t [256]byte) {
	for c := range 256 {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '-', c == '_':
			t[c] = 1
		case c == '.':
			t[c] = '.'
		}
	}
	return t
}()
