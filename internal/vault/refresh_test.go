package vault_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/auth-manager/auth-manager/internal/audit"
	"github.com/auth-manager/auth-manager/internal/keycloak"
	"github.com/auth-manager/auth-manager/internal/seal"
	"github.com/auth-manager/auth-manager/internal/store"
	"github.com/auth-manager/auth-manager/internal/testenv"
	"github.com/auth-manager/auth-manager/internal/vault"
)

const (
	oldKeyHex = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
	newKeyHex = "f0e1d2c3b4a5968778695a4b3c2d1e0f00112233445566778899aabbccddeeff"
)

func testRing(t *testing.T, current string, previous ...string) *seal.Ring {
	t.Helper()
	cur, err := seal.ParseKey(current)
	require.NoError(t, err)
	var prev []seal.Key
	for _, p := range previous {
		k, err := seal.ParseKey(p)
		require.NoError(t, err)
		prev = append(prev, k)
	}
	r, err := seal.NewRing(cur, prev...)
	require.NoError(t, err)
	return r
}

func openStore(t *testing.T) *store.Store { return testenv.MigratedStore(t, 4) }

// fixture is a vault on a fresh database whose audit events and refresh metric are
// recorded.
type fixture struct {
	st       *store.Store
	v        *vault.Service
	logs     *bytes.Buffer
	mu       sync.Mutex
	outcomes []string
}

func newFixture(t *testing.T, st *store.Store, ring *seal.Ring) *fixture {
	f := &fixture{st: st, logs: &bytes.Buffer{}}
	log := slog.New(slog.NewJSONHandler(f.logs, nil))
	f.v = vault.New(st, ring, nil, vault.Options{Log: log, Audit: audit.New(log, nil), OnRefresh: func(o string) {
		f.mu.Lock()
		defer f.mu.Unlock()
		f.outcomes = append(f.outcomes, o)
	}})
	return f
}

// events returns "name/outcome/error_code" of every audit line so far.
func (f *fixture) events(t *testing.T) []string {
	var out []string
	for _, line := range strings.Split(strings.TrimSpace(f.logs.String()), "\n") {
		var m map[string]any
		require.NoError(t, json.Unmarshal([]byte(line), &m))
		if m["msg"] == "audit" {
			out = append(out, fmt.Sprintf("%v/%v/%v", m["event"], m["outcome"], m["error_code"]))
		}
	}
	return out
}

// jwt builds an unsigned token with the given typ and sub; the vault never verifies it.
func jwt(typ, sub string) string {
	b, _ := json.Marshal(map[string]any{"typ": typ, "sub": sub, "jti": uuid.NewString()})
	return "eyJhbGciOiJIUzUxMiJ9." + base64.RawURLEncoding.EncodeToString(b) + ".c2ln"
}

// put stores token in a new row of user and type t sealed with ring; legacy drops the
// tag, as the Python service writes rows.
func put(t *testing.T, st *store.Store, ring *seal.Ring, user string, typ store.TokenType, token string, legacy bool) store.Row {
	t.Helper()
	row := store.Row{Meta: store.Meta{ID: store.NewID(), UserID: user, Type: typ, SessionID: "sid-" + uuid.NewString()}}
	row, err := vault.New(st, ring, nil, vault.Options{}).Seal(row, token)
	require.NoError(t, err)
	if legacy {
		row.MAC, row.KeyID = "", ""
	}
	row, err = st.Create(context.Background(), row)
	require.NoError(t, err)
	return row
}

func typOf(t store.TokenType) string {
	if t == store.Offline {
		return "Offline"
	}
	return "Refresh"
}

// answer is a fake Keycloak: it counts its calls and answers with ts or err.
type answer struct {
	ts    keycloak.TokenSet
	err   error
	calls int
	got   string
}

func (a *answer) exchange(_ context.Context, token string) (keycloak.TokenSet, error) {
	a.calls++
	a.got = token
	return a.ts, a.err
}

var modes = map[string]vault.Successor{"store successor": vault.StoreSuccessor, "return successor": vault.ReturnSuccessor}

