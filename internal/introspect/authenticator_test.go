package introspect

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/auth-manager/auth-manager/internal/keycloak"
)

func TestLooksLikeJWT(t *testing.T) {
	for tok, want := range map[string]bool{
		"aaaaaaaaaa.bbbbbbbbbb.cccccccccc":          true,
		"eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln": true,
		"":                                  false,
		"short":                             false,
		"aaaaaaaaaa.bbbbbbbbbb":             false,
		"aaaaaaaaaa.bbbbbbbbbb.cccc.dddddd": false,
		"aaaaaaaaaa.bbbbbbbbbb.cccccccc=":   false,
		"aaaaaaaaaa.bbbb bbbbb.cccccccccc":  false,
		strings.Repeat("a", 20<<10) + "..":  false,
	} {
		assert.Equal(t, want, looksLikeJWT(tok), tok)
	}
}

func newAuth(kc Keycloak, mode string, now *time.Time, adjust ...func(*Options)) (*Authenticator, *testKeys) {
	return newAuthWith(kc, mode, now, nil, adjust...)
}

func newAuthWith(kc Keycloak, mode string, now *time.Time, ended EndedSessions, adjust ...func(*Options)) (*Authenticator, *testKeys) {
	clock := func() time.Time { return *now }
	keys := newTestKeys(clock)
	opt := Options{Mode: mode, Issuer: testIssuer, ServiceRole: "svc", CacheTTL: 30 * time.Second, Ended: ended, Now: clock}
	for _, f := range adjust {
		f(&opt)
	}
	return New(kc, keys, opt), keys
}

func TestIntrospectionCache(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	kc := &fakeKeycloak{claims: active(now)}
	a, _ := newAuth(kc, ModeIntrospect, &now)
	tok := sign(t, claimsAt(now))

	c, err := a.Authenticate(context.Background(), tok)
	require.NoError(t, err)
	assert.Equal(t, "u1", c.Subject)
	_, err = a.Authenticate(context.Background(), tok)
	require.NoError(t, err)
	assert.EqualValues(t, 1, kc.calls.Load(), "second call served from the cache")

	now = now.Add(61 * time.Second) // past the token's exp, before the TTL
	_, err = a.Authenticate(context.Background(), tok)
	assert.ErrorIs(t, err, ErrNotActive)
	assert.EqualValues(t, 1, kc.calls.Load(), "an expired token is refused locally; the cache never outlives it")
}

// TestInactiveAnswersAreCached: Keycloak is asked once about a revoked token.
func TestInactiveAnswersAreCached(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	kc := &fakeKeycloak{claims: keycloak.Claims{Active: false}}
	a, _ := newAuth(kc, ModeIntrospect, &now)
	tok := sign(t, claimsAt(now))
	for range 5 {
		_, err := a.Authenticate(context.Background(), tok)
		assert.ErrorIs(t, err, ErrNotActive)
	}
	assert.EqualValues(t, 1, kc.calls.Load())
	now = now.Add(31 * time.Second)
	_, err := a.Authenticate(context.Background(), tok)
	assert.ErrorIs(t, err, ErrNotActive)
	assert.EqualValues(t, 2, kc.calls.Load(), "after the TTL Keycloak is asked again")
}

