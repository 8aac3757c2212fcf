package client

import (
	"encoding/base64"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/oauth2"
)

func jwtWithAud(aud string) string {
	return "eyJhbGciOiJSUzI1NiJ9." + base64.RawURLEncoding.EncodeToString([]byte(`{"aud":`+aud+`}`)) + ".c2ln"
}

func TestAudienceIs(t *testing.T) {
	assert.True(t, audienceIs(jwtWithAud(`"orders-api"`), "orders-api"))
	assert.True(t, audienceIs(jwtWithAud(`["orders-api"]`), "orders-api"))
	assert.False(t, audienceIs(jwtWithAud(`["orders-api","account"]`), "orders-api"))
	assert.False(t, audienceIs(jwtWithAud(`"account"`), "orders-api"))
	assert.False(t, audienceIs(jwtWithAud(`7`), "orders-api"))
	assert.False(t, audienceIs("opaque-token", "orders-api"))
	assert.False(t, audienceIs("a.!!.c", "orders-api"))
}

// A service that ignores audience (an older auth-manager) answers a broad token: the
// client refuses it rather than hand it on. The real service never does this, so a
// fake stands in.
func TestBroadTokenForAnAudienceIsRefused(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Has("audience") {
			assert.Equal(t, "orders-api", r.URL.Query().Get("audience"))
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"data":{"access_token":"`+jwtWithAud(`["orders-api","account"]`)+`","expires_in":300}}`)
	}))
	defer srv.Close()
	c, err := New(srv.URL, oauth2.StaticTokenSource(&oauth2.Token{AccessToken: "t"}))
	require.NoError(t, err)
	_, err = c.TokenSource(t.Context(), "id", WithAudience("orders-api")).Token()
	var e *Error
	require.True(t, errors.As(err, &e), "%v", err)
	assert.Equal(t, CodeWrongAudience, e.Code)
	a, err := c.AccessToken(t.Context(), "id")
	require.NoError(t, err, "without an audience any token is fine")
	assert.NotEmpty(t, a.AccessToken)
}
