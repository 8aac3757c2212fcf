package backchannel_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/go-jose/go-jose/v4"
	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/auth-manager/auth-manager/internal/audit"
	"github.com/auth-manager/auth-manager/internal/backchannel"
	"github.com/auth-manager/auth-manager/internal/keycloak"
	"github.com/auth-manager/auth-manager/internal/problem"
	"github.com/auth-manager/auth-manager/internal/reqctx"
	"github.com/auth-manager/auth-manager/internal/store"
	"github.com/auth-manager/auth-manager/internal/testenv"
	"github.com/auth-manager/auth-manager/internal/vault"
)

// These tests drive the session service against a real, migrated PostgreSQL with a
// Keycloak admin API stand-in and logout tokens signed by a key of their own: what the
// real Keycloak cannot be made to send (sub-only tokens, revoke_offline_access on
// demand, answers at a chosen moment).

const (
	issuer = "http://127.0.0.1:8080/realms/unit"
	client = "auth-manager"
)

var signingKey = func() *rsa.PrivateKey {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	return k
}()

func openStore(t *testing.T) *store.Store { return testenv.MigratedStore(t, 8) }

// fakeAdmin answers the admin API from maps of live session ids.
type fakeAdmin struct {
	mu      sync.Mutex
	online  map[string][]string // user → session ids
	offline map[string][]string
	err     error
}

func (f *fakeAdmin) list(m map[string][]string, user string) ([]keycloak.Session, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return nil, f.err
	}
	var out []keycloak.Session
	for _, id := range m[user] {
		out = append(out, keycloak.Session{ID: id, UserID: user, Clients: map[string]string{"uuid": client}})
	}
	return out, nil
}

func (f *fakeAdmin) UserSessions(_ context.Context, user string) ([]keycloak.Session, error) {
	return f.list(f.online, user)
}

func (f *fakeAdmin) OfflineSessions(_ context.Context, user string) ([]keycloak.Session, error) {
	return f.list(f.offline, user)
}

func (f *fakeAdmin) DeleteSession(context.Context, string, bool) error { return errors.New("not used") }

func (f *fakeAdmin) ClientSessions(context.Context, bool, int, int) ([]keycloak.Session, error) {
	return nil, errors.New("not used")
}

type evictions struct {
	mu  sync.Mutex
	ids []string
}

func (e *evictions) Evict(id string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.ids = append(e.ids, id)
}

func newService(st *store.Store, admin backchannel.Admin, ev backchannel.Evicter) *backchannel.Receiver {
	return newAuditedService(st, admin, ev, nil)
}

// newAuditedService is newService whose vault records its audit events with log.
func newAuditedService(st *store.Store, admin backchannel.Admin, ev backchannel.Evicter, log *audit.Logger) *backchannel.Receiver {
	v := backchannel.NewVerifierWithKeys(&oidc.StaticKeySet{PublicKeys: []crypto.PublicKey{signingKey.Public()}}, issuer, client, nil)
	// These tests never open a token: the vault needs no key ring.
	return backchannel.New(st, vault.New(st, nil, nil, vault.Options{Audit: log}), admin, ev, v, backchannel.Options{Log: testenv.DiscardLogger(),
		ReconcileDelays: []time.Duration{10 * time.Millisecond}})
}

func logoutToken(t *testing.T, edit func(c map[string]any)) string {
	t.Helper()
	c := map[string]any{"iss": issuer, "aud": client, "iat": time.Now().Unix(), "exp": time.Now().Add(2 * time.Minute).Unix(),
		"jti": uuid.NewString(), "events": map[string]any{backchannel.BackchannelLogoutEvent: map[string]any{}}}
	edit(c)
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: signingKey}, (&jose.SignerOptions{}).WithType("logout+jwt"))
	require.NoError(t, err)
	payload, err := json.Marshal(c)
	require.NoError(t, err)
	jws, err := signer.Sign(payload)
	require.NoError(t, err)
	raw, err := jws.CompactSerialize()
	require.NoError(t, err)
	return raw
}

// putRow stores a row with a placeholder seal: these tests never open a token.
func putRow(t *testing.T, st *store.Store, user, sid string, typ store.TokenType) string {
	t.Helper()
	row, err := st.Create(context.Background(), store.Row{Meta: store.Meta{ID: store.NewID(), UserID: user, Type: typ, SessionID: sid},
		Sealing: store.Sealing{EncryptedToken: "00", IV: "00", TokenHash: uuid.NewString()}})
	require.NoError(t, err)
	return row.ID
}

func exists(t *testing.T, st *store.Store, id string) bool {
	t.Helper()
	_, err := st.Get(context.Background(), id)
	if errors.Is(err, store.ErrNotFound) {
		return false
	}
	require.NoError(t, err)
	return true
}