// TestLocalCheckRefusesWithoutKeycloak: tokens failing the local check cost no
// introspection and, under a known key id, no key-set fetch beyond the first.
func TestLocalCheckRefusesWithoutKeycloak(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	otherRSA, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	ec, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	with := func(f func(map[string]any)) map[string]any { c := claimsAt(now); f(c); return c }
	cases := map[string]struct {
		tok  string
		want error
	}{
		"not a JWT":             {"not a jwt", ErrUnauthorized},
		"garbage segments":      {"aaaaaaaaaa.bbbbbbbbbb.cccccccccc", ErrUnauthorized},
		"alg none":              {"eyJhbGciOiJub25lIn0.eyJzdWIiOiJ1MSJ9.", ErrUnauthorized},
		"HS256 with the kid":    {signWith(t, []byte("0123456789abcdef0123456789abcdef"), jose.HS256, testKID, claimsAt(now)), ErrUnauthorized},
		"other key, same kid":   {signWith(t, otherRSA, jose.RS256, testKID, claimsAt(now)), ErrUnauthorized},
		"EC key, same kid":      {signWith(t, ec, jose.ES256, testKID, claimsAt(now)), ErrUnauthorized},
		"RS384 (not pinned)":    {signWith(t, testKey, jose.RS384, testKID, claimsAt(now)), ErrUnauthorized},
		"wrong issuer":          {sign(t, with(func(c map[string]any) { c["iss"] = "http://evil/realms/test" })), ErrUnauthorized},
		"ID token":              {sign(t, with(func(c map[string]any) { c["typ"] = "ID" })), ErrUnauthorized},
		"refresh token":         {sign(t, with(func(c map[string]any) { c["typ"] = "Refresh" })), ErrUnauthorized},
		"no subject":            {sign(t, with(func(c map[string]any) { delete(c, "sub") })), ErrUnauthorized},
		"no exp":                {sign(t, with(func(c map[string]any) { delete(c, "exp") })), ErrUnauthorized},
		"expired":               {sign(t, with(func(c map[string]any) { c["exp"] = now.Add(-time.Second).Unix() })), ErrNotActive},
		"not yet valid":         {sign(t, with(func(c map[string]any) { c["nbf"] = now.Add(time.Hour).Unix() })), ErrUnauthorized},
		"issued in the future":  {sign(t, with(func(c map[string]any) { c["iat"] = now.Add(time.Hour).Unix() })), ErrUnauthorized},
		"exp of the wrong type": {sign(t, with(func(c map[string]any) { c["exp"] = "tomorrow" })), ErrUnauthorized},
	}
	for _, mode := range []string{ModeIntrospect, ModeJWT} {
		kc := &fakeKeycloak{claims: active(now)}
		a, keys := newAuth(kc, mode, &now)
		for name, tc := range cases {
			_, err := a.Authenticate(context.Background(), tc.tok)
			assert.ErrorIs(t, err, tc.want, "%s: %s", mode, name)
			assert.ErrorIs(t, err, ErrRefusedLocally, "%s: %s", mode, name)
		}
		assert.Zero(t, kc.calls.Load(), mode+": no introspection")
		assert.LessOrEqual(t, keys.fetches.Load(), int64(1), mode+": at most the first key-set fetch")
	}
}

func TestUnknownKeyIDFetchesAtMostOncePerInterval(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	kc := &fakeKeycloak{claims: active(now)}
	a, keys := newAuth(kc, ModeIntrospect, &now)
	for i := range 50 {
		_, err := a.Authenticate(context.Background(), signWith(t, testKey, jose.RS256, "kid-"+string(rune('a'+i%26)), claimsAt(now)))
		assert.ErrorIs(t, err, ErrUnauthorized)
	}
	assert.EqualValues(t, 1, keys.fetches.Load())
	now = now.Add(time.Hour)
	_, err := a.Authenticate(context.Background(), signWith(t, testKey, jose.RS256, "kid-new", claimsAt(now)))
	assert.ErrorIs(t, err, ErrUnauthorized)
	assert.EqualValues(t, 2, keys.fetches.Load(), "one more after the interval")
	assert.Zero(t, kc.calls.Load())
}

