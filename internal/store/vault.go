package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// TokenType is the auth_token_type enum; its labels are upper-case in the database.
type TokenType string

// Token types.
const (
	Refresh TokenType = "REFRESH"
	Offline TokenType = "OFFLINE"
)

// Row is one auth_vault row: what may be shown of it (Meta) and its sealed token
// (Sealing). The token is only ever here as ciphertext, and only package vault reads
// or writes a Sealing.
type Row struct {
	Meta
	Sealing
}

// Meta is a row without its token: safe to hand to any package.
type Meta struct {
	ID         string
	UserID     string
	Type       TokenType
	Attributes map[string]any
	SessionID  string
	CreatedAt  time.Time
	UpdatedAt  *time.Time
	Status     Status     // StatusActive unless Keycloak refused the token for good
	LastError  string     // why the row is invalid ("invalid_grant: …"); never a token
	LastUsedAt *time.Time // last access token obtained from the row
	// ExpiresAt is when the row's grant reaches its hard deadline, as last forecast
	// (nil: none known), and ExpiresBasis how it was derived ("": not forecast yet).
	// Filled by the listing of a user's rows only.
	ExpiresAt    *time.Time
	ExpiresBasis string
}

// Status is a row's health.
type Status string

// Row statuses.
const (
	StatusActive  Status = "active"
	StatusInvalid Status = "invalid"
)

// Sealing is the part of a row that changes when its token is (re-)sealed. MAC and
// KeyID are "" for a legacy row (written by the Python service).
type Sealing struct {
	EncryptedToken, IV, TokenHash, MAC, KeyID string
}

// metaColumns is a row without its sealing. The ciphertext is stored out of line
// (TOAST): a query that needs only metadata selects these and never reads it.
const metaColumns = `id::text, user_id::text, token_type::text, attributes, session_state_id, created_at, updated_at,
	status, coalesce(last_error, ''), last_used_at`

// rowColumns is the whole row: metaColumns, then the sealing.
const rowColumns = metaColumns + `, encrypted_token, iv, coalesce(token_hash, ''), coalesce(mac, ''), coalesce(key_id, '')`

func metaDest(m *Meta, typ, status *string) []any {
	return []any{&m.ID, &m.UserID, typ, &m.Attributes, &m.SessionID, &m.CreatedAt, &m.UpdatedAt, status, &m.LastError, &m.LastUsedAt}
}

func scanMeta(r pgx.Row) (Meta, error) {
	var m Meta
	var typ, status string
	err := r.Scan(metaDest(&m, &typ, &status)...)
	m.Type, m.Status = TokenType(typ), Status(status)
	return m, err
}

func scanRow(r pgx.Row) (Row, error) {
	var row Row
	var typ, status string
	err := r.Scan(append(metaDest(&row.Meta, &typ, &status),
		&row.EncryptedToken, &row.IV, &row.TokenHash, &row.MAC, &row.KeyID)...)
	row.Type, row.Status = TokenType(typ), Status(status)
	return row, err
}

func collect(rows pgx.Rows, err error) ([]Row, error) {
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (Row, error) { return scanRow(r) })
}

func collectMeta(rows pgx.Rows, err error) ([]Meta, error) {
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (Meta, error) { return scanMeta(r) })
}

// NewID returns a fresh row id. Ids are chosen before sealing because the seal binds
// the row's identity.
func NewID() string { return uuid.NewString() }

// jsonArg is m as a JSON document for a jsonb parameter, nil (NULL) when m is nil. pgx
// encodes a map itself only when it knows the parameter's type, which it does not in
// the exec mode used behind a transaction pooler: text is understood in every mode.
func jsonArg(m map[string]any) any {
	if m == nil {
		return nil
	}
	b, err := json.Marshal(m)
	if err != nil {
		// Values of a map[string]any read from JSON always marshal; anything else is a
		// programming error that the statement would refuse as well.
		return m
	}
	return string(b)
}

