package store

import (
	"context"
	"time"

	"github.com/google/uuid"
)

// The queries of session management: rows bound to a Keycloak session or a user
// deleted at once, and back-channel logout replay protection (migration 5).

func typeLabels(types []TokenType) []string {
	out := make([]string, 0, len(types))
	for _, t := range types {
		out = append(out, string(t))
	}
	return out
}

const deleteBySessionSQL = `DELETE FROM auth_vault
WHERE session_state_id = $1 AND ($2 = '' OR user_id::text = $2) AND token_type::text = ANY($3)
RETURNING ` + metaColumns

// DeleteBySession deletes the rows of the given types bound to Keycloak session sid
// (and owned by userID, unless it is "") and returns their metadata, appending their
// events (why) in the same transaction. The eviction trigger tells every replica.
func (s *Store) DeleteBySession(ctx context.Context, sid, userID string, why Why, types ...TokenType) ([]Meta, error) {
	if sid == "" || len(types) == 0 {
		return nil, nil
	}
	return s.deleteRows(ctx, "delete by session", why, deleteBySessionSQL, sid, userID, typeLabels(types))
}

const deleteByUserSQL = `DELETE FROM auth_vault WHERE user_id = $1 AND token_type::text = ANY($2) RETURNING ` + metaColumns

// DeleteByUser deletes userID's rows of the given types and returns their metadata,
// appending their events (why) in the same transaction.
func (s *Store) DeleteByUser(ctx context.Context, userID string, why Why, types ...TokenType) ([]Meta, error) {
	if uuid.Validate(userID) != nil || len(types) == 0 {
		return nil, nil
	}
	return s.deleteRows(ctx, "delete by user", why, deleteByUserSQL, userID, typeLabels(types))
}

const deleteRowsSQL = `DELETE FROM auth_vault WHERE id = ANY($1::uuid[]) AND session_state_id = $2 RETURNING ` + metaColumns

// DeleteRows deletes the rows with the given ids that are still bound to session sid,
// appending their events (why) in the same transaction.
func (s *Store) DeleteRows(ctx context.Context, sid string, ids []string, why Why) ([]Meta, error) {
	valid := make([]string, 0, len(ids))
	for _, id := range ids {
		if uuid.Validate(id) == nil {
			valid = append(valid, id)
		}
	}
	if len(valid) == 0 {
		return nil, nil
	}
	return s.deleteRows(ctx, "delete rows", why, deleteRowsSQL, valid, sid)
}

const recordJTISQL = `INSERT INTO backchannel_logout_jti (jti, expires_at) VALUES ($1, $2) ON CONFLICT (jti) DO NOTHING`

// RecordLogoutJTI remembers the jti of an accepted logout token until expiresAt. It
// reports false when the jti was already there: the token is a replay. The primary
// key makes this hold across replicas.
func (s *Store) RecordLogoutJTI(ctx context.Context, jti string, expiresAt time.Time) (fresh bool, err error) {
	tag, err := s.pool.Exec(ctx, recordJTISQL, jti, expiresAt)
	if err != nil {
		return false, wrap("record logout jti", err)
	}
	return tag.RowsAffected() == 1, nil
}

const purgeJTISQL = `DELETE FROM backchannel_logout_jti WHERE expires_at < $1`

// PurgeLogoutJTIs forgets the jtis whose tokens expired before now.
func (s *Store) PurgeLogoutJTIs(ctx context.Context, now time.Time) (int64, error) {
	tag, err := s.pool.Exec(ctx, purgeJTISQL, now)
	if err != nil {
		return 0, wrap("purge logout jtis", err)
	}
	return tag.RowsAffected(), nil
}

// WithAdvisoryLock runs fn while holding PostgreSQL's session advisory lock key on a
// connection of its own, if no other session holds it; ran is false when one does.
// The lock goes with the connection, so a crashed holder never keeps it.
func (s *Store) WithAdvisoryLock(ctx context.Context, key int64, fn func(ctx context.Context) error) (ran bool, err error) {
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return false, wrap("advisory lock: acquire", err)
	}
	var got bool
	if err := conn.QueryRow(ctx, `SELECT pg_try_advisory_lock($1)`, key).Scan(&got); err != nil {
		conn.Release()
		return false, wrap("advisory lock", err)
	}
	if !got {
		conn.Release()
		return false, nil
	}
	defer func() {
		uctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		if _, uerr := conn.Exec(uctx, `SELECT pg_advisory_unlock($1)`, key); uerr != nil {
			// Never hand a connection that may still hold the lock back to the pool.
			_ = conn.Conn().Close(uctx)
		}
		conn.Release()
	}()
	return true, fn(ctx)
}