func TestIntrospectionOutcomes(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	cases := []struct {
		name   string
		claims keycloak.Claims
		err    error
		want   error
	}{
		{"inactive", keycloak.Claims{Active: false}, nil, ErrNotActive},
		{"refresh token", keycloak.Claims{Active: true, Subject: "u", Type: "Refresh"}, nil, ErrUnauthorized},
		{"no subject", keycloak.Claims{Active: true, Type: "Bearer"}, nil, ErrUnauthorized},
		{"keycloak 400", keycloak.Claims{}, &keycloak.Error{Status: 400, Code: "invalid_request"}, ErrUnauthorized},
		{"keycloak down", keycloak.Claims{}, keycloak.ErrUnavailable, keycloak.ErrUnavailable},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a, _ := newAuth(&fakeKeycloak{claims: tc.claims, err: tc.err}, ModeIntrospect, &now)
			_, err := a.Authenticate(context.Background(), sign(t, claimsAt(now)))
			assert.ErrorIs(t, err, tc.want)
			assert.NotErrorIs(t, err, ErrRefusedLocally, "the token passed the local check")
		})
	}
}

// TestServiceCallers: the service role makes a service caller only on a token issued
// to a client named in ServiceClients.
func TestServiceCallers(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	type roles = map[string]struct {
		Roles []string `json:"roles"`
	}
	realmRole := active(now)
	realmRole.RealmAccess.Roles = []string{"svc"}
	clientRole := active(now)
	clientRole.ResourceAccess = roles{"auth-manager": {Roles: []string{"svc"}}}
	otherClientsRole := active(now)
	otherClientsRole.ResourceAccess = roles{"other": {Roles: []string{"svc"}}}
	for name, tc := range map[string]struct {
		cl      keycloak.Claims
		clients []string
		want    bool
	}{
		"realm role, listed client":     {realmRole, []string{"app"}, true},
		"client role, listed client":    {clientRole, []string{"other", "app"}, true},
		"realm role, unlisted client":   {realmRole, []string{"other"}, false},
		"realm role, no service client": {realmRole, nil, false},
		"role of another client":        {otherClientsRole, []string{"app"}, false},
	} {
		a, _ := newAuth(&fakeKeycloak{claims: tc.cl}, ModeIntrospect, &now, func(o *Options) {
			o.ClientID, o.ServiceClients = "auth-manager", tc.clients
		})
		c, err := a.Authenticate(context.Background(), sign(t, claimsAt(now)))
		require.NoError(t, err, name)
		assert.Equal(t, tc.want, c.Service, name)
	}
}

// TestAllowedClientsInBothModes: AUTH_MANAGER_ALLOWED_CLIENTS is matched against the
// client the token was issued to (azp), never its audience: a token of client "app"
// whose aud names an allowed client is still refused.
func TestAllowedClientsInBothModes(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	for _, mode := range []string{ModeIntrospect, ModeJWT} {
		for allowed, ok := range map[string]bool{"app": true, "other": false, "billing": false} {
			claims := claimsAt(now)
			claims["aud"] = []string{"billing", "account"}
			introspected := active(now)
			introspected.Audience = []string{"billing", "account"}
			a, _ := newAuth(&fakeKeycloak{claims: introspected}, mode, &now, func(o *Options) { o.AllowedClients = []string{allowed} })
			_, err := a.Authenticate(context.Background(), sign(t, claims))
			if ok {
				assert.NoError(t, err, "%s, allowed %s", mode, allowed)
			} else {
				assert.ErrorIs(t, err, ErrUnauthorized, "%s, allowed %s", mode, allowed)
				assert.NotErrorIs(t, err, ErrRefusedLocally, "signed by the realm: %s", mode)
			}
		}
	}
}

// fakeEnded is an EndedSessions whose answers the test sets; it records what it was asked.
type fakeEnded struct {
	loaded, current bool
	ended           map[string]bool // session id → ended
	asked           []endedQuestion
}

type endedQuestion struct {
	sid, client, subject string
	issuedAt             time.Time
	offline              bool
}

