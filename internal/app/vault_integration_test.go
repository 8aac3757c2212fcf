package app_test

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/auth-manager/auth-manager/internal/testenv"
)

func TestStoreRefreshToken(t *testing.T) {
	svc := testenv.StartService(t, testenv.NewServiceConfig(t))

	first := testenv.Login(t, testenv.Alice)
	resp := svc.Do(t, http.MethodPost, "/v1/refresh-token", first.AccessToken, map[string]any{"refresh_token": first.RefreshToken})
	require.Equal(t, http.StatusOK, resp.Status, string(resp.Body))
	id := resp.Data(t)["persistent_token_id"].(string)
	require.Regexp(t, `^[0-9a-f-]{36}$`, id)

	second := testenv.Login(t, testenv.Alice)
	resp = svc.Do(t, http.MethodPost, "/v1/refresh-token", second.AccessToken, map[string]any{"refresh_token": second.RefreshToken})
	require.Equal(t, http.StatusOK, resp.Status, string(resp.Body))
	assert.Equal(t, id, resp.Data(t)["persistent_token_id"], "one refresh token per user: same id")

	row, err := svc.App.Store.Get(context.Background(), id)
	require.NoError(t, err)
	assert.Equal(t, testenv.Claims(t, second.AccessToken)["sid"], row.SessionID, "the row records the caller's sid")
	assert.NotEmpty(t, row.MAC)
	assert.Equal(t, svc.App.Vault.Ring().CurrentKeyID(), row.KeyID)
	assert.NotContains(t, row.EncryptedToken, second.RefreshToken)
	plain, err := svc.App.Vault.Open(row)
	require.NoError(t, err)
	assert.Equal(t, second.RefreshToken, plain, "the newest token replaced the first")
	sum := sha256.Sum256([]byte(second.RefreshToken))
	assert.Equal(t, hex.EncodeToString(sum[:]), row.TokenHash)

	bob := testenv.Login(t, testenv.Bob)
	short := testenv.PasswordLogin(t, testenv.Realm, testenv.ShortClient, testenv.ShortClientSecret, testenv.Alice, "openid")
	other := testenv.PasswordLogin(t, testenv.RotationRealm, testenv.ServiceClient, testenv.ServiceClientSecret, testenv.Alice, "openid")
	huge := strings.Repeat("a", 70<<10)
	bad := []struct {
		name   string
		body   any
		status int
		field  string
	}{
		{"missing field", map[string]any{}, 422, "body.refresh_token"},
		{"empty", map[string]any{"refresh_token": ""}, 422, "body.refresh_token"},
		{"number", map[string]any{"refresh_token": 42}, 422, "body.refresh_token"},
		{"null", map[string]any{"refresh_token": nil}, 422, "body.refresh_token"},
		{"unknown field", map[string]any{"refresh_token": second.RefreshToken, "x": 1}, 422, "body"},
		{"not a JWT", map[string]any{"refresh_token": "garbage"}, 422, "body.refresh_token"},
		{"an access token", map[string]any{"refresh_token": second.AccessToken}, 422, "body.refresh_token"},
		{"another user's token", map[string]any{"refresh_token": bob.RefreshToken}, 422, "body.refresh_token"},
		{"another client's token", map[string]any{"refresh_token": short.RefreshToken}, 422, "body.refresh_token"},
		{"another realm's token", map[string]any{"refresh_token": other.RefreshToken}, 422, "body.refresh_token"},
		{"oversized body", map[string]any{"refresh_token": huge}, 413, "body"},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			resp := svc.Do(t, http.MethodPost, "/v1/refresh-token", second.AccessToken, tc.body)
			require.Equal(t, tc.status, resp.Status, string(resp.Body))
			body := resp.JSON(t)
			assert.Equal(t, "validation_error", body["code"])
			details, _ := body["details"].(map[string]any)
			assert.Contains(t, details, tc.field)
			assert.NotContains(t, string(resp.Body), "eyJ", "an error must not echo a token")
		})
	}

	t.Run("malformed JSON", func(t *testing.T) {
		req, _ := http.NewRequest(http.MethodPost, svc.URL+"/v1/refresh-token", strings.NewReader(`{"refresh_token":`))
		req.Header.Set("Authorization", "Bearer "+second.AccessToken)
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		assert.Equal(t, http.StatusUnprocessableEntity, resp.StatusCode)
	})

	t.Run("service caller has no session", func(t *testing.T) {
		svcTok := testenv.ClientToken(t, testenv.Realm, testenv.ServiceCallerClient, testenv.ServiceCallerSecret)
		resp := svc.Do(t, http.MethodPost, "/v1/refresh-token", svcTok.AccessToken, map[string]any{"refresh_token": second.RefreshToken})
		require.Equal(t, http.StatusBadRequest, resp.Status, string(resp.Body))
		assert.Equal(t, "invalid_request", resp.JSON(t)["code"])
	})

	logs := svc.Logs.String()
	for _, tk := range []string{first.RefreshToken, second.RefreshToken, second.AccessToken, row.EncryptedToken} {
		assert.NotContains(t, logs, tk, "a token or ciphertext reached the log")
	}
}