func nullable(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

const insertSQL = `
INSERT INTO auth_vault (id, user_id, token_type, encrypted_token, iv, token_hash, mac, key_id, attributes, session_state_id)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
ON CONFLICT DO NOTHING
RETURNING ` + rowColumns

// Create inserts row (whose ID the caller chose). ErrConflict means a unique rule
// refused it (a second REFRESH row for the user).
func (s *Store) Create(ctx context.Context, row Row) (Row, error) {
	out, err := scanRow(s.pool.QueryRow(ctx, insertSQL, row.ID, row.UserID, string(row.Type), row.EncryptedToken,
		row.IV, row.TokenHash, nullable(row.MAC), nullable(row.KeyID), jsonArg(row.Attributes), row.SessionID))
	if errors.Is(err, pgx.ErrNoRows) {
		return Row{}, ErrConflict
	}
	return out, wrap("create", err)
}

// ErrConflict means the row would break a unique rule.
var ErrConflict = errors.New("store: conflict")

// ErrTooMany means the user already holds as many rows as the cap allows.
var ErrTooMany = errors.New("store: the user's row cap is reached")

// lockUserSQL serialises the writes that add a row for one user (the cap is counted,
// then the row inserted, in one transaction). A transaction-scoped advisory lock: it is
// released at commit, also behind a transaction-pooling proxy.
const lockUserSQL = `SELECT pg_advisory_xact_lock(hashtextextended('auth_vault:' || $1::text, 0))`

const countUserSQL = `SELECT count(*) FROM auth_vault WHERE user_id = $1`

// underCap takes the user's lock and reports ErrTooMany when the user holds max rows
// or more (max 0: no cap).
func underCap(ctx context.Context, tx pgx.Tx, userID string, max int) error {
	if max <= 0 {
		return nil
	}
	if _, err := tx.Exec(ctx, lockUserSQL, userID); err != nil {
		return wrap("lock user", err)
	}
	var n int
	if err := tx.QueryRow(ctx, countUserSQL, userID).Scan(&n); err != nil {
		return wrap("count user rows", err)
	}
	if n >= max {
		return ErrTooMany
	}
	return nil
}

// CountByUser is the number of rows userID holds (the index on user_id, no ciphertext
// read).
func (s *Store) CountByUser(ctx context.Context, userID string) (int, error) {
	if uuid.Validate(userID) != nil {
		return 0, nil
	}
	var n int
	err := s.pool.QueryRow(ctx, countUserSQL, userID).Scan(&n)
	return n, wrap("count user rows", err)
}

// CreateWithin inserts row like Create, unless its user already holds max rows
// (ErrTooMany; max 0: no cap). Concurrent creates for one user are counted one after
// the other, so the cap holds under any concurrency.
func (s *Store) CreateWithin(ctx context.Context, row Row, max int) (Row, error) {
	var out Row
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if err := underCap(ctx, tx, row.UserID, max); err != nil {
			return err
		}
		var err error
		out, err = scanRow(tx.QueryRow(ctx, insertSQL, row.ID, row.UserID, string(row.Type), row.EncryptedToken,
			row.IV, row.TokenHash, nullable(row.MAC), nullable(row.KeyID), jsonArg(row.Attributes), row.SessionID))
		if errors.Is(err, pgx.ErrNoRows) {
			return ErrConflict
		}
		return wrap("create", err)
	})
	if err != nil {
		return Row{}, classifyTx(err)
	}
	return out, nil
}

const getSQL = `SELECT ` + rowColumns + ` FROM auth_vault WHERE id = $1`

// Get returns the row with id, or ErrNotFound (also for a malformed id).
func (s *Store) Get(ctx context.Context, id string) (Row, error) {
	if uuid.Validate(id) != nil {
		return Row{}, ErrNotFound
	}
	row, err := scanRow(s.pool.QueryRow(ctx, getSQL, id))
	return row, wrap("get", err)
}

const getMetaSQL = `SELECT ` + metaColumns + ` FROM auth_vault WHERE id = $1`

// GetMeta returns the metadata of the row with id, or ErrNotFound (also for a
// malformed id).
func (s *Store) GetMeta(ctx context.Context, id string) (Meta, error) {
	if uuid.Validate(id) != nil {
		return Meta{}, ErrNotFound
	}
	m, err := scanMeta(s.pool.QueryRow(ctx, getMetaSQL, id))
	return m, wrap("get", err)
}

