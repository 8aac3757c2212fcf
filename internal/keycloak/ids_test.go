package keycloak

import (
	"context"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var (
	sessionIDPattern = regexp.MustCompile(`^[A-Za-z0-9_-]{1,128}$`)
	userIDPattern    = regexp.MustCompile(`^[A-Za-z0-9_:@.-]{1,255}$`)
)

func TestIDValidators(t *testing.T) {
	accepted := []string{"073oKLXUt_ZCTaN38kTowdL5", "0e7c5b43-5a3f-4d5c-9f67-4d1e1c2b3a4f", strings.Repeat("a", 128)}
	refused := []string{"", ".", "..", "a/b", "a%2Fb", "../users", "a.b", "~", "a b", "é", strings.Repeat("a", 129), "x\n"}
	for _, s := range accepted {
		assert.True(t, ValidSessionID(s), "%q", s)
		assert.True(t, ValidUserID(s), "%q", s)
	}
	for _, s := range refused {
		assert.False(t, ValidSessionID(s), "%q", s)
	}
	assert.True(t, ValidUserID("f:6a1b2c3d-0000-4000-8000-000000000000:jdoe"))
	for _, s := range []string{"", ".", "..", "a/b", "a?b", "a#b", "a%2e", strings.Repeat("a", 256)} {
		assert.False(t, ValidUserID(s), "%q", s)
	}
}

// adminAt is an Admin whose realm's admin API is srv: discovery and the service
// token come from srv too.
func adminAt(t *testing.T, srv *httptest.Server) *Admin {
	t.Helper()
	kc := New(Options{BaseURL: srv.URL, IssuerURL: srv.URL + "/realms/r", Realm: "r", ClientID: "c", ClientSecret: "s", Timeout: 2 * time.Second}, nil)
	return NewAdmin(kc)
}

// FuzzAdminPaths: whatever session or user id reaches the admin client, the request it
// sends stays under the realm's admin base (no dot segment, no escape from the path),
// and an id outside Keycloak's alphabet sends no request at all.
func FuzzAdminPaths(f *testing.F) {
	for _, s := range []string{"073oKLXUt_ZCTaN38kTowdL5", "..", ".", "../../master", "a/../b", "%2e%2e", "a?x=1", "a#b", "\x00", "f:x:y"} {
		f.Add(s)
	}
	var sent atomic.Int64
	var lastPath atomic.Value
	mux := http.NewServeMux()
	var srv *httptest.Server
	mux.HandleFunc("/realms/r/.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"issuer":"` + srv.URL + `/realms/r","authorization_endpoint":"` + srv.URL + `/realms/r/auth","token_endpoint":"` + srv.URL + `/realms/r/token","jwks_uri":"` + srv.URL + `/realms/r/certs","introspection_endpoint":"` + srv.URL + `/realms/r/introspect","revocation_endpoint":"` + srv.URL + `/realms/r/revoke"}`))
	})
	mux.HandleFunc("/realms/r/token", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"access_token":"t","token_type":"Bearer","expires_in":300}`))
	})
	mux.HandleFunc("/admin/", func(w http.ResponseWriter, r *http.Request) {
		sent.Add(1)
		lastPath.Store(r.URL.EscapedPath())
		if strings.HasSuffix(r.URL.Path, "/clients") {
			_, _ = w.Write([]byte(`[{"id":"cid","clientId":"c"}]`))
			return
		}
		if r.Method == http.MethodGet {
			_, _ = w.Write([]byte(`[]`))
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
	srv = httptest.NewServer(mux)
	f.Cleanup(srv.Close)

	f.Fuzz(func(t *testing.T, id string) {
		a := adminAt(t, srv)
		ctx := context.Background()
		check := func(valid bool, call func() error) {
			before := sent.Load()
			err := call()
			if !valid {
				require.ErrorIs(t, err, ErrInvalidID)
				require.Equal(t, before, sent.Load(), "no request for an invalid id %q", id)
				return
			}
			require.NoError(t, err)
			p, _ := lastPath.Load().(string)
			require.True(t, strings.HasPrefix(p, "/admin/realms/r/"), "path %q", p)
			for _, seg := range strings.Split(p, "/") {
				require.NotContains(t, []string{".", ".."}, seg, "dot segment in %q", p)
			}
		}
		check(ValidSessionID(id), func() error { return a.DeleteSession(ctx, id, true) })
		check(ValidUserID(id), func() error { _, err := a.UserSessions(ctx, id); return err })
		check(ValidUserID(id), func() error { _, err := a.OfflineSessions(ctx, id); return err })
		assert.Equal(t, sessionIDPattern.MatchString(id), ValidSessionID(id))
		assert.Equal(t, userIDPattern.MatchString(id) && id != "." && id != "..", ValidUserID(id))
	})
}