func TestStoreRefreshTokenConcurrentlyLeavesOneRow(t *testing.T) {
	svc := testenv.StartService(t, testenv.NewServiceConfig(t))
	logins := make([]testenv.Tokens, 5)
	for i := range logins {
		logins[i] = testenv.Login(t, testenv.Carol)
	}
	var wg sync.WaitGroup
	ids := make(chan string, 50)
	for i := 0; i < 50; i++ {
		wg.Add(1)
		go func(tk testenv.Tokens) {
			defer wg.Done()
			resp := svc.Do(t, http.MethodPost, "/v1/refresh-token", tk.AccessToken, map[string]any{"refresh_token": tk.RefreshToken})
			if assert.Equal(t, http.StatusOK, resp.Status, string(resp.Body)) {
				ids <- resp.Data(t)["persistent_token_id"].(string)
			}
		}(logins[i%len(logins)])
	}
	wg.Wait()
	close(ids)
	distinct := map[string]bool{}
	for id := range ids {
		distinct[id] = true
	}
	assert.Len(t, distinct, 1, "every call answered the same id")
	var n int
	require.NoError(t, svc.App.Store.Pool().QueryRow(context.Background(),
		`SELECT count(*) FROM auth_vault WHERE user_id = $1`, testenv.Claims(t, logins[0].AccessToken)["sub"]).Scan(&n))
	assert.Equal(t, 1, n)
}

