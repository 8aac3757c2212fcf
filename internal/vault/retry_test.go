package vault_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/auth-manager/auth-manager/internal/audit"
	"github.com/auth-manager/auth-manager/internal/keycloak"
	"github.com/auth-manager/auth-manager/internal/store"
	"github.com/auth-manager/auth-manager/internal/testenv"
	"github.com/auth-manager/auth-manager/internal/vault"
)

var errRollback = errors.New("rolled back by the test")

// failingCommit is the real store whose next failures Updates run the vault's closure
// (Keycloak is asked) and then fail as a lost connection at commit would.
type failingCommit struct {
	*store.Store
	failures int
}

func (f *failingCommit) Update(ctx context.Context, id string, fn func(context.Context, store.Row, *store.Access) (store.Change, error)) (store.Row, error) {
	if f.failures == 0 {
		return f.Store.Update(ctx, id, fn)
	}
	f.failures--
	_, err := f.Store.Update(ctx, id, func(ctx context.Context, cur store.Row, minted *store.Access) (store.Change, error) {
		if _, err := fn(ctx, cur, minted); err != nil {
			return store.Change{}, err
		}
		return store.Change{}, errRollback
	})
	if errors.Is(err, errRollback) {
		return store.Row{}, fmt.Errorf("%w: commit: connection reset by peer", store.ErrUnavailable)
	}
	return store.Row{}, err
}

// rotatingKeycloak answers every presentation with a new successor.
type rotatingKeycloak struct {
	user      string
	presented []string
	issued    []string
}

func (k *rotatingKeycloak) exchange(_ context.Context, token string) (keycloak.TokenSet, error) {
	k.presented = append(k.presented, token)
	next := jwt("Offline", k.user)
	k.issued = append(k.issued, next)
	return keycloak.TokenSet{AccessToken: "access", RefreshToken: next}, nil
}

// rotation is a realm's rotation setting, fixed.
type rotation keycloak.Rotation

func (r rotation) Current(context.Context) keycloak.Rotation { return keycloak.Rotation(r) }

// TestRetryOnceWhenTheCommitFailed: with rotation and max reuse ≥ 1 a refresh whose write-back failed after Keycloak answered presents the same
// stored token once more and stores that successor; without it, or when the second
// commit fails too, the error stands and the row is as it was.
func TestRetryOnceWhenTheCommitFailed(t *testing.T) {
	testenv.Integration(t)
	st := openStore(t)
	ring := testRing(t, newKeyHex)
	cases := []struct {
		name              string
		retry             bool
		failures          int
		ok                bool
		wantPresentations int
	}{
		{"retried once and stored", true, 1, true, 2},
		{"not retried without max reuse", false, 1, false, 1},
		{"retried only once", true, 2, false, 2},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			user := uuid.NewString()
			token := jwt("Offline", user)
			row := put(t, st, ring, user, store.Offline, token, false)
			fs := &failingCommit{Store: st, failures: tc.failures}
			v := vault.New(fs, ring, nil, vault.Options{Log: testenv.DiscardLogger(), Audit: audit.New(slog.New(slog.DiscardHandler), nil),
				Rotation: rotation{On: true, MaxReuse: map[bool]int{true: 1, false: 0}[tc.retry]}})
			kc := &rotatingKeycloak{user: user}

			_, err := v.Refresh(context.Background(), row.ID, kc.exchange, vault.StoreSuccessor)
			assert.Len(t, kc.presented, tc.wantPresentations)
			for _, p := range kc.presented {
				assert.Equal(t, token, p, "always the stored token")
			}
			after, gerr := st.Get(context.Background(), row.ID)
			require.NoError(t, gerr)
			stored, oerr := v.Open(after)
			require.NoError(t, oerr)
			if tc.ok {
				require.NoError(t, err)
				assert.Equal(t, kc.issued[len(kc.issued)-1], stored, "the retry's successor is stored")
				return
			}
			require.ErrorIs(t, err, store.ErrUnavailable)
			assert.Equal(t, token, stored, "the row is as it was")
		})
	}
}