func TestLogoutBySubjectOnly(t *testing.T) {
	st := openStore(t)
	user, other := uuid.NewString(), uuid.NewString()
	refresh := putRow(t, st, user, "s1", store.Refresh)
	offline := putRow(t, st, user, "s1", store.Offline)
	othersRefresh := putRow(t, st, other, "s9", store.Refresh)
	ev := &evictions{}
	svc := newService(st, &fakeAdmin{}, ev)

	out, err := svc.Logout(context.Background(), logoutToken(t, func(c map[string]any) { c["sub"] = user }))
	require.NoError(t, err)
	assert.Equal(t, 1, out.TokensDeleted)
	assert.True(t, out.Reconciling)
	assert.False(t, exists(t, st, refresh))
	assert.True(t, exists(t, st, offline), "an offline token outlives a logout")
	assert.True(t, exists(t, st, othersRefresh))
	assert.Equal(t, []string{refresh}, ev.ids)
}

// TestOnlySignedLogoutTokensAreAudited: a request whose logout token fails before its
// signature verifies (no token, as doctor's probe sends, garbage, another key) is no
// one's action and writes no audit event; a token the realm signed is audited, also
// when its claims are refused.
func TestOnlySignedLogoutTokensAreAudited(t *testing.T) {
	st := openStore(t)
	var logs bytes.Buffer
	v := backchannel.NewVerifierWithKeys(&oidc.StaticKeySet{PublicKeys: []crypto.PublicKey{signingKey.Public()}}, issuer, client, nil)
	svc := backchannel.New(st, vault.New(st, nil, nil, vault.Options{}), &fakeAdmin{}, &evictions{}, v,
		backchannel.Options{Log: testenv.DiscardLogger(), Audit: audit.New(slog.New(slog.NewJSONHandler(&logs, nil)), nil)})
	otherKey, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: otherKey}, (&jose.SignerOptions{}).WithType("logout+jwt"))
	require.NoError(t, err)
	jws, err := signer.Sign([]byte(`{"iss":"` + issuer + `","aud":"` + client + `","sub":"u"}`))
	require.NoError(t, err)
	otherSigned, err := jws.CompactSerialize()
	require.NoError(t, err)

	for _, raw := range []string{"", "garbage", otherSigned} {
		_, err := svc.Logout(context.Background(), raw)
		require.ErrorIs(t, err, backchannel.ErrUnverified)
	}
	assert.Empty(t, logs.String(), "nothing audited")

	_, err = svc.Logout(context.Background(), logoutToken(t, func(c map[string]any) {
		c["sub"], c["iat"] = "u", time.Now().Add(-time.Hour).Unix()
	}))
	require.ErrorIs(t, err, backchannel.ErrInvalidLogoutToken)
	require.NotErrorIs(t, err, backchannel.ErrUnverified)
	assert.Contains(t, logs.String(), `"event":"backchannel_logout"`)
	assert.Contains(t, logs.String(), `"error_code":"invalid_request:stale"`)
}

func TestLogoutRevokeOfflineAccess(t *testing.T) {
	st := openStore(t)
	user := uuid.NewString()
	refresh := putRow(t, st, user, "s1", store.Refresh)
	offline := putRow(t, st, user, "s1", store.Offline)
	otherSession := putRow(t, st, user, "s2", store.Offline)
	svc := newService(st, &fakeAdmin{}, &evictions{})

	out, err := svc.Logout(context.Background(), logoutToken(t, func(c map[string]any) {
		c["sub"], c["sid"] = user, "s1"
		c["events"] = map[string]any{backchannel.BackchannelLogoutEvent: map[string]any{}, "revoke_offline_access": true}
	}))
	require.NoError(t, err)
	assert.Equal(t, 2, out.TokensDeleted)
	assert.False(t, exists(t, st, refresh))
	assert.False(t, exists(t, st, offline))
	assert.True(t, exists(t, st, otherSession), "only the session named")
}

func TestLogoutSIDOfAnotherUserDeletesNothing(t *testing.T) {
	st := openStore(t)
	user := uuid.NewString()
	refresh := putRow(t, st, user, "s1", store.Refresh)
	svc := newService(st, &fakeAdmin{}, &evictions{})
	out, err := svc.Logout(context.Background(), logoutToken(t, func(c map[string]any) { c["sub"], c["sid"] = uuid.NewString(), "s1" }))
	require.NoError(t, err)
	assert.Zero(t, out.TokensDeleted)
	assert.True(t, exists(t, st, refresh))
}

