package introspect

import (
	"context"
	"encoding/base64"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// FuzzPrecheck: whatever a client sends as a bearer token, the local check does not
// panic, and a token it refuses costs no introspection and no key-set fetch beyond the
// first (the fake Keycloak accepts whatever it is asked about, so a refusal can only
// come from the local check).
func FuzzPrecheck(f *testing.F) {
	now := time.Unix(1_800_000_000, 0)
	good := sign(f, claimsAt(now))
	f.Add(good)
	f.Add("eyJhbGciOiJub25lIn0.e30.")
	f.Add("eyJhbGciOiJSUzI1NiIsImtpZCI6InRlc3Qta2V5In0.e30.c2ln")
	f.Add(base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"RS256","kid":"x"}`)) + ".e30.AAAA")
	kc := &fakeKeycloak{claims: active(now)}
	a, keys := newAuth(kc, ModeIntrospect, &now, func(o *Options) { o.CacheTTL = 0 })
	f.Fuzz(func(t *testing.T, tok string) {
		before := kc.calls.Load()
		_, err := a.Authenticate(context.Background(), tok)
		if tok == good {
			require.NoError(t, err)
		}
		if err != nil {
			require.Equal(t, before, kc.calls.Load(), "a refused token was introspected")
			require.ErrorIs(t, err, ErrRefusedLocally, "only the local check refuses here")
		}
		require.LessOrEqual(t, keys.fetches.Load(), int64(1))
	})
}
