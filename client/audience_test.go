package client

import (
	"encoding/base64"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
)

func jwtWithAud(aud string) string {
	return "eyJhbGciOiJSUzI1NiJ9." + base64.RawURLEncoding.EncodeToString([]byte(`{"aud":`+aud+`}`)) + ".c2ln"
}

func TestAudienceIs(t *testing.T) {
	for _, tc := range []struct {
		jwt  string
		want bool
	}{
		{jwtWithAud(`"orders-api"`), true},
		{jwtWithAud(`["orders-api"]`), true},
		{jwtWithAud(`["orders-api","account"]`), false},
		{jwtWithAud(`"account"`), false},
		{jwtWithAud(`7`), false},
		{"opaque-token", false},
		{"a.!!.c", false},
	} {
		if got := audienceIs(tc.jwt, "orders-api"); got != tc.want {
			t.Errorf("audienceIs(%s) = %v, want %v", tc.jwt, got, tc.want)
		}
	}
}

// A service that ignores audience (an older auth-manager) answers a broad token: the
// client refuses it rather than hand it on. The real service never does this, so a
// fake stands in.
func TestBroadTokenForAnAudienceIsRefused(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if a := r.URL.Query().Get("audience"); r.URL.Query().Has("audience") && a != "orders-api" {
			t.Errorf("audience %q sent, want orders-api", a)
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"data":{"access_token":"`+jwtWithAud(`["orders-api","account"]`)+`","expires_in":300}}`)
	}))
	defer srv.Close()
	c := newTestClient(t, srv.URL)
	_, err := c.TokenSource(t.Context(), "id", WithAudience("orders-api")).Token()
	if CodeOf(err) != CodeWrongAudience {
		t.Errorf("err %v, want code %s", err, CodeWrongAudience)
	}
	a, err := c.AccessToken(t.Context(), "id")
	if err != nil || a.AccessToken == "" {
		t.Errorf("without an audience any token is fine: %v", err)
	}
}
