package backchannel

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/go-jose/go-jose/v4"

	"github.com/auth-manager/auth-manager/internal/keycloak"
	"github.com/auth-manager/auth-manager/internal/problem"
)

// BackchannelLogoutEvent is the member of a logout token's events claim that makes it
// a logout token (OpenID Connect Back-Channel Logout 1.0, section 2.4).
const BackchannelLogoutEvent = "http://schemas.openid.net/event/backchannel-logout"

// Freshness bounds of a logout token. Keycloak issues them with exp = iat + 120 s and
// delivers them at once, so an older iat means a token kept and replayed.
const (
	maxLogoutTokenAge = 5 * time.Minute
	clockSkew         = 30 * time.Second
	maxLogoutTokenLen = 16 << 10
	maxClaimLen       = 256
)

// signingAlgs are the algorithms a logout token may be signed with: asymmetric only,
// so that a public key can never double as an HMAC secret.
var signingAlgs = []string{oidc.RS256, oidc.RS384, oidc.RS512, oidc.PS256, oidc.PS384, oidc.PS512,
	oidc.ES256, oidc.ES384, oidc.ES512, oidc.EdDSA}

// ErrInvalidLogoutToken means a back-channel logout request must be refused with 400
// invalid_request. badToken refines it with the reason: missing, malformed,
// wrong_type, invalid_signature, wrong_issuer, wrong_audience, expired, stale,
// not_logout, nonce, no_subject, no_jti or replayed. The reason is safe to show.
var ErrInvalidLogoutToken = problem.New(http.StatusBadRequest, "invalid_request", "Invalid logout token")

func badToken(reason string) error { return ErrInvalidLogoutToken.With(reason, nil) }

// ErrUnverified is also in the chain of every refusal made before the token's
// signature verified against the realm's keys (reasons missing, malformed, wrong_type,
// invalid_signature): nothing such a token says can be believed, not even whom it
// names. A token whose signature verifies is never refused with it.
var ErrUnverified = ErrInvalidLogoutToken.With("", nil)

func unverified(reason string) error { return ErrUnverified.With(reason, nil) }

// LogoutToken is a verified logout token.
type LogoutToken struct {
	Subject   string // sub; "" when only sid was given
	SessionID string // sid; "" when only sub was given
	JTI       string
	IssuedAt  time.Time
	// RetainUntil is how long the jti must be remembered: after it the token fails the
	// freshness check anyway.
	RetainUntil time.Time
	// RevokeOffline is Keycloak's revoke_offline_access: the client is configured to
	// have offline tokens revoked with the session.
	RevokeOffline bool
}

// Verifier checks logout tokens. Safe for concurrent use.
type Verifier struct {
	// verifier returns go-oidc's verifier for the realm's JWKS (fetched and cached by
	// go-oidc); only its signature check is used, the claims are checked here.
	verifier func(ctx context.Context) (*oidc.IDTokenVerifier, error)
	issuer   string
	clientID string
	now      func() time.Time
}

// verifierConfig makes go-oidc check the signature only; the claims are checked here,
// with reasons the caller can be told.
var verifierConfig = &oidc.Config{SkipClientIDCheck: true, SkipExpiryCheck: true, SkipIssuerCheck: true,
	SupportedSigningAlgs: signingAlgs}

// Provider is the source of the realm's discovery document and JWKS (the Keycloak client).
type Provider interface {
	Provider(ctx context.Context) (*oidc.Provider, error)
}

// NewVerifier returns a verifier of logout tokens issued by issuer for clientID, whose
// signatures are checked against the realm's JWKS as go-oidc fetches and caches it for
// kc's provider.
func NewVerifier(kc Provider, issuer, clientID string, now func() time.Time) *Verifier {
	return newVerifier(func(ctx context.Context) (*oidc.IDTokenVerifier, error) {
		p, err := kc.Provider(ctx)
		if err != nil {
			return nil, err
		}
		return p.Verifier(verifierConfig), nil
	}, issuer, clientID, now)
}

// NewVerifierWithKeys returns a verifier whose signatures are checked against a fixed
// key set (tests, or a realm whose keys are pinned).
func NewVerifierWithKeys(keys oidc.KeySet, issuer, clientID string, now func() time.Time) *Verifier {
	v := oidc.NewVerifier(issuer, keys, verifierConfig)
	return newVerifier(func(context.Context) (*oidc.IDTokenVerifier, error) { return v, nil }, issuer, clientID, now)
}

func newVerifier(f func(ctx context.Context) (*oidc.IDTokenVerifier, error), issuer, clientID string, now func() time.Time) *Verifier {
	if now == nil {
		now = time.Now
	}
	return &Verifier{verifier: f, issuer: issuer, clientID: clientID, now: now}
}

// Verify checks raw as a logout token for this service (Back-Channel Logout 1.0,
// section 2.6): header type, signature against the realm's keys, issuer, audience,
// iat (and exp when present) fresh, the back-channel logout event, no nonce, a sub or
// sid, and a jti. Whether the jti was seen before is the caller's check. A token that
// fails is an ErrInvalidLogoutToken, and also ErrUnverified when it failed before its
// signature verified; a key set that cannot be fetched is keycloak.ErrUnavailable.
func (v *Verifier) Verify(ctx context.Context, raw string) (LogoutToken, error) {
	if raw == "" {
		return LogoutToken{}, unverified("missing")
	}
	if err := checkHeader(raw); err != nil {
		return LogoutToken{}, err
	}
	ov, err := v.verifier(ctx)
	if err != nil {
		return LogoutToken{}, err
	}
	idt, err := ov.Verify(ctx, raw)
	if err != nil {
		if strings.Contains(err.Error(), "fetching keys") {
			// The token's key is not among the cached ones and the JWKS could not be
			// fetched: the token cannot be judged, Keycloak is unavailable.
			return LogoutToken{}, fmt.Errorf("%w: jwks: %v", keycloak.ErrUnavailable, err)
		}
		return LogoutToken{}, unverified("invalid_signature")
	}
	var payload json.RawMessage
	if err := idt.Claims(&payload); err != nil {
		return LogoutToken{}, badToken("malformed")
	}
	return checkClaims(payload, v.issuer, v.clientID, v.now())
}

