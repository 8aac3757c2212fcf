package app_test

import (
	"net/http"
	"net/url"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/auth-manager/auth-manager/internal/testenv"
)

// TestConsentCallbackErrorNeedsAGenuineState: anyone can craft a callback URL with
// error=, so Keycloak's error counts only with a state this service issued; without
// one the answer is 400 invalid_ack_state, never a 502 that blames Keycloak (found by
// `make fuzz-api`: a 5xx for the client's own input).
func TestConsentCallbackErrorNeedsAGenuineState(t *testing.T) {
	svc := testenv.StartService(t, testenv.NewServiceConfig(t))
	tests := []struct {
		name, state, reason string
	}{
		{"no state", "", "missing"},
		{"forged state", "eyJhbGciOiJIUzI1NiJ9.e30.c2lnbmF0dXJl", "malformed"},
		{"garbage state", "N\u00ee\"\u0086p\u00f3", "malformed"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			q := url.Values{"error": {"access_denied"}, "error_description": {"User denied consent"}}
			if tc.state != "" {
				q.Set("state", tc.state)
			}
			resp := svc.Do(t, http.MethodGet, "/v1/offline-token/callback?"+q.Encode(), "", nil)
			require.Equal(t, http.StatusBadRequest, resp.Status, string(resp.Body))
			body := resp.JSON(t)
			assert.Equal(t, "invalid_ack_state", body["code"])
			assert.Equal(t, tc.reason, body["reason"])
		})
	}
}
