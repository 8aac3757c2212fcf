package app_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/auth-manager/auth-manager/internal/config"
	"github.com/auth-manager/auth-manager/internal/seal"
	"github.com/auth-manager/auth-manager/internal/store"
	"github.com/auth-manager/auth-manager/internal/testenv"
	"github.com/auth-manager/auth-manager/internal/vault"
)

const (
	oldKey = "1111111111111111111111111111111111111111111111111111111111111111"
	newKey = "2222222222222222222222222222222222222222222222222222222222222222"
)

func ring(t *testing.T, current string, previous ...string) *seal.Ring {
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

// TestRotateKeysUnderLoad re-seals 10 000 rows (8 000 under the old key, 2 000 legacy)
// while the service stores and lists tokens, then proves that every row opens under the
// new key alone and none was lost.
func TestRotateKeysUnderLoad(t *testing.T) {
	cfg := testenv.NewServiceConfig(t)
	cfg.EncryptionKey = newKey
	cfg.PreviousKeys = []config.Secret{oldKey}
	svc := testenv.StartService(t, cfg)
	ctx := context.Background()

	old := ring(t, oldKey)
	plain := map[string]string{}
	var rows [][]any
	for i := 0; i < 10000; i++ {
		id, user := uuid.NewString(), uuid.NewString()
		token := fakeJWT("Offline", user) // legacy rows are re-sealed only when sub and typ match
		plain[id] = token
		s, err := old.Seal([]byte(token), seal.Identity{RowID: id, UserID: user, TokenType: "OFFLINE"})
		require.NoError(t, err)
		mac, keyID := any(s.MAC), any(s.KeyID)
		if i%5 == 0 { // legacy: the Python service's rows carry no tag
			mac, keyID = nil, nil
		}
		rows = append(rows, []any{id, user, "OFFLINE", s.Ciphertext, s.IV, seal.Hash([]byte(token)), mac, keyID, "sid-" + id})
	}
	n, err := svc.App.Store.Pool().CopyFrom(ctx, pgx.Identifier{"auth_vault"},
		[]string{"id", "user_id", "token_type", "encrypted_token", "iv", "token_hash", "mac", "key_id", "session_state_id"},
		pgx.CopyFromRows(rows))
	require.NoError(t, err)
	require.EqualValues(t, 10000, n)

	// Load while rotating: stores and listings through the real API.
	alice := testenv.Login(t, testenv.Alice)
	service := testenv.ClientToken(t, testenv.Realm, testenv.ServiceCallerClient, testenv.ServiceCallerSecret).AccessToken
	aliceID := testenv.Claims(t, alice.AccessToken)["sub"].(string)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var requests, failures atomic.Int64
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				var resp testenv.Response
				if w%2 == 0 {
					resp = svc.Do(t, http.MethodPost, "/v1/refresh-token", alice.AccessToken, map[string]any{"refresh_token": alice.RefreshToken})
				} else {
					resp = svc.Do(t, http.MethodGet, "/v1/tokens?user_id="+aliceID, service, nil)
				}
				requests.Add(1)
				if resp.Status != http.StatusOK {
					failures.Add(1)
				}
			}
		}(w)
	}

	start := time.Now()
	st := svc.App.Store
	res, err := vault.Rotate(ctx, st, ring(t, newKey, oldKey), vault.RotateOptions{Batch: 250, DryRun: false})
	elapsed := time.Since(start)
	close(stop)
	wg.Wait()
	require.NoError(t, err)
	t.Logf("rotate-keys: %d rows in %s (%.0f rows/s) with %d concurrent requests", res.Resealed, elapsed, float64(res.Resealed)/elapsed.Seconds(), requests.Load())

	assert.Equal(t, 10000, res.Pending, "alice's row was sealed under the new key from the start")
	assert.Equal(t, 10000, res.Resealed)
	assert.Zero(t, res.Unusable)
	assert.Zero(t, res.Remaining)
	assert.Zero(t, failures.Load(), "requests failed during rotation")
	assert.Positive(t, requests.Load())

	// Every seeded row opens under the new key alone, with its original plaintext.
	only := ring(t, newKey)
	count := 0
	rowsOut, err := st.Pool().Query(ctx, `SELECT id::text, user_id::text, token_type::text, encrypted_token, iv, coalesce(mac,''), coalesce(key_id,'') FROM auth_vault`)
	require.NoError(t, err)
	var id, user, typ, ct, iv, mac, keyID string
	_, err = pgx.ForEachRow(rowsOut, []any{&id, &user, &typ, &ct, &iv, &mac, &keyID}, func() error {
		count++
		pt, err := only.Open(seal.Sealed{Ciphertext: ct, IV: iv, MAC: mac, KeyID: keyID}, seal.Identity{RowID: id, UserID: user, TokenType: typ})
		if assert.NoError(t, err, "row %s does not open under the new key", id) {
			if want, seeded := plain[id]; seeded {
				assert.Equal(t, want, string(pt))
			}
		}
		return nil
	})
	require.NoError(t, err)
	assert.Equal(t, 10001, count, "10 000 seeded rows and alice's")

	// A second run finds nothing to do.
	again, err := vault.Rotate(ctx, st, ring(t, newKey, oldKey), vault.RotateOptions{Batch: 250, DryRun: false})
	require.NoError(t, err)
	assert.Zero(t, again.Pending)
}