func (f *fakeEnded) Ended(sid, clientID, subject string, issuedAt time.Time, offline bool) bool {
	f.asked = append(f.asked, endedQuestion{sid, clientID, subject, issuedAt, offline})
	return f.ended[sid]
}
func (f *fakeEnded) Loaded() bool  { return f.loaded }
func (f *fakeEnded) Current() bool { return f.current }

// TestEndedSessionsAreRefusedAtOnce: cached or not, in both modes, a token whose
// session ended is refused; the question names the token's session, client, subject,
// issue time and whether it is of an offline session.
func TestEndedSessionsAreRefusedAtOnce(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	for _, mode := range []string{ModeIntrospect, ModeJWT} {
		ended := &fakeEnded{loaded: true, current: true, ended: map[string]bool{}}
		kc := &fakeKeycloak{claims: active(now)}
		kc.claims.IssuedAt = now.Unix()
		a, _ := newAuthWith(kc, mode, &now, ended)
		tok := sign(t, claimsAt(now))
		_, err := a.Authenticate(context.Background(), tok)
		require.NoError(t, err, mode)
		_, err = a.Authenticate(context.Background(), tok)
		require.NoError(t, err, mode)
		ended.ended["s1"] = true
		_, err = a.Authenticate(context.Background(), tok)
		assert.ErrorIs(t, err, ErrNotActive, "%s: a cached answer is checked too", mode)
		assert.NotErrorIs(t, err, ErrRefusedLocally, mode)
		want := endedQuestion{"s1", "app", "u1", now, false}
		assert.Equal(t, []endedQuestion{want, want, want}, ended.asked, mode)

		offline := claimsAt(now)
		offline["scope"] = "openid offline_access"
		kc.claims.Scope = "openid offline_access"
		ended.asked, ended.ended = nil, map[string]bool{}
		_, err = a.Authenticate(context.Background(), sign(t, offline))
		require.NoError(t, err, mode)
		assert.Equal(t, []endedQuestion{{"s1", "app", "u1", now, true}}, ended.asked, mode)
	}
}

// TestNothingPassesBeforeTheEndedSessionsAreLoaded: 503 until they are, in both modes.
func TestNothingPassesBeforeTheEndedSessionsAreLoaded(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	for _, mode := range []string{ModeIntrospect, ModeJWT} {
		ended := &fakeEnded{}
		a, _ := newAuthWith(&fakeKeycloak{claims: active(now)}, mode, &now, ended)
		tok := sign(t, claimsAt(now))
		_, err := a.Authenticate(context.Background(), tok)
		assert.ErrorIs(t, err, ErrEndedUnknown, mode)
		_, err = a.Authenticate(context.Background(), "not-a-token")
		assert.ErrorIs(t, err, ErrUnauthorized, "%s: a bad token is still a 401", mode)
		ended.loaded = true
		_, err = a.Authenticate(context.Background(), tok)
		assert.NoError(t, err, mode)
	}
}

// TestCacheOnlyWhileCurrent: while ends on other replicas may be unknown here (feed
// not current), nothing is cached or served from the cache; once it is current again,
// what was cached before is used again (it is checked against the ended sessions
// anyway), so the cache is not emptied by an outage.
func TestCacheOnlyWhileCurrent(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	kc := &fakeKeycloak{claims: active(now)}
	ended := &fakeEnded{loaded: true}
	a, _ := newAuthWith(kc, ModeIntrospect, &now, ended)
	tok := sign(t, claimsAt(now))
	auth := func() {
		_, err := a.Authenticate(context.Background(), tok)
		require.NoError(t, err)
	}
	auth()
	auth()
	assert.EqualValues(t, 2, kc.calls.Load(), "not current: every request asks")
	ended.current = true
	auth()
	auth()
	assert.EqualValues(t, 3, kc.calls.Load())
	ended.current = false
	auth()
	assert.EqualValues(t, 4, kc.calls.Load())
	ended.current = true
	auth()
	assert.EqualValues(t, 4, kc.calls.Load(), "the entry cached before the outage is used again")
}
