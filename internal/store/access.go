package store

import (
	"context"
	"errors"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// Access is the access token last minted from a vault row, sealed (auth_vault_access),
// with what an answer needs besides the token. Only package vault reads or writes one.
type Access struct {
	EncryptedToken, IV, MAC, KeyID string
	TokenType                      string
	Scope                          string
	ExpiresAt                      time.Time
}

const accessColumns = `a.encrypted_token, a.iv, a.mac, a.key_id, a.token_type, a.scope, a.expires_at`

// accessScan receives accessColumns, which a LEFT JOIN leaves NULL when nothing is
// stored.
type accessScan struct {
	ct, iv, mac, kid, typ, scope *string
	exp                          *time.Time
}

func (a *accessScan) dest() []any {
	return []any{&a.ct, &a.iv, &a.mac, &a.kid, &a.typ, &a.scope, &a.exp}
}

// access is what was scanned, or nil when nothing is stored.
func (a *accessScan) access() *Access {
	if a.ct == nil || a.iv == nil || a.mac == nil || a.kid == nil || a.typ == nil || a.scope == nil || a.exp == nil {
		return nil
	}
	return &Access{EncryptedToken: *a.ct, IV: *a.iv, MAC: *a.mac, KeyID: *a.kid, TokenType: *a.typ, Scope: *a.scope, ExpiresAt: *a.exp}
}

// getWithAccessSQL reads a row's metadata (not its sealed token) and its stored access
// token in one round trip.
const getWithAccessSQL = `
SELECT v.id::text, v.user_id::text, v.token_type::text, v.attributes, v.session_state_id, v.created_at,
	v.updated_at, v.status, coalesce(v.last_error, ''), v.last_used_at, ` + accessColumns + `
FROM auth_vault v LEFT JOIN auth_vault_access a ON a.row_id = v.id
WHERE v.id = $1`

// GetWithAccess returns the metadata of row id and the access token stored for it
// (nil when none is), or ErrNotFound (also for a malformed id).
func (s *Store) GetWithAccess(ctx context.Context, id string) (Meta, *Access, error) {
	if uuid.Validate(id) != nil {
		return Meta{}, nil, ErrNotFound
	}
	var m Meta
	var typ, status string
	var a accessScan
	dest := append([]any{&m.ID, &m.UserID, &typ, &m.Attributes, &m.SessionID, &m.CreatedAt,
		&m.UpdatedAt, &status, &m.LastError, &m.LastUsedAt}, a.dest()...)
	if err := s.pool.QueryRow(ctx, getWithAccessSQL, id).Scan(dest...); err != nil {
		return Meta{}, nil, wrap("get with access token", err)
	}
	m.Type, m.Status = TokenType(typ), Status(status)
	return m, a.access(), nil
}

const lockedAccessSQL = `SELECT ` + accessColumns + ` FROM auth_vault_access a WHERE a.row_id = $1`

// scanAccess receives lockedAccessSQL: the access token stored for a row, or nil when
// none is. Its caller holds the row's lock, under which every write of it happens.
func scanAccess(r pgx.Row) (*Access, error) {
	var a accessScan
	err := r.Scan(a.dest()...)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, wrap("read access token", err)
	}
	return a.access(), nil
}

const putAccessSQL = `
INSERT INTO auth_vault_access (row_id, encrypted_token, iv, mac, key_id, token_type, scope, expires_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
ON CONFLICT (row_id) DO UPDATE SET encrypted_token = EXCLUDED.encrypted_token, iv = EXCLUDED.iv,
	mac = EXCLUDED.mac, key_id = EXCLUDED.key_id, token_type = EXCLUDED.token_type, scope = EXCLUDED.scope,
	expires_at = EXCLUDED.expires_at, minted_at = now()`

func putAccessArgs(id string, a Access) []any {
	return []any{id, a.EncryptedToken, a.IV, a.MAC, a.KeyID, a.TokenType, a.Scope, a.ExpiresAt}
}