// TestRotateKeysDryRunAndUnusable: a dry run changes nothing; a row no key opens is
// reported, left alone, and counted as remaining.
func TestRotateKeysDryRunAndUnusable(t *testing.T) {
	url := testenv.Database(t)
	st, err := store.Open(context.Background(), store.Options{URL: url, MaxConns: 4}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	require.NoError(t, err)
	defer st.Close()
	m, err := st.NewMigrator()
	require.NoError(t, err)
	_, err = m.Up(context.Background())
	require.NoError(t, err)
	m.Close()

	old := ring(t, oldKey)
	good := store.Row{Meta: store.Meta{ID: uuid.NewString(), UserID: uuid.NewString(), Type: store.Offline, SessionID: "s1"}}
	s, err := old.Seal([]byte("good-token"), seal.Identity{RowID: good.ID, UserID: good.UserID, TokenType: "OFFLINE"})
	require.NoError(t, err)
	good.EncryptedToken, good.IV, good.MAC, good.KeyID, good.TokenHash = s.Ciphertext, s.IV, s.MAC, s.KeyID, "h"
	_, err = st.Create(context.Background(), good)
	require.NoError(t, err)
	stranger := ring(t, "3333333333333333333333333333333333333333333333333333333333333333")
	bad := store.Row{Meta: store.Meta{ID: uuid.NewString(), UserID: uuid.NewString(), Type: store.Offline, SessionID: "s2"}}
	s, err = stranger.Seal([]byte("lost-token"), seal.Identity{RowID: bad.ID, UserID: bad.UserID, TokenType: "OFFLINE"})
	require.NoError(t, err)
	bad.EncryptedToken, bad.IV, bad.MAC, bad.KeyID, bad.TokenHash = s.Ciphertext, s.IV, s.MAC, s.KeyID, "h"
	_, err = st.Create(context.Background(), bad)
	require.NoError(t, err)
	// Two legacy rows (no tag): one holds its owner's token, the other a token of
	// another user, which must never be sealed to this row's owner.
	legacy := func(sub string) store.Row {
		row := store.Row{Meta: store.Meta{ID: uuid.NewString(), UserID: uuid.NewString(), Type: store.Offline, SessionID: "s3"}}
		if sub == "" {
			sub = row.UserID
		}
		s, err := old.Seal([]byte(fakeJWT("Offline", sub)), seal.Identity{RowID: row.ID, UserID: row.UserID, TokenType: "OFFLINE"})
		require.NoError(t, err)
		row.EncryptedToken, row.IV, row.TokenHash = s.Ciphertext, s.IV, "h"
		_, err = st.Create(context.Background(), row)
		require.NoError(t, err)
		return row
	}
	legacyOwn, legacyMoved := legacy(""), legacy(uuid.NewString())

	r := ring(t, newKey, oldKey)
	dry, err := vault.Rotate(context.Background(), st, r, vault.RotateOptions{Batch: 10, DryRun: true})
	require.NoError(t, err)
	assert.Equal(t, 4, dry.Pending)
	assert.Equal(t, 2, dry.Legacy)
	assert.Equal(t, 1, dry.LegacyMismatch)
	assert.Zero(t, dry.Resealed)
	row, err := st.Get(context.Background(), good.ID)
	require.NoError(t, err)
	assert.Equal(t, old.CurrentKeyID(), row.KeyID, "a dry run changes nothing")

	res, err := vault.Rotate(context.Background(), st, r, vault.RotateOptions{Batch: 10, DryRun: false})
	require.NoError(t, err)
	assert.Equal(t, 2, res.Resealed)
	assert.Equal(t, 2, res.Unusable)
	assert.ElementsMatch(t, []string{bad.ID, legacyMoved.ID}, res.UnusableIDs)
	assert.Equal(t, 2, res.Remaining)
	row, err = st.Get(context.Background(), legacyOwn.ID)
	require.NoError(t, err)
	assert.Equal(t, r.CurrentKeyID(), row.KeyID, "the legacy row holding its owner's token is sealed")
	row, err = st.Get(context.Background(), legacyMoved.ID)
	require.NoError(t, err)
	assert.Empty(t, row.MAC, "the legacy row holding another user's token is not sealed to its owner")
}

// fakeJWT is an unsigned token with the claims the vault checks on legacy rows.
func fakeJWT(typ, sub string) string {
	b, _ := json.Marshal(map[string]any{"typ": typ, "sub": sub, "jti": uuid.NewString()})
	return "eyJhbGciOiJIUzUxMiJ9." + base64.RawURLEncoding.EncodeToString(b) + ".c2ln"
}

// TestRotateKeysShared: three rotations run at once, from two pools, share the work:
// between them every row is re-sealed exactly once, and each ends with nothing
// remaining (its last pass waited for the rows the others held).
func TestRotateKeysShared(t *testing.T) {
	testenv.Integration(t)
	url := testenv.Database(t)
	var stores []*store.Store
	for range 2 {
		st, err := store.Open(context.Background(), store.Options{URL: url, MaxConns: 4}, testenv.DiscardLogger())
		require.NoError(t, err)
		t.Cleanup(st.Close)
		stores = append(stores, st)
	}
	m, err := stores[0].NewMigrator()
	require.NoError(t, err)
	_, err = m.Up(context.Background())
	require.NoError(t, err)
	m.Close()

	old := ring(t, oldKey)
	var rows [][]any
	for i := range 3000 {
		id, user := uuid.NewString(), uuid.NewString()
		token := fakeJWT("Offline", user)
		s, err := old.Seal([]byte(token), seal.Identity{RowID: id, UserID: user, TokenType: "OFFLINE"})
		require.NoError(t, err)
		mac, keyID := any(s.MAC), any(s.KeyID)
		if i%5 == 0 {
			mac, keyID = nil, nil
		}
		rows = append(rows, []any{id, user, "OFFLINE", s.Ciphertext, s.IV, seal.Hash([]byte(token)), mac, keyID, "sid-" + id})
	}
	_, err = stores[0].Pool().CopyFrom(context.Background(), pgx.Identifier{"auth_vault"},
		[]string{"id", "user_id", "token_type", "encrypted_token", "iv", "token_hash", "mac", "key_id", "session_state_id"},
		pgx.CopyFromRows(rows))
	require.NoError(t, err)

	results := make([]vault.RotationResult, 3)
	var wg sync.WaitGroup
	for i := range results {
		wg.Go(func() {
			var err error
			results[i], err = vault.Rotate(context.Background(), stores[i%2], ring(t, newKey, oldKey), vault.RotateOptions{Batch: 50})
			assert.NoError(t, err)
		})
	}
	wg.Wait()
	total := 0
	for i, r := range results {
		t.Logf("rotation %d: %d re-sealed of %d pending", i, r.Resealed, r.Pending)
		total += r.Resealed
		assert.Zero(t, r.Unusable)
		assert.Zero(t, r.Remaining)
	}
	assert.Equal(t, 3000, total, "each row re-sealed once")
	var left int
	require.NoError(t, stores[0].Pool().QueryRow(context.Background(),
		`SELECT count(*) FROM auth_vault WHERE key_id IS DISTINCT FROM $1`, ring(t, newKey).CurrentKeyID()).Scan(&left))
	assert.Zero(t, left)
}