const bySessionTypeSQL = `SELECT ` + metaColumns + ` FROM auth_vault WHERE session_state_id = $1 AND token_type = $2
ORDER BY coalesce(updated_at, created_at) DESC, id LIMIT 1`

// GetBySession returns the newest row of type t bound to Keycloak session sid.
func (s *Store) GetBySession(ctx context.Context, sid string, t TokenType) (Meta, error) {
	m, err := scanMeta(s.pool.QueryRow(ctx, bySessionTypeSQL, sid, string(t)))
	return m, wrap("get by session", err)
}

const listByUserSQL = `SELECT ` + metaColumns + ` FROM auth_vault WHERE user_id = $1 ORDER BY created_at, id`

// ListByUser returns every row of the user, oldest first.
func (s *Store) ListByUser(ctx context.Context, userID string) ([]Meta, error) {
	if uuid.Validate(userID) != nil {
		return nil, nil
	}
	rows, err := collectMeta(s.pool.Query(ctx, listByUserSQL, userID))
	return rows, wrap("list by user", err)
}

const offlineByHashSQL = `SELECT ` + rowColumns + ` FROM auth_vault
WHERE user_id = $1 AND token_type = 'OFFLINE' AND token_hash = $2 ORDER BY created_at, id`

// OfflineByHash returns userID's OFFLINE rows whose token hashes to hash, oldest first.
func (s *Store) OfflineByHash(ctx context.Context, userID, hash string) ([]Row, error) {
	if uuid.Validate(userID) != nil {
		return nil, nil
	}
	rows, err := collect(s.pool.Query(ctx, offlineByHashSQL, userID, hash))
	return rows, wrap("offline by hash", err)
}

const listBySessionSQL = `SELECT ` + metaColumns + ` FROM auth_vault WHERE session_state_id = $1 ORDER BY created_at, id`

// ListBySession returns every row bound to Keycloak session sid.
func (s *Store) ListBySession(ctx context.Context, sid string) ([]Meta, error) {
	rows, err := collectMeta(s.pool.Query(ctx, listBySessionSQL, sid))
	return rows, wrap("list by session", err)
}

const deleteSQL = `DELETE FROM auth_vault WHERE id = $1 RETURNING ` + metaColumns

// Delete removes the row and returns its metadata, appending its event (why) in the
// same transaction.
func (s *Store) Delete(ctx context.Context, id string, why Why) (Meta, error) {
	if uuid.Validate(id) != nil {
		return Meta{}, ErrNotFound
	}
	return s.deleteOne(ctx, "delete", why, deleteSQL, id)
}

// lockSQL takes the row lock Update holds across its closure. FOR NO KEY UPDATE, the
// lock an UPDATE that keeps the key takes, excludes every other updater and deleter of
// the row but not the foreign-key checks of rows that reference it: a failed refresh
// recording its run (token_failures) meanwhile neither waits for the Keycloak call nor
// deadlocks with this transaction's end of that run.
const lockSQL = `SELECT ` + rowColumns + ` FROM auth_vault WHERE id = $1 FOR NO KEY UPDATE`

// updateSQL writes a row's token and health. A row given a new token is active again
// unless the caller says otherwise.
const updateSQL = `
UPDATE auth_vault SET encrypted_token = $2, iv = $3, token_hash = $4, mac = $5, key_id = $6,
	attributes = $7, session_state_id = $8, updated_at = now(),
	status = $9, last_error = $10, last_used_at = coalesce($11, last_used_at)
WHERE id = $1
RETURNING ` + rowColumns

func updateArgs(id string, next Row) []any {
	status := next.Status
	if status == "" {
		status = StatusActive
	}
	return []any{id, next.EncryptedToken, next.IV, next.TokenHash, nullable(next.MAC), nullable(next.KeyID),
		jsonArg(next.Attributes), next.SessionID, string(status), nullable(next.LastError), next.LastUsedAt}
}