func TestRefreshStoresSuccessorKeepingType(t *testing.T) {
	testenv.Integration(t)
	st := openStore(t)
	ring := testRing(t, newKeyHex)
	for _, typ := range []store.TokenType{store.Refresh, store.Offline} {
		t.Run(string(typ), func(t *testing.T) {
			f := newFixture(t, st, ring)
			user := uuid.NewString()
			token, successor := jwt(typOf(typ), user), jwt(typOf(typ), user)
			row := put(t, st, ring, user, typ, token, false)
			kc := &answer{ts: keycloak.TokenSet{AccessToken: "access", RefreshToken: successor}}

			r, err := f.v.Refresh(context.Background(), row.ID, kc.exchange, vault.StoreSuccessor)
			require.NoError(t, err)
			assert.Equal(t, 1, kc.calls)
			assert.Equal(t, token, kc.got, "the stored token is presented")
			assert.Equal(t, "access", r.Tokens.AccessToken)
			assert.Empty(t, r.Tokens.RefreshToken, "a stored successor never leaves the vault")

			after, err := st.Get(context.Background(), row.ID)
			require.NoError(t, err)
			assert.Equal(t, typ, after.Type, "same type kept")
			plain, err := f.v.Open(after)
			require.NoError(t, err)
			assert.Equal(t, successor, plain, "successor stored in the same row")
			assert.NotNil(t, after.LastUsedAt)
			assert.Equal(t, []string{"token_rotated/ok/<nil>"}, f.events(t))
			assert.Equal(t, []string{"ok"}, f.outcomes)
		})
	}
}

func TestRefreshReturnSuccessorKeepsRowToken(t *testing.T) {
	testenv.Integration(t)
	st := openStore(t)
	ring := testRing(t, newKeyHex)
	f := newFixture(t, st, ring)
	user := uuid.NewString()
	token, fresh := jwt("Offline", user), jwt("Offline", user)
	row := put(t, st, ring, user, store.Offline, token, false)
	kc := &answer{ts: keycloak.TokenSet{AccessToken: "access", RefreshToken: fresh}}

	r, err := f.v.Refresh(context.Background(), row.ID, kc.exchange, vault.ReturnSuccessor)
	require.NoError(t, err)
	assert.Equal(t, fresh, r.Tokens.RefreshToken)
	after, err := st.Get(context.Background(), row.ID)
	require.NoError(t, err)
	plain, err := f.v.Open(after)
	require.NoError(t, err)
	assert.Equal(t, token, plain, "the source row keeps its own token")
	assert.Equal(t, []string{"token_refreshed/ok/<nil>"}, f.events(t))
	assert.Equal(t, []string{"ok"}, f.outcomes)
}

// TestRefreshResealsUnderNewKey: a row sealed under a previous key (or legacy) is
// re-sealed under the current key by any refresh, whichever feature asked.
func TestRefreshResealsUnderNewKey(t *testing.T) {
	testenv.Integration(t)
	st := openStore(t)
	old := testRing(t, oldKeyHex)
	rotated := testRing(t, newKeyHex, oldKeyHex)
	for name, mode := range modes {
		for _, legacy := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s legacy=%v", name, legacy), func(t *testing.T) {
				f := newFixture(t, st, rotated)
				user := uuid.NewString()
				token := jwt("Offline", user)
				row := put(t, st, old, user, store.Offline, token, legacy)
				kc := &answer{ts: keycloak.TokenSet{AccessToken: "access", RefreshToken: token}} // not rotated

				_, err := f.v.Refresh(context.Background(), row.ID, kc.exchange, mode)
				require.NoError(t, err)
				after, err := st.Get(context.Background(), row.ID)
				require.NoError(t, err)
				assert.Equal(t, rotated.CurrentKeyID(), after.KeyID, "re-sealed under the current key")
				assert.NotEmpty(t, after.MAC)
				assert.NotEqual(t, row.EncryptedToken, after.EncryptedToken)
				plain, err := f.v.Open(after)
				require.NoError(t, err)
				assert.Equal(t, token, plain)
				assert.Equal(t, []string{"token_refreshed/ok/<nil>"}, f.events(t))
			})
		}
	}
}

