package store

import (
	"context"
	"errors"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

const activeRowsSQL = `
SELECT id::text, user_id::text, token_type::text, session_state_id FROM auth_vault
 WHERE status = 'active' AND id > $1 ORDER BY id LIMIT $2`

// ActiveRows returns the metadata (id, user, type, session; no token, no ciphertext) of
// up to limit active rows with ids above after, in id order ("" starts).
func (s *Store) ActiveRows(ctx context.Context, after string, limit int) ([]Meta, error) {
	if after == "" {
		after = uuid.Nil.String()
	}
	rows, err := s.pool.Query(ctx, activeRowsSQL, after, limit)
	if err != nil {
		return nil, wrap("active rows", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Meta, error) {
		var m Meta
		var typ string
		err := r.Scan(&m.ID, &m.UserID, &typ, &m.SessionID)
		m.Type, m.Status = TokenType(typ), StatusActive
		return m, err
	})
	return out, wrap("active rows", err)
}

// Forecast is when a row's grant reaches its hard deadline (ExpiresAt nil: none known)
// and how that was derived.
type Forecast struct {
	Row       Meta
	ExpiresAt *time.Time
	Basis     string
	// Announce asks for token.expiring (with Details) unless this deadline was
	// announced for the row already.
	Announce bool
	Details  map[string]any
}

const saveForecastSQL = `
INSERT INTO token_forecasts (row_id, expires_at, expires_basis, computed_at) VALUES ($1, $2, $3, now())
ON CONFLICT (row_id) DO UPDATE SET expires_at = $2, expires_basis = $3, computed_at = now()`

const announceForecastSQL = `
UPDATE token_forecasts SET announced_for = expires_at
 WHERE row_id = $1 AND expires_at IS NOT NULL AND announced_for IS DISTINCT FROM expires_at`

// SaveForecasts records fs and appends token.expiring for those to announce whose
// deadline was not announced yet, in one transaction; a row deleted meanwhile is
// skipped. It returns how many it announced.
func (s *Store) SaveForecasts(ctx context.Context, fs []Forecast) (int, error) {
	n, err := s.saveForecasts(ctx, fs)
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) || pgErr.Code != "23503" {
		return n, err
	}
	// A row of the batch was deleted meanwhile: one at a time, skipping the gone.
	n = 0
	for _, f := range fs {
		k, err := s.saveForecasts(ctx, []Forecast{f})
		if errors.As(err, &pgErr) && pgErr.Code == "23503" {
			continue
		}
		if err != nil {
			return n, err
		}
		n += k
	}
	return n, nil
}

func (s *Store) saveForecasts(ctx context.Context, fs []Forecast) (int, error) {
	if len(fs) == 0 {
		return 0, nil
	}
	var evs []Event
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		b := &pgx.Batch{}
		for _, f := range fs {
			b.Queue(saveForecastSQL, f.Row.ID, f.ExpiresAt, f.Basis)
		}
		for _, f := range fs {
			if !f.Announce || f.ExpiresAt == nil {
				continue
			}
			b.Queue(announceForecastSQL, f.Row.ID).Exec(func(tag pgconn.CommandTag) error {
				if tag.RowsAffected() == 1 {
					evs = append(evs, EventOf(EventExpiring, f.Basis, f.Row, f.Details))
				}
				return nil
			})
		}
		if err := tx.SendBatch(ctx, b).Close(); err != nil {
			return err
		}
		return appendEvents(ctx, tx, evs...)
	})
	if err != nil {
		var pgErr *pgconn.PgError
		if errors.As(err, &pgErr) && pgErr.Code == "23503" {
			return 0, err // the caller retries row by row
		}
		return 0, classifyTx(err)
	}
	return len(evs), nil
}

const forecastsSQL = `SELECT row_id::text, expires_at, expires_basis FROM token_forecasts WHERE row_id = ANY($1::uuid[])`

// Forecasts returns the recorded forecasts of the rows ids, by row id (rows without one
// are absent).
func (s *Store) Forecasts(ctx context.Context, ids []string) (map[string]Forecast, error) {
	out := map[string]Forecast{}
	if len(ids) == 0 {
		return out, nil
	}
	rows, err := s.pool.Query(ctx, forecastsSQL, ids)
	if err != nil {
		return nil, wrap("forecasts", err)
	}
	var id, basis string
	var at *time.Time
	_, err = pgx.ForEachRow(rows, []any{&id, &at, &basis}, func() error {
		f := Forecast{Basis: basis}
		if at != nil {
			v := at.UTC()
			f.ExpiresAt = &v
		}
		out[id] = f
		return nil
	})
	return out, wrap("forecasts", err)
}