// checkHeader parses the compact JWS header: exactly one signature with an allowed
// algorithm, and, when a typ is given, the logout token's own type (so that an ID
// token, typ JWT, is never taken for one).
func checkHeader(raw string) error {
	if len(raw) > maxLogoutTokenLen {
		return unverified("malformed")
	}
	algs := make([]jose.SignatureAlgorithm, 0, len(signingAlgs))
	for _, a := range signingAlgs {
		algs = append(algs, jose.SignatureAlgorithm(a))
	}
	jws, err := jose.ParseSigned(raw, algs)
	if err != nil || len(jws.Signatures) != 1 {
		return unverified("malformed")
	}
	typ, _ := jws.Signatures[0].Protected.ExtraHeaders[jose.HeaderType].(string)
	switch strings.ToLower(typ) {
	case "", "logout+jwt", "application/logout+jwt":
		return nil
	}
	return unverified("wrong_type")
}

// logoutClaims are the claims section 2.4 defines. Members are raw so that a claim of
// the wrong JSON type is refused rather than read as empty.
type logoutClaims struct {
	Issuer   json.RawMessage            `json:"iss"`
	Audience json.RawMessage            `json:"aud"`
	IssuedAt json.RawMessage            `json:"iat"`
	Expiry   json.RawMessage            `json:"exp"`
	JTI      json.RawMessage            `json:"jti"`
	Subject  json.RawMessage            `json:"sub"`
	Session  json.RawMessage            `json:"sid"`
	Events   map[string]json.RawMessage `json:"events"`
	Nonce    json.RawMessage            `json:"nonce"`
	Revoke   json.RawMessage            `json:"revoke_offline_access"`
}

// checkClaims validates a logout token's verified payload at now.
func checkClaims(payload []byte, issuer, clientID string, now time.Time) (LogoutToken, error) {
	var c logoutClaims
	if err := json.Unmarshal(payload, &c); err != nil {
		return LogoutToken{}, badToken("malformed")
	}
	iss, ok := str(c.Issuer)
	if !ok || iss != issuer {
		return LogoutToken{}, badToken("wrong_issuer")
	}
	if !audienceHas(c.Audience, clientID) {
		return LogoutToken{}, badToken("wrong_audience")
	}
	iat, ok := numericDate(c.IssuedAt)
	if !ok {
		return LogoutToken{}, badToken("malformed")
	}
	if iat.Before(now.Add(-maxLogoutTokenAge)) || iat.After(now.Add(clockSkew)) {
		return LogoutToken{}, badToken("stale")
	}
	if c.Expiry != nil {
		exp, ok := numericDate(c.Expiry)
		if !ok {
			return LogoutToken{}, badToken("malformed")
		}
		if !exp.After(now.Add(-clockSkew)) {
			return LogoutToken{}, badToken("expired")
		}
	}
	ev, ok := c.Events[BackchannelLogoutEvent]
	if !ok || !isObject(ev) {
		return LogoutToken{}, badToken("not_logout")
	}
	if c.Nonce != nil {
		return LogoutToken{}, badToken("nonce")
	}
	t := LogoutToken{IssuedAt: iat, RetainUntil: iat.Add(maxLogoutTokenAge + clockSkew)}
	if t.JTI, ok = str(c.JTI); !ok || t.JTI == "" || len(t.JTI) > maxClaimLen {
		return LogoutToken{}, badToken("no_jti")
	}
	sub, subOK := optionalStr(c.Subject)
	sid, sidOK := optionalStr(c.Session)
	if !subOK || !sidOK || (sub == "" && sid == "") || len(sub) > maxClaimLen || len(sid) > maxClaimLen {
		return LogoutToken{}, badToken("no_subject")
	}
	t.Subject, t.SessionID = sub, sid
	// Keycloak puts revoke_offline_access among the events; accept it as a claim too.
	t.RevokeOffline = isTrue(c.Events["revoke_offline_access"]) || isTrue(c.Revoke)
	return t, nil
}

func str(raw json.RawMessage) (string, bool) {
	var s string
	if raw == nil || json.Unmarshal(raw, &s) != nil {
		return "", false
	}
	return s, true
}

// optionalStr accepts an absent claim as "" and refuses one that is not a string.
func optionalStr(raw json.RawMessage) (string, bool) {
	if raw == nil {
		return "", true
	}
	return str(raw)
}

func audienceHas(raw json.RawMessage, clientID string) bool {
	var aud keycloak.Audience
	if raw == nil || json.Unmarshal(raw, &aud) != nil {
		return false
	}
	for _, a := range aud {
		if a == clientID {
			return true
		}
	}
	return false
}

func numericDate(raw json.RawMessage) (time.Time, bool) {
	var f float64
	if raw == nil || json.Unmarshal(raw, &f) != nil || f < 0 || f > 1e11 {
		return time.Time{}, false
	}
	return time.Unix(int64(f), 0), true
}

func isObject(raw json.RawMessage) bool {
	var m map[string]json.RawMessage
	return json.Unmarshal(raw, &m) == nil && m != nil
}

func isTrue(raw json.RawMessage) bool {
	var b bool
	return raw != nil && json.Unmarshal(raw, &b) == nil && b
}
