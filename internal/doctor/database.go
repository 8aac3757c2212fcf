package doctor

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/auth-manager/auth-manager/internal/vault"
)

func checkPostgres(ctx context.Context, d Deps) Result {
	if d.Store == nil {
		return fail(CheckPostgres, "DATABASE_URL cannot be used", "give a postgres:// URL the service can connect with")
	}
	if err := d.Store.Ping(ctx); err != nil {
		return fail(CheckPostgres, "PostgreSQL does not answer: "+describe(err),
			"check DATABASE_URL's host, port, credentials and sslmode, and that this network reaches the database")
	}
	v, err := d.Store.Version(ctx)
	if err != nil {
		return fail(CheckPostgres, "PostgreSQL answers but queries fail: "+describe(err), "check the user's rights on the database")
	}
	return pass(CheckPostgres, "reachable ("+shortVersion(v)+")")
}

func shortVersion(v string) string {
	var name, num string
	if _, err := fmt.Sscanf(v, "%s %s", &name, &num); err != nil {
		return v
	}
	return name + " " + num
}

func checkMigrations(ctx context.Context, d Deps) Result {
	m, err := d.Store.NewMigrator()
	if err != nil {
		return fail(CheckMigrations, describe(err), "check the database user's rights")
	}
	defer m.Close()
	current, latest, err := m.Versions(ctx)
	switch {
	case err != nil:
		return fail(CheckMigrations, "cannot read the schema version: "+describe(err), "run `auth-manager migrate status` for details")
	case current < latest:
		return fail(CheckMigrations, fmt.Sprintf("schema at version %d, this binary needs %d", current, latest),
			"run `auth-manager migrate up` (or let the migration job/serve do it)")
	case current > latest:
		return fail(CheckMigrations, fmt.Sprintf("schema at version %d is newer than this binary's %d", current, latest),
			"deploy the binary that migrated it, or roll back with `auth-manager migrate down`")
	}
	return pass(CheckMigrations, fmt.Sprintf("schema at the latest version (%d)", latest))
}

func checkListen(ctx context.Context, d Deps) Result {
	if d.Config.Database.TransactionPooling() {
		return pass(CheckListen, fmt.Sprintf("DATABASE_POOL_MODE=transaction: no LISTEN; every replica polls the change feed every %s",
			d.Config.Feed.Poll))
	}
	if err := d.Store.ListenRoundTrip(ctx, 3*time.Second); err != nil {
		return fail(CheckListen, "LISTEN/NOTIFY round trip failed: "+describe(err),
			"connect directly or through a session-mode pooler, or, behind a transaction-mode pooler (PgBouncer pool_mode = transaction), set DATABASE_POOL_MODE=transaction: replicas then poll the change feed")
	}
	return pass(CheckListen, "LISTEN/NOTIFY round trip works (evictions and ended sessions reach every replica as they commit)")
}

// sampleSize bounds the rows the vault-key check decrypts.
const sampleSize = 50

func checkVaultKey(ctx context.Context, d Deps) Result {
	rep, err := d.CheckVault(ctx, sampleSize)
	if err != nil {
		return fail(CheckVaultKey, "cannot read the vault: "+describe(err), "run `auth-manager migrate up`, check the user's rights")
	}
	if rep.Sampled == 0 {
		return pass(CheckVaultKey, "the vault is empty: nothing to decrypt yet")
	}
	legacy := legacySummary(rep)
	if rep.Unusable > 0 {
		return fail(CheckVaultKey, fmt.Sprintf("%d of %d sampled row(s) do not decrypt; %s", rep.Unusable, rep.Sampled, legacy),
			"set AUTH_MANAGER_TOKEN_VAULT_ENCRYPTION_KEY to the key the rows were sealed with (older keys go in AUTH_MANAGER_TOKEN_VAULT_PREVIOUS_KEYS); with AUTH_MANAGER_TOKEN_VAULT_REJECT_LEGACY=true legacy rows do not open either")
	}
	res := pass(CheckVaultKey, fmt.Sprintf("%d sampled row(s) decrypt; %s", rep.Opened, legacy))
	if rep.Legacy > rep.LegacyMismatch {
		res.Detail += "; `auth-manager rotate-keys` seals them"
	}
	return res
}

// legacySummary says how many rows are legacy, out of how many, and how many of a
// sample of them cannot be used.
func legacySummary(rep vault.KeyReport) string {
	n := strconv.Itoa(rep.Legacy)
	if rep.LegacyMore {
		n = "more than " + n
	}
	of := "" // no estimate yet
	switch {
	case rep.Rows >= 0 && rep.RowsExact:
		of = fmt.Sprintf(" of %d", rep.Rows)
	case rep.Rows >= 0:
		of = fmt.Sprintf(" of about %d", rep.Rows)
	}
	s := fmt.Sprintf("%s%s row(s) legacy (no integrity tag)", n, of)
	if rep.LegacyMismatch > 0 {
		s += fmt.Sprintf(", %d of %d sampled unusable (do not open or fail the claims check)", rep.LegacyMismatch, rep.LegacySampled)
	}
	return s
}