// Update runs fn on the row with id inside one transaction, holding the row lock
// (SELECT … FOR NO KEY UPDATE) from read to write, and stores what fn returns. fn also gets
// the access token stored for the row (nil when none), read under the lock, and may
// return one to store in its place in the same transaction (Change.Access; nil leaves
// it as it is), and the events its write causes (committed with the write or not at
// all). fn may do slow work (a Keycloak call) while other updaters of the same row wait.
// Returning ErrUnchanged from fn ends the transaction without a write; any other
// error rolls back. Only the sealing, attributes, session id and health can change.
//
// Every refresh runs through here, so the transaction costs two round trips besides
// fn: BEGIN, the lock and its reads in one pipeline, the writes and COMMIT in another
// (pgx.BeginFunc would add one for BEGIN and one for COMMIT, which kept the refresh
// path above its objective: docs/BENCHMARKS.md).
func (s *Store) Update(ctx context.Context, id string, fn func(ctx context.Context, current Row, minted *Access) (Change, error)) (Row, error) {
	if uuid.Validate(id) != nil {
		return Row{}, ErrNotFound
	}
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return Row{}, wrap("acquire", err)
	}
	defer conn.Release()
	out, err := update(ctx, conn.Conn(), id, fn)
	if err != nil {
		rollback(ctx, conn.Conn())
		return Row{}, classifyTx(err)
	}
	return out, nil
}

func update(ctx context.Context, c *pgx.Conn, id string, fn func(ctx context.Context, current Row, minted *Access) (Change, error)) (Row, error) {
	var (
		cur    Row
		minted *Access
		run    *failureRun
	)
	// Each read is a statement of its own, after the lock is granted, so that it sees
	// what a transaction that held the lock before this one committed.
	b := &pgx.Batch{}
	b.Queue(`BEGIN`)
	var lockErr error
	b.Queue(lockSQL, id).QueryRow(func(r pgx.Row) error {
		// A missing row is an answer, not a failed batch (after which pgx would
		// forget the batch's prepared statements on this connection).
		cur, lockErr = scanRow(r)
		if errors.Is(lockErr, pgx.ErrNoRows) {
			return nil
		}
		return wrap("lock", lockErr)
	})
	b.Queue(lockedAccessSQL, id).QueryRow(func(r pgx.Row) error {
		var err error
		minted, err = scanAccess(r)
		return err
	})
	b.Queue(failureRunSQL, id).QueryRow(func(r pgx.Row) error {
		var err error
		run, err = scanFailureRun(r)
		return err
	})
	if err := c.SendBatch(ctx, b).Close(); err != nil {
		return Row{}, err
	}
	if lockErr != nil {
		return Row{}, wrap("lock", lockErr)
	}
	ch, err := fn(ctx, cur, minted)
	if errors.Is(err, ErrUnchanged) {
		// Nothing was written: ending the transaction only releases the lock.
		_, err := c.Exec(ctx, `ROLLBACK`)
		return cur, wrap("release lock", err)
	}
	if err != nil {
		return Row{}, callerError{err}
	}
	var out Row
	b = &pgx.Batch{}
	b.Queue(updateSQL, updateArgs(id, ch.Row)...).QueryRow(func(r pgx.Row) error {
		var err error
		out, err = scanRow(r)
		return err
	})
	if ch.Access != nil {
		b.Queue(putAccessSQL, putAccessArgs(id, *ch.Access)...)
	}
	evs := ch.Events
	if ch.Succeeded {
		// The row's token just worked: its run of failed refreshes ends. A run announced
		// after the read above (by a refresh that failed before this one took the lock)
		// is left for the next success, which announces its end.
		announced := run != nil && run.announced
		b.Queue(clearFailuresSQL, id, announced)
		if announced {
			evs = append(evs, recoveredEvents(ch.Row.Meta, run)...)
		}
	}
	queueEvents(b, evs...)
	b.Queue(`COMMIT`)
	if err := c.SendBatch(ctx, b).Close(); err != nil {
		return Row{}, wrap("update", err)
	}
	return out, nil
}

