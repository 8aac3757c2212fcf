package harness

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/auth-manager/auth-manager/internal/store"
)

// Plan is one statement's EXPLAIN (ANALYZE, BUFFERS).
type Plan struct {
	Name, When string
	Hit, Read  int64         // shared buffers found in PostgreSQL's cache, and read in
	Time       time.Duration // planning and execution
	Rows       int64         // rows the statement returned or changed
	SeqScan    bool          // a sequential scan of auth_vault
	Access     string        // how auth_vault was reached (scan nodes)
}

// Buffers is every shared buffer the statement touched.
func (p Plan) Buffers() int64 { return p.Hit + p.Read }

// oldRowColumns is the select list of every vault query before migration 8: the
// ciphertext included.
const oldRowColumns = `id::text, user_id::text, token_type::text, encrypted_token, iv, coalesce(token_hash, ''),
	coalesce(mac, ''), coalesce(key_id, ''), attributes, session_state_id, created_at, updated_at,
	status, coalesce(last_error, ''), last_used_at`

// beforeStatements are the periodic, start-up and background statements of the
// service before migration 8 (main at 92964fc), as it ran them. Walks that page (the
// keep-alive's idle rows, the clean-up, re-sealing, the legacy count) are shown by
// their first page; a pass runs as many pages as there are rows.
func beforeStatements(now time.Time, staleKey, currentKey string) []store.Statement {
	nilID := uuid.Nil.String()
	return []store.Statement{
		{Name: "vault-rows gauge (every 30 s, every replica)", When: "periodic",
			SQL: `SELECT token_type::text, status, count(*) FROM auth_vault GROUP BY 1, 2`},
		{Name: "doctor: rows by key (every start)", When: "start-up",
			SQL: `SELECT coalesce(key_id, ''), count(*) FROM auth_vault GROUP BY 1 ORDER BY 1`},
		{Name: "doctor: sample (every start)", When: "start-up",
			SQL:  `SELECT ` + oldRowColumns + ` FROM auth_vault ORDER BY coalesce(updated_at, created_at) DESC LIMIT $1`,
			Args: []any{50}},
		{Name: "doctor: legacy rows, first page (every start; all pages)", When: "start-up",
			SQL:  `SELECT ` + oldRowColumns + ` FROM auth_vault WHERE id > $1 AND mac IS NULL ORDER BY id LIMIT $2`,
			Args: []any{nilID, 500}},
		{Name: "keep-alive: idle offline rows, first page", When: "background",
			SQL: `SELECT ` + oldRowColumns + ` FROM auth_vault
WHERE token_type = 'OFFLINE' AND status = 'active' AND coalesce(last_used_at, created_at) < $1 AND id > $2
ORDER BY id LIMIT $3`, Args: []any{now.Add(-24 * time.Hour), nilID, 200}},
		{Name: "clean-up: invalid rows, first page (hourly)", When: "background",
			SQL: `SELECT ` + oldRowColumns + ` FROM auth_vault
WHERE status = 'invalid' AND coalesce(updated_at, created_at) < $1 AND id > $2
ORDER BY id LIMIT $3`, Args: []any{now.Add(-7 * 24 * time.Hour), nilID, 200}},
		{Name: "clean-up: logout token ids", When: "background",
			SQL: `DELETE FROM backchannel_logout_jti WHERE expires_at < $1`, Args: []any{now}},
		{Name: "rotate-keys: batch, first page", When: "background",
			SQL: `SELECT ` + oldRowColumns + ` FROM auth_vault
WHERE id > $1 AND key_id IS DISTINCT FROM $2
ORDER BY id LIMIT $3
FOR UPDATE SKIP LOCKED`, Args: []any{nilID, currentKey, 500}},
	}
}

// explain runs EXPLAIN (ANALYZE, BUFFERS) of s in a transaction it rolls back, so that
// statements that write (claims, deletes) leave the data as it was.
func explain(ctx context.Context, st *store.Store, s store.Statement) (Plan, error) {
	p := Plan{Name: s.Name, When: s.When}
	var raw []byte
	err := func() error {
		tx, err := st.Pool().Begin(ctx)
		if err != nil {
			return err
		}
		defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()
		return tx.QueryRow(ctx, "EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) "+s.SQL, s.Args...).Scan(&raw)
	}()
	if err != nil {
		return p, fmt.Errorf("%s: %w", s.Name, err)
	}
	var out []struct {
		Plan          planNode `json:"Plan"`
		PlanningTime  float64  `json:"Planning Time"`
		ExecutionTime float64  `json:"Execution Time"`
	}
	if err := json.Unmarshal(raw, &out); err != nil || len(out) != 1 {
		return p, fmt.Errorf("%s: EXPLAIN answer: %v", s.Name, err)
	}
	root := out[0].Plan
	p.Hit, p.Read = root.SharedHit, root.SharedRead
	p.Time = time.Duration((out[0].PlanningTime + out[0].ExecutionTime) * float64(time.Millisecond))
	p.Rows = root.ActualRows
	var access []string
	root.walk(func(n planNode) {
		if n.Relation != "auth_vault" {
			return
		}
		if n.NodeType == "Seq Scan" {
			p.SeqScan = true
		}
		if strings.Contains(n.NodeType, "Scan") {
			a := n.NodeType
			if n.Index != "" {
				a += " " + n.Index
			}
			access = append(access, a)
		}
	})
	p.Access = strings.Join(dedupe(access), ", ")
	return p, nil
}

type planNode struct {
	NodeType   string     `json:"Node Type"`
	Relation   string     `json:"Relation Name"`
	Index      string     `json:"Index Name"`
	ActualRows int64      `json:"Actual Rows"`
	SharedHit  int64      `json:"Shared Hit Blocks"`
	SharedRead int64      `json:"Shared Read Blocks"`
	Plans      []planNode `json:"Plans"`
}

func (n planNode) walk(fn func(planNode)) {
	fn(n)
	for _, c := range n.Plans {
		c.walk(fn)
	}
}

func dedupe(in []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, s := range in {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}

// explainAll explains each statement in turn.
func explainAll(ctx context.Context, st *store.Store, stmts []store.Statement) ([]Plan, error) {
	out := make([]Plan, 0, len(stmts))
	for _, s := range stmts {
		p, err := explain(ctx, st, s)
		if err != nil {
			return out, err
		}
		out = append(out, p)
	}
	return out, nil
}

// vacuumAnalyze leaves the table as autovacuum would in steady state: statistics
// current and pages marked all-visible.
func vacuumAnalyze(ctx context.Context, st *store.Store) error {
	_, err := st.Pool().Exec(ctx, "VACUUM (ANALYZE) auth_vault")
	return err
}
