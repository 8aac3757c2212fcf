package offline

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// FuzzParseState feeds the consent callback's untrusted state parameter to the parser:
// it never panics, only a state this service signed is accepted, and every refusal is
// an ErrInvalidState with a reason.
func FuzzParseState(f *testing.F) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	s := testService(now)
	good, err := s.signState("state-id", "user-1", "sid-1", now)
	require.NoError(f, err)
	f.Add(good)
	f.Add(good[:len(good)-2])
	f.Add("eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.")
	f.Add("")
	f.Fuzz(func(t *testing.T, raw string) {
		st, err := s.parseState(raw)
		if err != nil {
			require.ErrorIs(t, err, ErrInvalidState)
			return
		}
		// Accepted: it must be exactly what we signed (HS256 under our secret).
		require.Equal(t, "state-id", st.ID)
		require.Equal(t, "user-1", st.UserID)
		require.Equal(t, "sid-1", st.SessionID)
	})
}

// FuzzPeek decodes tokens Keycloak handed over: no input may panic.
func FuzzPeek(f *testing.F) {
	f.Add("a.eyJ0eXAiOiJPZmZsaW5lIn0.c")
	f.Add("...")
	f.Fuzz(func(t *testing.T, tok string) {
		_, _ = peek(tok)
	})
}
