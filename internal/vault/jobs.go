package vault

import (
	"context"
	"errors"
	"time"

	"github.com/auth-manager/auth-manager/internal/store"
)

// The vault's side of the background jobs (keep-alive, clean-up): they answer for the
// system, which has no caller, and check no ownership.

// jobStore is the repository the jobs reach through the vault.
type jobStore interface {
	ClaimIdle(ctx context.Context, idleSince, now, until time.Time, limit int) ([]store.Meta, error)
	SetClaims(ctx context.Context, ids []string, until *time.Time) error
	IdlePage(ctx context.Context, idleSince time.Time, after store.Cursor, limit int) ([]store.Meta, store.Cursor, error)
	DeleteInvalid(ctx context.Context, markedBefore time.Time, limit int, why store.Why) ([]store.Meta, error)
	InvalidPage(ctx context.Context, markedBefore time.Time, after store.Cursor, limit int) ([]store.Meta, store.Cursor, error)
}

// Cursor is a position in a dry run's walk (the zero Cursor starts).
type Cursor = store.Cursor

// ClaimIdle claims, until until, up to limit active OFFLINE rows unused since
// idleSince that no other worker has claimed at now, the longest idle first. Workers
// on every replica call it at once; none gets a row another holds.
func (s *Service) ClaimIdle(ctx context.Context, idleSince, now, until time.Time, limit int) ([]Meta, error) {
	return s.st.ClaimIdle(ctx, idleSince, now, until, limit)
}

// SetClaims moves the claims on rows ids to until (nil: gives them up).
func (s *Service) SetClaims(ctx context.Context, ids []string, until *time.Time) error {
	return s.st.SetClaims(ctx, ids, until)
}

// IdlePage lists, without claiming, up to limit active OFFLINE rows unused since
// idleSince after cursor (a dry run), and the next cursor.
func (s *Service) IdlePage(ctx context.Context, idleSince time.Time, after Cursor, limit int) ([]Meta, Cursor, error) {
	return s.st.IdlePage(ctx, idleSince, after, limit)
}

// DeleteInvalid deletes up to limit rows marked invalid before markedBefore, the oldest
// mark first, and returns them (the keep-alive job's clean-up). Concurrent callers
// delete disjoint batches. Each row's event is session.ended when Keycloak's refusal
// said the session is over, token.deleted otherwise, with the cause cleanup.
func (s *Service) DeleteInvalid(ctx context.Context, markedBefore time.Time, limit int) ([]Meta, error) {
	return s.st.DeleteInvalid(ctx, markedBefore, limit, store.Why{Cause: store.CauseCleanup})
}

// InvalidPage lists, without deleting, up to limit rows marked invalid before
// markedBefore after cursor (a dry run), and the next cursor.
func (s *Service) InvalidPage(ctx context.Context, markedBefore time.Time, after Cursor, limit int) ([]Meta, Cursor, error) {
	return s.st.InvalidPage(ctx, markedBefore, after, limit)
}

// ErrNotIdle means RefreshIdle left the row alone: it is no longer an active row
// unused since the given time (a caller's refresh, another worker's, or Keycloak's
// refusal changed it since it was claimed).
var ErrNotIdle = errors.New("vault: row no longer idle")

// RefreshIdle is Refresh for the keep-alive job: under the row's lock it presents the
// stored token through exchange and stores the successor, but only while the row is
// still active and unused since idleSince (ErrNotIdle otherwise, without a Keycloak
// call). A claim that outlived its worker therefore never makes a row refresh twice.
// It puts nothing in any cache.
func (s *Service) RefreshIdle(ctx context.Context, id string, idleSince time.Time, exchange Exchange) error {
	_, err := s.present(ctx, id, exchange, plan{succ: StoreSuccessor, want: func(cur store.Row) bool {
		return cur.Status == store.StatusActive && lastUse(cur.Meta).Before(idleSince)
	}})
	return err
}

func lastUse(m Meta) time.Time {
	if m.LastUsedAt != nil {
		return *m.LastUsedAt
	}
	return m.CreatedAt
}
