package sessions_test

import (
	"context"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/auth-manager/auth-manager/internal/caller"
	"github.com/auth-manager/auth-manager/internal/keycloak"
	"github.com/auth-manager/auth-manager/internal/sessions"
	"github.com/auth-manager/auth-manager/internal/store"
	"github.com/auth-manager/auth-manager/internal/testenv"
	"github.com/auth-manager/auth-manager/internal/vault"
)

// noSessions is an admin API that knows no session.
type noSessions struct{}

func (noSessions) UserSessions(context.Context, string) ([]keycloak.Session, error) { return nil, nil }
func (noSessions) OfflineSessions(context.Context, string) ([]keycloak.Session, error) {
	return nil, nil
}
func (noSessions) DeleteSession(context.Context, string, bool) error { return keycloak.ErrNotFound }
func (noSessions) ClientSessions(context.Context, bool, int, int) ([]keycloak.Session, error) {
	return nil, nil
}

type noCache struct{}

func (noCache) Evict(string) {}

func TestListNeedsTheRightCaller(t *testing.T) {
	st, err := store.Open(context.Background(), store.Options{URL: testenv.Database(t), MaxConns: 2}, testenv.DiscardLogger())
	require.NoError(t, err)
	t.Cleanup(st.Close)
	m, err := st.NewMigrator()
	require.NoError(t, err)
	_, err = m.Up(context.Background())
	require.NoError(t, err)
	m.Close()
	svc := sessions.New(vault.New(st, nil, nil, vault.Options{}), noSessions{}, noCache{}, sessions.Options{})
	me := caller.Caller{Subject: uuid.NewString(), SessionID: "s"}
	_, err = svc.List(context.Background(), me, uuid.NewString())
	assert.ErrorIs(t, err, vault.ErrForbidden)
	list, err := svc.List(context.Background(), me, "")
	require.NoError(t, err)
	assert.Empty(t, list)
}