func TestListAndDeleteTokens(t *testing.T) {
	svc := testenv.StartService(t, testenv.NewServiceConfig(t))
	alice := testenv.Login(t, testenv.Alice)
	bob := testenv.Login(t, testenv.Bob)
	service := testenv.ClientToken(t, testenv.Realm, testenv.ServiceCallerClient, testenv.ServiceCallerSecret).AccessToken
	aliceID := testenv.Claims(t, alice.AccessToken)["sub"].(string)

	resp := svc.Do(t, http.MethodPost, "/v1/refresh-token", alice.AccessToken, map[string]any{"refresh_token": alice.RefreshToken})
	require.Equal(t, http.StatusOK, resp.Status, string(resp.Body))
	id := resp.Data(t)["persistent_token_id"].(string)

	list := func(bearer, query string) testenv.Response {
		return svc.Do(t, http.MethodGet, "/v1/tokens"+query, bearer, nil)
	}
	resp = list(alice.AccessToken, "")
	require.Equal(t, http.StatusOK, resp.Status, string(resp.Body))
	items := resp.JSON(t)["data"].([]any)
	require.Len(t, items, 1)
	item := items[0].(map[string]any)
	assert.Equal(t, id, item["persistent_token_id"])
	assert.Equal(t, "refresh", item["token_type"])
	assert.Equal(t, "active", item["status"])
	assert.Nil(t, item["last_error"])
	assert.Equal(t, testenv.Claims(t, alice.AccessToken)["sid"], item["session_state_id"])
	assert.NotEmpty(t, item["created_at"])
	assert.NotContains(t, string(resp.Body), alice.RefreshToken)

	assert.Empty(t, list(bob.AccessToken, "").JSON(t)["data"], "bob sees none of alice's rows")
	resp = list(bob.AccessToken, "?user_id="+aliceID)
	assert.Equal(t, http.StatusForbidden, resp.Status)
	assert.Equal(t, "forbidden", resp.JSON(t)["code"])
	assert.Len(t, list(service, "?user_id="+aliceID).JSON(t)["data"], 1, "a service caller may list any user")
	resp = list(service, "?user_id=not-a-uuid")
	assert.Equal(t, http.StatusUnprocessableEntity, resp.Status)
	assert.Contains(t, resp.JSON(t)["details"], "query.user_id")

	// Someone else's id and a missing id answer the same 404.
	foreign := svc.Do(t, http.MethodDelete, "/v1/tokens/"+id, bob.AccessToken, nil)
	missing := svc.Do(t, http.MethodDelete, "/v1/tokens/00000000-0000-4000-8000-000000000000", bob.AccessToken, nil)
	require.Equal(t, http.StatusNotFound, foreign.Status)
	assert.Equal(t, missing.Status, foreign.Status)
	assert.JSONEq(t, string(missing.Body), string(foreign.Body))
	assert.Equal(t, "token_not_found", foreign.JSON(t)["code"])
	assert.Equal(t, http.StatusUnprocessableEntity, svc.Do(t, http.MethodDelete, "/v1/tokens/xyz", alice.AccessToken, nil).Status)

	resp = svc.Do(t, http.MethodDelete, "/v1/tokens/"+id, alice.AccessToken, nil)
	require.Equal(t, http.StatusOK, resp.Status, string(resp.Body))
	d := resp.Data(t)
	assert.Equal(t, id, d["persistent_token_id"])
	assert.Equal(t, true, d["token_deleted"])
	assert.Equal(t, true, d["session_revoked"])
	assert.Equal(t, false, d["had_shared_session"])
	assert.Empty(t, list(alice.AccessToken, "").JSON(t)["data"])

	// Keycloak no longer accepts the revoked token.
	form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {alice.RefreshToken},
		"client_id": {testenv.ServiceClient}, "client_secret": {testenv.ServiceClientSecret}}
	kc, err := http.PostForm(testenv.TokenEndpoint(t, testenv.Realm), form)
	require.NoError(t, err)
	kc.Body.Close()
	assert.Equal(t, http.StatusBadRequest, kc.StatusCode, "the revoked refresh token must not refresh")

	// The revocation removed the service's client from alice's session: her access
	// token of that client and session is refused from now on (issue 13).
	again := svc.Do(t, http.MethodDelete, "/v1/tokens/"+id, alice.AccessToken, nil)
	assert.Equal(t, http.StatusUnauthorized, again.Status)
	assert.Equal(t, "token_not_active", again.JSON(t)["code"])
	other := testenv.Login(t, testenv.Alice)
	assert.Equal(t, http.StatusNotFound, svc.Do(t, http.MethodDelete, "/v1/tokens/"+id, other.AccessToken, nil).Status)
}

// pythonEncrypt is the Python service's algorithm: AES-256-CBC, PKCS#7, random IV, hex.
func pythonEncrypt(t *testing.T, keyHex, plaintext string) (ct, iv string) {
	t.Helper()
	key, err := hex.DecodeString(keyHex)
	require.NoError(t, err)
	block, err := aes.NewCipher(key)
	require.NoError(t, err)
	ivb := make([]byte, aes.BlockSize)
	_, _ = rand.Read(ivb)
	pad := aes.BlockSize - len(plaintext)%aes.BlockSize
	buf := append([]byte(plaintext), []byte(strings.Repeat(string(rune(pad)), pad))...)
	cipher.NewCBCEncrypter(block, ivb).CryptBlocks(buf, buf)
	return hex.EncodeToString(buf), hex.EncodeToString(ivb)
}

