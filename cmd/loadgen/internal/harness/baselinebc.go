package harness

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// driverPoolBound is the most connections baseline BC opens: the service's own pool
// bound (DATABASE_POOL_SIZE + DATABASE_MAX_OVERFLOW defaults), so that at high
// concurrency both queue for the same number of connections.
const driverPoolBound = 30

// driverPool is the driver's own pool for c workers, bounded like the service's.
func driverPool(ctx context.Context, dbURL string, c int) (*pgxpool.Pool, error) {
	cfg, err := pgxpool.ParseConfig(dbURL)
	if err != nil {
		return nil, err
	}
	cfg.MaxConns = int32(min(c, driverPoolBound))
	return pgxpool.NewWithConfig(ctx, cfg)
}

// BaselineBC targets what the cache-disabled scenario does, done by the driver itself
// with no service in between: BEGIN; SELECT … FOR NO KEY UPDATE of a vault row (the
// service's row lock); Keycloak's refresh grant with that user's refresh token
// (baseline B's call); UPDATE of the row with a new ciphertext, IV, MAC and token hash
// of the sizes the vault writes; COMMIT. It is the floor of a refresh under the row
// lock on this machine: Keycloak's grant and the transaction measured apart miss what
// they cost together (the commit that follows a Keycloak call waits for a disk
// Keycloak has just written to). The rows are a copy of the fixture's in a table of
// the same shape, indexes and triggers (loadgen_bc), so that the vault's own rows stay
// readable for the scenarios after it. close releases the pool and drops the copy.
func BaselineBC(ctx context.Context, dbURL string, kc *Keycloak, f *Fixture, c int) (t Target, close func(), err error) {
	pool, err := driverPool(ctx, dbURL, c)
	if err != nil {
		return Target{}, nil, fmt.Errorf("baseline BC: %w", err)
	}
	const setup = `
DROP TABLE IF EXISTS loadgen_bc;
CREATE TABLE loadgen_bc (LIKE auth_vault INCLUDING ALL);
INSERT INTO loadgen_bc SELECT * FROM auth_vault;
CREATE TRIGGER loadgen_bc_clear_stale_mac BEFORE UPDATE OF encrypted_token, iv ON loadgen_bc
    FOR EACH ROW EXECUTE FUNCTION auth_vault_clear_stale_mac();
CREATE CONSTRAINT TRIGGER loadgen_bc_evict_update AFTER UPDATE ON loadgen_bc
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW
    WHEN (NEW.status IS DISTINCT FROM OLD.status OR NEW.user_id IS DISTINCT FROM OLD.user_id
          OR NEW.token_type IS DISTINCT FROM OLD.token_type OR NEW.session_state_id IS DISTINCT FROM OLD.session_state_id)
    EXECUTE FUNCTION auth_vault_evict();`
	if _, err := pool.Exec(ctx, setup); err != nil {
		pool.Close()
		return Target{}, nil, fmt.Errorf("baseline BC: copy the vault rows: %w", err)
	}
	closeAll := func() {
		_, _ = pool.Exec(context.WithoutCancel(ctx), `DROP TABLE IF EXISTS loadgen_bc`)
		pool.Close()
	}
	ids := make([]string, len(f.Users))
	forms := make([]string, len(f.Users))
	for i, u := range f.Users {
		ids[i] = u.RowID
		forms[i] = kc.refreshForm(u.Refresh[0]).Encode()
	}
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: c, MaxIdleConns: c}, Timeout: 30 * time.Second}
	endpoint := kc.TokenEndpoint()
	t = Target{Call: func(ctx context.Context, w, n int) error {
		i, _ := spreadIndex(w, n, c, len(ids))
		return pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
			var id string
			var nToken, nIV, nHash, nMAC int
			if err := tx.QueryRow(ctx, `SELECT id::text, length(encrypted_token), length(iv), length(token_hash), length(coalesce(mac, ''))
	FROM loadgen_bc WHERE id = $1 FOR NO KEY UPDATE`, ids[i]).Scan(&id, &nToken, &nIV, &nHash, &nMAC); err != nil {
				return err
			}
			req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, strings.NewReader(forms[i]))
			if err != nil {
				return err
			}
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			resp, err := client.Do(req)
			if err != nil {
				return err
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				return fmt.Errorf("baseline BC: Keycloak answered %d", resp.StatusCode)
			}
			// New bytes of the stored sizes, as a successor's sealing writes them.
			_, err = tx.Exec(ctx, `UPDATE loadgen_bc SET encrypted_token = $2, iv = $3, token_hash = $4,
	mac = CASE WHEN mac IS NULL THEN NULL ELSE $5 END, updated_at = now(), last_used_at = now() WHERE id = $1`,
				ids[i], randomText(nToken), randomText(nIV), randomText(nHash), randomText(nMAC))
			return err
		})
	}}
	return t, closeAll, nil
}

// randomText is n random characters of base64's alphabet.
func randomText(n int) string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
	b := make([]byte, n)
	for i := range b {
		b[i] = alphabet[rand.IntN(len(alphabet))]
	}
	return string(b)
}
