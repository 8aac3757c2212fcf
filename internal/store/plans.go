package store

import (
	"time"

	"github.com/google/uuid"
)

// Statement is one statement the service runs in the background, at start or
// periodically, with representative arguments: what tests and `make bench-vault-scale`
// EXPLAIN to show that none of them reads the whole vault table.
type Statement struct {
	Name string
	When string // "periodic", "start-up" or "background"
	SQL  string
	Args []any
	// Index names the index the statement must walk ("" for statements on other
	// tables or on PostgreSQL's catalogues).
	Index string
}

// Statements returns the periodic, start-up and background statements, their
// arguments taken at now. keyID stands for a key that still seals rows.
func Statements(now time.Time, keyID string) []Statement {
	idleSince, from := now.Add(-24*time.Hour), uuid.NewString()
	const idle, invalid, key, pk = "auth_vault_offline_idle_id_idx", "auth_vault_invalid_idx", "auth_vault_key_id_idx", "auth_vault_pkey"
	return []Statement{
		{"vault-rows gauge: table size", "periodic", sizeSQL, nil, ""},
		{"vault-rows gauge: (type, status) frequencies", "periodic", mcvSQL, nil, ""},
		{"vault-rows gauge: per-column frequencies", "periodic", perColumnSQL, nil, ""},
		{"vault-rows gauge: lease", "periodic", leaseSQL, []any{"vault_rows", "bench", 90.0}, ""},
		{"keep-alive: rate slot", "background", takeSlotSQL, []any{"bench", 0.05}, ""},
		{"keep-alive: claim idle rows", "background", claimIdleSQL, []any{idleSince, now, now.Add(10 * time.Minute), 10}, idle},
		{"keep-alive: dry-run page", "background", idlePageSQL, []any{idleSince, time.Time{}, uuid.Nil.String(), 200}, idle},
		{"keep-alive: refresh's row lock", "background", lockSQL, []any{from}, pk},
		{"keep-alive: give up claims", "background", setClaimSQL, []any{[]string{from}, nil}, pk},
		{"clean-up: delete invalid rows", "background", deleteInvalidSQL, []any{now.Add(-7 * 24 * time.Hour), 200}, invalid},
		{"clean-up: dry-run page", "background", invalidPageSQL, []any{now.Add(-7 * 24 * time.Hour), time.Time{}, uuid.Nil.String(), 200}, invalid},
		{"clean-up: logout token ids", "background", purgeJTISQL, []any{now}, ""},
		{"doctor: sample", "start-up", sampleSQL, []any{from, 50}, pk},
		{"doctor: legacy count (capped)", "start-up", countLegacySQL, []any{10001}, key},
		{"doctor: legacy sample", "start-up", sampleLegacySQL, []any{from, 50}, key},
		{"rotate-keys: keys in use", "background", keysInUseSQL, nil, key},
		{"rotate-keys: count a stale key", "background", countKeySQL, []any{keyID, nil}, key},
		{"rotate-keys: batch of a stale key", "background", resealKeySQL + " SKIP LOCKED", []any{keyID, uuid.Nil.String(), 500}, key},
		{"rotate-keys: batch of legacy rows", "background", resealLegacySQL + " SKIP LOCKED", []any{uuid.Nil.String(), 500}, key},
		{"rotate-keys: legacy rows (dry run)", "background", legacyRowsSQL, []any{uuid.Nil.String(), 500}, key},
	}
}