func TestLegacyRowIsReadThenSealedOnNextWrite(t *testing.T) {
	cfg := testenv.NewServiceConfig(t)
	svc := testenv.StartService(t, cfg)
	alice := testenv.Login(t, testenv.Alice)
	sub := testenv.Claims(t, alice.AccessToken)["sub"].(string)
	sid := testenv.Claims(t, alice.AccessToken)["sid"].(string)

	ct, iv := pythonEncrypt(t, cfg.EncryptionKey.Reveal(), alice.RefreshToken)
	sum := sha256.Sum256([]byte(alice.RefreshToken))
	const id = "0f0f0f0f-0000-4000-8000-000000000001"
	_, err := svc.App.Store.Pool().Exec(context.Background(), `INSERT INTO auth_vault
		(id, user_id, token_type, encrypted_token, iv, token_hash, attributes, session_state_id)
		VALUES ($1, $2, 'REFRESH', $3, $4, $5, '{"legacy": true}', $6)`, id, sub, ct, iv, hex.EncodeToString(sum[:]), sid)
	require.NoError(t, err)

	row, err := svc.App.Store.Get(context.Background(), id)
	require.NoError(t, err)
	assert.Empty(t, row.MAC, "a Python-written row has no tag")
	plain, err := svc.App.Vault.Open(row)
	require.NoError(t, err, "a Python-written row decrypts")
	assert.Equal(t, alice.RefreshToken, plain)

	// The next write (the same token stored again) re-seals it with a tag, in place.
	resp := svc.Do(t, http.MethodPost, "/v1/refresh-token", alice.AccessToken, map[string]any{"refresh_token": alice.RefreshToken})
	require.Equal(t, http.StatusOK, resp.Status, string(resp.Body))
	assert.Equal(t, id, resp.Data(t)["persistent_token_id"])
	row, err = svc.App.Store.Get(context.Background(), id)
	require.NoError(t, err)
	assert.NotEmpty(t, row.MAC)
	assert.Equal(t, svc.App.Vault.Ring().CurrentKeyID(), row.KeyID)
	assert.Equal(t, map[string]any{"legacy": true}, row.Attributes, "attributes survive the re-seal")
	plain, err = svc.App.Vault.Open(row)
	require.NoError(t, err)
	assert.Equal(t, alice.RefreshToken, plain)
}

func TestTamperedRowIsUnusableNotAnError(t *testing.T) {
	svc := testenv.StartService(t, testenv.NewServiceConfig(t))
	alice := testenv.Login(t, testenv.Alice)
	resp := svc.Do(t, http.MethodPost, "/v1/refresh-token", alice.AccessToken, map[string]any{"refresh_token": alice.RefreshToken})
	require.Equal(t, http.StatusOK, resp.Status)
	id := resp.Data(t)["persistent_token_id"].(string)

	// Flip one hex digit of the ciphertext, as an attacker with write access to the
	// table would: bypassing the rollback trigger that would otherwise drop the tag.
	_, err := svc.App.Store.Pool().Exec(context.Background(), `ALTER TABLE auth_vault DISABLE TRIGGER auth_vault_clear_stale_mac`)
	require.NoError(t, err)
	_, err = svc.App.Store.Pool().Exec(context.Background(),
		`UPDATE auth_vault SET encrypted_token = overlay(encrypted_token placing (CASE WHEN substr(encrypted_token, 5, 1) = '0' THEN '1' ELSE '0' END) from 5 for 1), mac = mac WHERE id = $1`, id)
	require.NoError(t, err)
	row, err := svc.App.Store.Get(context.Background(), id)
	require.NoError(t, err)
	require.NotEmpty(t, row.MAC, "the tag stays, so the row must fail to verify")
	_, err = svc.App.Vault.Open(row)
	require.Error(t, err)

	resp = svc.Do(t, http.MethodDelete, "/v1/tokens/"+id, alice.AccessToken, nil)
	require.Equal(t, http.StatusOK, resp.Status, string(resp.Body))
	d := resp.Data(t)
	assert.Equal(t, true, d["token_deleted"])
	assert.Equal(t, false, d["session_revoked"], "an unusable token cannot be revoked, and the answer says so")
	assert.Contains(t, d["message"], "unusable")
}