// rollback ends the transaction a failed Update left open on c, if any. The pool
// discards a connection that is closed or still in a transaction when released.
func rollback(ctx context.Context, c *pgx.Conn) {
	if c.IsClosed() || c.PgConn().TxStatus() == 'I' {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), rollbackTimeout)
	defer cancel()
	_, _ = c.Exec(ctx, `ROLLBACK`)
}

// rollbackTimeout bounds the ROLLBACK after a failed Update, which runs even when the
// caller's context has ended.
const rollbackTimeout = 5 * time.Second

// Change is what an Update closure decides for its row.
type Change struct {
	Row Row
	// Access, when not nil, replaces the access token stored for the row.
	Access *Access
	// Events are appended in the transaction that writes Row.
	Events []Event
	// Succeeded says the row's token just worked (a refresh Keycloak answered): its run
	// of failed refreshes ends, with token.recovered when that run was announced
	// (token.refresh_failing).
	Succeeded bool
}

// ErrUnchanged, returned by an Update closure, ends the update without writing.
var ErrUnchanged = errors.New("store: unchanged")

const lockRefreshSQL = `SELECT ` + rowColumns + ` FROM auth_vault WHERE user_id = $1 AND token_type = 'REFRESH' FOR UPDATE`

// PutRefresh stores the user's one REFRESH row: it updates the existing row in place
// (same id) or inserts a new one, in one transaction. build receives the row id (so
// that the token can be sealed to it) and the current row when there is one. The
// partial unique index settles concurrent first stores: the loser retries as an update.
// Inserting counts against the user's cap of max rows (ErrTooMany; 0: no cap); replacing
// does not.
func (s *Store) PutRefresh(ctx context.Context, userID string, max int, build func(id string, current *Row) (Row, error)) (Row, error) {
	for attempt := 0; attempt < 3; attempt++ {
		var out Row
		err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
			cur, err := scanRow(tx.QueryRow(ctx, lockRefreshSQL, userID))
			switch {
			case errors.Is(err, pgx.ErrNoRows):
				if err := underCap(ctx, tx, userID, max); err != nil {
					return err
				}
				next, err := build(NewID(), nil)
				if err != nil {
					return callerError{err}
				}
				out, err = scanRow(tx.QueryRow(ctx, insertSQL, next.ID, userID, string(Refresh), next.EncryptedToken,
					next.IV, next.TokenHash, nullable(next.MAC), nullable(next.KeyID), jsonArg(next.Attributes), next.SessionID))
				if errors.Is(err, pgx.ErrNoRows) {
					return ErrConflict
				}
				return wrap("insert refresh", err)
			case err != nil:
				return wrap("lock refresh", err)
			}
			next, err := build(cur.ID, &cur)
			if errors.Is(err, ErrUnchanged) {
				out = cur
				return nil
			}
			if err != nil {
				return callerError{err}
			}
			out, err = scanRow(tx.QueryRow(ctx, updateSQL, updateArgs(cur.ID, next)...))
			if err != nil || cur.Status != StatusInvalid || out.Status != StatusActive {
				return wrap("update refresh", err)
			}
			// A row Keycloak had refused holds a working token again, under the same id.
			return appendEvents(ctx, tx, EventOf(EventRecovered, CauseStoredAgain, out.Meta, nil))
		})
		if errors.Is(err, ErrConflict) {
			continue
		}
		if err != nil {
			return Row{}, classifyTx(err)
		}
		return out, nil
	}
	return Row{}, fmt.Errorf("%w: refresh row of user kept changing", ErrDatabase)
}

// callerError carries an error of a caller's closure through the transaction untouched.
type callerError struct{ err error }

func (e callerError) Error() string { return e.err.Error() }

// classifyTx returns a closure's own error as it was, keeps the store's sentinels, and
// classifies what is left (BEGIN/COMMIT failures).
func classifyTx(err error) error {
	var ce callerError
	if errors.As(err, &ce) {
		return ce.err
	}
	if errors.Is(err, ErrNotFound) || errors.Is(err, ErrDatabase) || errors.Is(err, ErrUnavailable) || errors.Is(err, ErrConflict) ||
		errors.Is(err, ErrTooMany) {
		return err
	}
	return wrap("transaction", err)
}
