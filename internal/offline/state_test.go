package offline

import (
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/auth-manager/auth-manager/internal/problem"
)

var secret = []byte("0123456789abcdef0123456789abcdef-test")

func testService(now time.Time) *Service {
	return New(nil, nil, nil, nil, nil, Options{StateSecret: secret, StateExpiry: 10 * time.Minute,
		Now: func() time.Time { return now }})
}

func reason(t *testing.T, err error) string {
	t.Helper()
	var se *problem.Error
	require.ErrorAs(t, err, &se)
	require.ErrorIs(t, err, ErrInvalidState)
	return se.Reason
}

// signWith signs arbitrary claims with key and alg, as a forger would.
func signWith(t *testing.T, alg jose.SignatureAlgorithm, key []byte, claims ...any) string {
	t.Helper()
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: key}, nil)
	require.NoError(t, err)
	b := jwt.Signed(signer)
	for _, c := range claims {
		b = b.Claims(c)
	}
	out, err := b.Serialize()
	require.NoError(t, err)
	return out
}

func TestStateRoundTripAndExpiry(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	s := testService(now)
	raw, err := s.signState("state-id", "user-1", "sid-1", now)
	require.NoError(t, err)

	st, err := s.parseState(raw)
	require.NoError(t, err)
	assert.Equal(t, "state-id", st.ID)
	assert.Equal(t, "user-1", st.UserID)
	assert.Equal(t, "sid-1", st.SessionID)
	for name, at := range map[string]time.Time{"at issue": now, "just before expiry": now.Add(10*time.Minute - time.Second)} {
		assert.NoError(t, validState(st, at), name)
	}
	assert.Equal(t, "expired", reason(t, validState(st, now.Add(10*time.Minute+time.Second))))
	assert.Equal(t, "malformed", reason(t, validState(st, now.Add(-time.Minute))), "not valid before it was issued")
}

func TestStateForgeries(t *testing.T) {
	now := time.Now()
	s := testService(now)
	genuine, err := s.signState("state-id", "user-1", "sid-1", now)
	require.NoError(t, err)
	std := jwt.Claims{Issuer: stateIssuer, Audience: jwt.Audience{stateAudience}, Subject: "user-1", ID: "state-id",
		IssuedAt: jwt.NewNumericDate(now), Expiry: jwt.NewNumericDate(now.Add(time.Minute))}
	parts := strings.Split(genuine, ".")
	none := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","typ":"JWT"}`)) + "." + parts[1] + "."
	otherSub, _ := json.Marshal(map[string]any{"iss": stateIssuer, "aud": stateAudience, "sub": "user-2", "jti": "state-id",
		"sid": "sid-1", "exp": now.Add(time.Minute).Unix()})

	for name, raw := range map[string]string{
		"another secret":       signWith(t, jose.HS256, []byte("another-secret-another-secret-32b"), std, stateClaims{SessionID: "sid-1"}),
		"HS512 with our key":   signWith(t, jose.HS512, append(secret, secret...), std, stateClaims{SessionID: "sid-1"}),
		"alg none":             none,
		"payload swapped":      parts[0] + "." + base64.RawURLEncoding.EncodeToString(otherSub) + "." + parts[2],
		"signature cut":        genuine[:len(genuine)-3],
		"no session":           signWith(t, jose.HS256, secret, std),
		"no state id":          signWith(t, jose.HS256, secret, jwt.Claims{Subject: "u", Expiry: std.Expiry}, stateClaims{SessionID: "s"}),
		"garbage":              "a.b.c",
		"too long to be ours":  genuine + strings.Repeat("A", maxStateLen),
		"empty segments":       "..",
		"not even three parts": "abc",
	} {
		t.Run(name, func(t *testing.T) {
			_, err := s.parseState(raw)
			assert.Equal(t, "malformed", reason(t, err))
		})
	}
	_, err = s.parseState("")
	assert.Equal(t, "missing", reason(t, err))

	t.Run("our key, another audience", func(t *testing.T) {
		other := std
		other.Audience = jwt.Audience{"something-else"}
		st, err := s.parseState(signWith(t, jose.HS256, secret, other, stateClaims{SessionID: "sid-1"}))
		require.NoError(t, err, "the signature is ours")
		assert.Equal(t, "malformed", reason(t, validState(st, now)))
	})
}

func TestRandomIDsAreDistinct(t *testing.T) {
	seen := map[string]bool{}
	for range 1000 {
		id := randomID(16)
		require.Len(t, id, 22)
		require.False(t, seen[id])
		seen[id] = true
	}
}

func TestPeekAndTruncate(t *testing.T) {
	payload := base64.RawURLEncoding.EncodeToString([]byte(`{"typ":"Offline","sub":"u","sid":"s","azp":"c"}`))
	c, err := peek("h." + payload + ".sig")
	require.NoError(t, err)
	assert.Equal(t, tokenClaims{Type: "Offline", Subject: "u", SessionID: "s", Azp: "c"}, c)
	for _, bad := range []string{"", "a.b", "a.!!.c", "a." + base64.RawURLEncoding.EncodeToString([]byte("[1]")) + ".c"} {
		_, err := peek(bad)
		assert.Error(t, err, bad)
	}
	assert.Equal(t, "abc", truncate("abcdef", 3))
	assert.Equal(t, "ab", truncate("abé", 3), "never half a character")
	assert.Equal(t, "short", truncate("short", 300))
}
