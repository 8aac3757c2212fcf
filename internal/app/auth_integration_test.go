package app_test

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/auth-manager/auth-manager/internal/config"
	"github.com/auth-manager/auth-manager/internal/testenv"
)

// TestCallerAuthentication runs the contract's caller rules against the real Keycloak in
// both auth modes.
func TestCallerAuthentication(t *testing.T) {
	for _, mode := range []string{config.AuthModeIntrospect, config.AuthModeJWT} {
		t.Run(mode, func(t *testing.T) {
			cfg := testenv.NewServiceConfig(t)
			cfg.Auth.Mode = mode
			svc := testenv.StartService(t, cfg)

			t.Run("user token", func(t *testing.T) {
				tk := testenv.Login(t, testenv.Alice)
				claims := testenv.Claims(t, tk.AccessToken)
				resp := svc.Do(t, http.MethodGet, "/v1/validate-token", tk.AccessToken, nil)
				require.Equal(t, http.StatusOK, resp.Status, string(resp.Body))
				d := resp.Data(t)
				assert.Equal(t, true, d["valid"])
				assert.Equal(t, claims["sub"], d["sub"])
				assert.NotEmpty(t, d["sid"])
				assert.Equal(t, claims["sid"], d["sid"])
				assert.Equal(t, "alice", d["username"])
				assert.Equal(t, testenv.ServiceClient, d["client_id"])
				assert.Equal(t, claims["exp"], d["exp"])
				assert.Equal(t, false, d["service_caller"])
				assert.NotEmpty(t, resp.Header.Get("X-Request-ID"))
			})

			t.Run("service caller with the role", func(t *testing.T) {
				tk := testenv.ClientToken(t, testenv.Realm, testenv.ServiceCallerClient, testenv.ServiceCallerSecret)
				resp := svc.Do(t, http.MethodGet, "/v1/validate-token", tk.AccessToken, nil)
				require.Equal(t, http.StatusOK, resp.Status, string(resp.Body))
				assert.Equal(t, true, resp.Data(t)["service_caller"])
			})

			t.Run("service account without the role", func(t *testing.T) {
				tk := testenv.ClientToken(t, testenv.Realm, testenv.PlainCallerClient, testenv.PlainCallerSecret)
				resp := svc.Do(t, http.MethodGet, "/v1/validate-token", tk.AccessToken, nil)
				require.Equal(t, http.StatusOK, resp.Status, string(resp.Body))
				assert.Equal(t, false, resp.Data(t)["service_caller"])
			})

			valid := testenv.Login(t, testenv.Bob).AccessToken
			// Both modes check a token locally first: a forged one is refused as
			// unauthorized without asking Keycloak (issue 13).
			notActive := "unauthorized"
			rejected := []struct {
				name, header, code string
			}{
				{"missing header", "", "unauthorized"},
				{"basic scheme", "Basic " + base64.StdEncoding.EncodeToString([]byte("alice:alice-password")), "unauthorized"},
				{"bearer without token", "Bearer ", "unauthorized"},
				{"garbage", "Bearer not-a-token", "unauthorized"},
				{"alg none", "Bearer " + algNone(t, valid), "unauthorized"},
				{"garbage JWT shape", "Bearer aaaaaaaaaa.bbbbbbbbbbbb.cccccccccccc", notActive},
				{"signed by another key", "Bearer " + resign(t, valid), notActive},
				{"another realm", "Bearer " + testenv.PasswordLogin(t, testenv.RotationRealm, testenv.ServiceClient, testenv.ServiceClientSecret, testenv.Alice, "openid").AccessToken, notActive},
				{"refresh token as bearer", "Bearer " + testenv.Login(t, testenv.Alice).RefreshToken, "unauthorized"},
			}
			for _, tc := range rejected {
				t.Run(tc.name, func(t *testing.T) {
					resp := doHeader(t, svc.URL+"/v1/validate-token", tc.header)
					require.Equal(t, http.StatusUnauthorized, resp.Status, string(resp.Body))
					body := resp.JSON(t)
					assert.Equal(t, tc.code, body["code"], string(resp.Body))
					assert.NotEmpty(t, body["error"])
					assert.Contains(t, body, "reason")
					assert.Contains(t, body, "details")
					assert.NotContains(t, string(resp.Body), valid)
				})
			}

			t.Run("expired token", func(t *testing.T) {
				tk := testenv.PasswordLogin(t, testenv.Realm, testenv.ShortClient, testenv.ShortClientSecret, testenv.Carol, "openid")
				claims := testenv.Claims(t, tk.AccessToken)
				wait := time.Until(time.Unix(int64(claims["exp"].(float64)), 0)) + 1500*time.Millisecond
				require.Less(t, wait, 10*time.Second, "the short client's tokens should live 2 s")
				time.Sleep(wait)
				resp := svc.Do(t, http.MethodGet, "/v1/validate-token", tk.AccessToken, nil)
				require.Equal(t, http.StatusUnauthorized, resp.Status, string(resp.Body))
				assert.Equal(t, "token_not_active", resp.JSON(t)["code"])
			})

			assert.NotContains(t, svc.Logs.String(), valid, "a token reached the log")
		})
	}
}

// algNone returns token's claims under an unsigned "alg":"none" header.
func algNone(t *testing.T, token string) string {
	t.Helper()
	parts := strings.Split(token, ".")
	require.Len(t, parts, 3)
	return base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","typ":"JWT"}`)) + "." + parts[1] + ".c2ln"
}

// resign returns token's header and claims signed by a fresh RSA key that Keycloak
// never saw.
func resign(t *testing.T, token string) string {
	t.Helper()
	parts := strings.Split(token, ".")
	require.Len(t, parts, 3)
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	signing := parts[0] + "." + parts[1]
	sum := sha256.Sum256([]byte(signing))
	sig, err := rsa.SignPKCS1v15(rand.Reader, key, 5 /* crypto.SHA256 */, sum[:])
	require.NoError(t, err)
	return signing + "." + base64.RawURLEncoding.EncodeToString(sig)
}

func doHeader(t *testing.T, url, authorization string) testenv.Response {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	require.NoError(t, err)
	if authorization != "" {
		req.Header.Set("Authorization", authorization)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	var raw json.RawMessage
	_ = json.NewDecoder(resp.Body).Decode(&raw)
	return testenv.Response{Status: resp.StatusCode, Header: resp.Header, Body: raw}
}