func TestLogoutJTIOnceAcrossReplicasAndPurged(t *testing.T) {
	st := openStore(t)
	replicaA := newService(st, &fakeAdmin{}, &evictions{})
	replicaB := newService(st, &fakeAdmin{}, &evictions{})
	tok := logoutToken(t, func(c map[string]any) { c["sub"] = uuid.NewString() })
	_, err := replicaA.Logout(context.Background(), tok)
	require.NoError(t, err)
	_, err = replicaB.Logout(context.Background(), tok)
	var te *problem.Error
	require.ErrorAs(t, err, &te)
	assert.Equal(t, "replayed", te.Reason)

	fresh, err := st.RecordLogoutJTI(context.Background(), "old", time.Now().Add(-time.Minute))
	require.NoError(t, err)
	require.True(t, fresh)
	_, err = replicaA.Logout(context.Background(), logoutToken(t, func(c map[string]any) { c["sub"] = uuid.NewString() }))
	require.NoError(t, err)
	var left int
	require.NoError(t, st.Pool().QueryRow(context.Background(),
		`SELECT count(*) FROM backchannel_logout_jti WHERE jti = 'old'`).Scan(&left))
	assert.Zero(t, left, "an expired jti is purged")
	n, err := st.PurgeLogoutJTIs(context.Background(), time.Now().Add(time.Hour))
	require.NoError(t, err)
	assert.Equal(t, int64(2), n, "the others are kept until they expire")
}

func TestReconcile(t *testing.T) {
	st := openStore(t)
	user, other := uuid.NewString(), uuid.NewString()
	deadRefresh := putRow(t, st, user, "online-gone", store.Refresh)
	liveOffline := putRow(t, st, user, "offline-live", store.Offline)
	offlineOfEndedLogin := putRow(t, st, user, "online-gone", store.Offline) // its offline session lives on
	deadOffline := putRow(t, st, user, "offline-gone", store.Offline)
	othersRefresh := putRow(t, st, other, "online-gone", store.Refresh)
	liveRefresh := putRow(t, st, uuid.NewString(), "live", store.Refresh)
	admin := &fakeAdmin{
		online:  map[string][]string{user: {"elsewhere"}},
		offline: map[string][]string{user: {"offline-live", "online-gone"}},
	}
	ev := &evictions{}
	var logs bytes.Buffer
	svc := newAuditedService(st, admin, ev, audit.New(slog.New(slog.NewJSONHandler(&logs, nil)), nil))

	t.Run("Keycloak failing deletes nothing", func(t *testing.T) {
		admin.err = keycloak.ErrUnavailable
		_, err := svc.Reconcile(context.Background(), context.Background(), user)
		require.ErrorIs(t, err, keycloak.ErrUnavailable)
		admin.err = nil
		for _, id := range []string{deadRefresh, liveOffline, offlineOfEndedLogin, deadOffline} {
			assert.True(t, exists(t, st, id))
		}
	})
	n, err := svc.Reconcile(context.Background(), reqctx.WithRequestID(context.Background(), "req-of-the-logout"), user)
	require.NoError(t, err)
	assert.Equal(t, 2, n)
	for _, id := range []string{deadRefresh, deadOffline} {
		assert.Regexp(t, `"event":"token_deleted","request_id":"req-of-the-logout".*"row_id":"`+id+`".*"detail":"session ended at Keycloak"`,
			logs.String(), "the vault audits each deletion with the logout's request id")
	}
	assert.Equal(t, 2, strings.Count(logs.String(), `"event":"token_deleted"`))
	assert.False(t, exists(t, st, deadRefresh))
	assert.False(t, exists(t, st, deadOffline))
	assert.True(t, exists(t, st, liveOffline))
	assert.True(t, exists(t, st, offlineOfEndedLogin))
	assert.True(t, exists(t, st, othersRefresh), "only the user's rows")
	assert.True(t, exists(t, st, liveRefresh))
	assert.ElementsMatch(t, []string{deadRefresh, deadOffline}, ev.ids)
}

func TestLogoutIsFollowedByReconciliation(t *testing.T) {
	st := openStore(t)
	user := uuid.NewString()
	notified := putRow(t, st, user, "s1", store.Refresh)
	silent := putRow(t, st, user, "s2", store.Offline) // its offline session ended without a notice
	admin := &fakeAdmin{online: map[string][]string{}, offline: map[string][]string{}}
	svc := newService(st, admin, &evictions{})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { svc.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })

	_, err := svc.Logout(context.Background(), logoutToken(t, func(c map[string]any) { c["sub"], c["sid"] = user, "s1" }))
	require.NoError(t, err)
	assert.False(t, exists(t, st, notified))
	require.Eventually(t, func() bool { return !exists(t, st, silent) }, 5*time.Second, 10*time.Millisecond)
}