// TestRefreshFailures: invalid_grant marks the row (once; later calls answer from the
// row without Keycloak), a transient error leaves it as it was; the same audit events
// and metric outcomes whichever mode (feature) asks.
func TestRefreshFailures(t *testing.T) {
	testenv.Integration(t)
	st := openStore(t)
	ring := testRing(t, newKeyHex)
	refused := &keycloak.Error{Op: "refresh", Status: 400, Code: "invalid_grant", Description: "Token is not active"}
	for name, mode := range modes {
		t.Run(name+"/invalid_grant", func(t *testing.T) {
			f := newFixture(t, st, ring)
			user := uuid.NewString()
			row := put(t, st, ring, user, store.Offline, jwt("Offline", user), false)
			kc := &answer{err: refused}

			_, err := f.v.Refresh(context.Background(), row.ID, kc.exchange, mode)
			assert.True(t, keycloak.IsInvalidGrant(err), "%v", err)
			after, err := st.Get(context.Background(), row.ID)
			require.NoError(t, err)
			assert.Equal(t, store.StatusInvalid, after.Status)
			assert.Equal(t, "invalid_grant: Token is not active", after.LastError)
			assert.Equal(t, row.EncryptedToken, after.EncryptedToken, "the token itself is kept")

			_, err = f.v.Refresh(context.Background(), row.ID, kc.exchange, mode)
			assert.True(t, keycloak.IsInvalidGrant(err), "%v", err)
			assert.Equal(t, 1, kc.calls, "an invalid row is not presented again")
			assert.Equal(t, []string{"token_invalidated/ok/keycloak_error:invalid_grant"}, f.events(t))
			assert.Equal(t, []string{"invalid_grant"}, f.outcomes)
		})
		t.Run(name+"/transient", func(t *testing.T) {
			f := newFixture(t, st, ring)
			user := uuid.NewString()
			row := put(t, st, ring, user, store.Offline, jwt("Offline", user), false)
			kc := &answer{err: fmt.Errorf("%w: connection refused", keycloak.ErrUnavailable)}

			_, err := f.v.Refresh(context.Background(), row.ID, kc.exchange, mode)
			require.ErrorIs(t, err, keycloak.ErrUnavailable)
			after, err := st.Get(context.Background(), row.ID)
			require.NoError(t, err)
			assert.Equal(t, row.Sealing, after.Sealing, "unchanged")
			assert.Equal(t, store.StatusActive, after.Status)
			assert.Nil(t, after.UpdatedAt)
			assert.Equal(t, []string{"token_refreshed/failed/service_unavailable"}, f.events(t))
			assert.Equal(t, []string{"transient"}, f.outcomes)
		})
	}
}

func TestRefreshMissingRow(t *testing.T) {
	testenv.Integration(t)
	f := newFixture(t, openStore(t), testRing(t, newKeyHex))
	kc := &answer{}
	_, err := f.v.Refresh(context.Background(), uuid.NewString(), kc.exchange, vault.StoreSuccessor)
	require.ErrorIs(t, err, vault.ErrNotFound)
	assert.Zero(t, kc.calls)
}

// TestLegacyRowClaimsCheck: a legacy row is used only when its token's sub and typ
// match the row; otherwise it is unusable, never presented and never re-sealed. A
// legacy token that is not a JWT is used only when the operator trusts opaque ones.
func TestLegacyRowClaimsCheck(t *testing.T) {
	testenv.Integration(t)
	st := openStore(t)
	ring := testRing(t, newKeyHex)
	opaque := func(string, string) string { return "opaque-" + uuid.NewString() }
	cases := []struct {
		name   string
		typ    store.TokenType
		token  func(owner, other string) string
		trust  bool
		usable bool
	}{
		{"own token", store.Refresh, func(o, _ string) string { return jwt("Refresh", o) }, false, true},
		{"own offline token", store.Offline, func(o, _ string) string { return jwt("Offline", o) }, false, true},
		{"another user's token", store.Refresh, func(_, x string) string { return jwt("Refresh", x) }, false, false},
		{"offline token in a REFRESH row", store.Refresh, func(o, _ string) string { return jwt("Offline", o) }, false, false},
		{"refresh token in an OFFLINE row", store.Offline, func(o, _ string) string { return jwt("Refresh", o) }, false, false},
		{"opaque token", store.Offline, opaque, false, false},
		{"opaque token, trusted", store.Offline, opaque, true, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, st, ring)
			log := slog.New(slog.NewJSONHandler(f.logs, nil))
			f.v = vault.New(st, ring, nil, vault.Options{Log: log, Audit: audit.New(log, nil), TrustOpaqueLegacy: tc.trust})
			owner := uuid.NewString()
			token := tc.token(owner, uuid.NewString())
			row := put(t, st, ring, owner, tc.typ, token, true)
			kc := &answer{ts: keycloak.TokenSet{AccessToken: "access", RefreshToken: token}}

			_, err := f.v.Refresh(context.Background(), row.ID, kc.exchange, vault.StoreSuccessor)
			after, gerr := st.Get(context.Background(), row.ID)
			require.NoError(t, gerr)
			if tc.usable {
				require.NoError(t, err)
				assert.Equal(t, 1, kc.calls)
				assert.NotEmpty(t, after.MAC, "re-sealed with a tag")
				return
			}
			require.ErrorIs(t, err, vault.ErrUnusable)
			assert.Zero(t, kc.calls, "never presented to Keycloak")
			assert.Equal(t, row.Sealing, after.Sealing, "not re-sealed")
			assert.Contains(t, f.events(t), "token_unusable/failed/token_unusable")
		})
	}
}
