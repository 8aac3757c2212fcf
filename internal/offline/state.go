package offline

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

// The state token's issuer and audience keep it from being mistaken for (or replaced
// by) any other HS256 token signed with the same secret.
const (
	stateIssuer   = "auth-manager"
	stateAudience = "auth-manager/offline-consent"
	// maxStateLen bounds what is parsed from an unauthenticated request.
	maxStateLen = 2048
)

// stateClaims are the state's own claims next to the registered ones (sub = user,
// jti = the pending consent's id).
type stateClaims struct {
	SessionID string `json:"sid"`
}

// issuedState is what a state names once its signature has been checked.
type issuedState struct {
	ID        string
	UserID    string
	SessionID string
	claims    jwt.Claims
}

// signState returns the compact HS256 JWT naming the pending consent id, the user and
// the session, valid from now until now+StateExpiry.
func (s *Service) signState(id, userID, sid string, now time.Time) (string, error) {
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.HS256, Key: s.opt.StateSecret},
		(&jose.SignerOptions{}).WithType("JWT"))
	if err != nil {
		return "", fmt.Errorf("offline: state signer: %w", err)
	}
	std := jwt.Claims{Issuer: stateIssuer, Audience: jwt.Audience{stateAudience}, Subject: userID, ID: id,
		IssuedAt: jwt.NewNumericDate(now), NotBefore: jwt.NewNumericDate(now),
		Expiry: jwt.NewNumericDate(now.Add(s.opt.StateExpiry))}
	return jwt.Signed(signer).Claims(std).Claims(stateClaims{SessionID: sid}).Serialize()
}

// parseState checks the state's form and signature (HS256 only) and returns what it
// names. Expiry is checked separately by validState, after the pending consent has been
// taken, so that even an expired state is used up.
func (s *Service) parseState(raw string) (issuedState, error) {
	if raw == "" {
		return issuedState{}, badState("missing")
	}
	if len(raw) > maxStateLen {
		return issuedState{}, badState("malformed")
	}
	tok, err := jwt.ParseSigned(raw, []jose.SignatureAlgorithm{jose.HS256})
	if err != nil {
		return issuedState{}, badState("malformed")
	}
	var std jwt.Claims
	var own stateClaims
	if err := tok.Claims(s.opt.StateSecret, &std, &own); err != nil {
		return issuedState{}, badState("malformed")
	}
	if std.ID == "" || std.Subject == "" || own.SessionID == "" {
		return issuedState{}, badState("malformed")
	}
	return issuedState{ID: std.ID, UserID: std.Subject, SessionID: own.SessionID, claims: std}, nil
}

// validState checks the state's issuer, audience and lifetime at now.
func validState(st issuedState, now time.Time) error {
	err := st.claims.ValidateWithLeeway(jwt.Expected{Issuer: stateIssuer,
		AnyAudience: jwt.Audience{stateAudience}, Time: now}, 0)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, jwt.ErrExpired):
		return badState("expired")
	}
	return badState("malformed")
}

// randomID returns n random bytes, base64url without padding.
func randomID(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (it panics on a broken system)
	return base64.RawURLEncoding.EncodeToString(b)
}

// tokenClaims are the fields read from a refresh/offline token Keycloak just handed
// over. They are decoded without verification: Keycloak signs refresh tokens with a
// realm-internal key, and the token came straight from its token endpoint over the
// service's own authenticated call.
type tokenClaims struct {
	Type      string `json:"typ"`
	Subject   string `json:"sub"`
	SessionID string `json:"sid"`
	Azp       string `json:"azp"`
}

func peek(token string) (tokenClaims, error) {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return tokenClaims{}, errors.New("offline: not a JWT")
	}
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return tokenClaims{}, errors.New("offline: not a JWT")
	}
	var c tokenClaims
	if err := json.Unmarshal(raw, &c); err != nil {
		return tokenClaims{}, errors.New("offline: not a JWT")
	}
	return c, nil
}
