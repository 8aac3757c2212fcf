package harness

import (
	"context"
	"fmt"
	"slices"
	"time"
)

// Scenario keys, in report order.
const (
	KeyBaselineA     = "baseline-a"
	KeyBaselineAReq  = "baseline-a-req"
	KeyBaselineAVal  = "baseline-a-validate"
	KeyBaselineB     = "baseline-b"
	KeyBaselineBC    = "baseline-bc"
	KeyHitIntrospect = "hit-introspect"
	KeyHitJWT        = "hit-jwt"
	KeySpreadIntro   = "spread-introspect"
	KeySpreadJWT     = "spread-jwt"
	KeyCacheOff      = "cache-off"
	KeyValidateIntro = "validate-introspect"
	KeyValidateJWT   = "validate-jwt"
	KeyStore         = "store-refresh"
)

// renewAfter is how old bearer tokens may get before a scenario starts: the realm's
// access tokens live 300 s and a scenario takes well under a minute.
const renewAfter = 150 * time.Second

// scenarios runs every scenario in an order that keeps each comparison close in time:
// baseline A and A′ first, baseline BC right before the cache-disabled run it bounds
// (Keycloak is shared, and its speed drifts over a run).
func (r *runner) scenarios(ctx context.Context) (err error) {
	levels := r.cfg.Levels
	withWide := append(slices.Clone(levels), r.cfg.WideConns)

	baseA, err := r.startBaseline(ctx)
	if err != nil {
		return err
	}
	defer stopAll(baseA)
	svc, err := r.startService(ctx, "service-introspect", "introspect", 10000)
	if err != nil {
		return err
	}
	defer func() { stopAll(svc) }()

	r.logf("seeding %d users through POST /v1/refresh-token", r.cfg.Seed.Users)
	t0 := time.Now()
	r.fix, err = Seed(ctx, r.kc, svc.URL, r.cfg.Seed)
	if err != nil {
		return fmt.Errorf("seed: %w", err)
	}
	if len(r.fix.Users) == 0 {
		return errNoUsers
	}
	r.logf("seeded in %s", time.Since(t0).Round(100*time.Millisecond))
	if r.cfg.RefreshOnly {
		svc, err = r.refreshPath(ctx, svc)
		return err
	}

	a := r.add(KeyBaselineA, "Baseline A: bare chi handler, fixed JSON",
		"GET of a fixed ~1.3 KB JSON body from a chi router with no middleware, in its own process")
	if err := r.measure(ctx, a, baseA, BaselineA(baseA.URL), withWide...); err != nil {
		return err
	}
	// The CPU floor of the cached paths: the same bare handler, sent each path's request
	// (its bearer token, method and URL) instead of a bare GET.
	aReq := r.add(KeyBaselineAReq, "Baseline A′: bare chi handler, sent the cache-hit request", baselineAReqWhat)
	if err := r.measure(ctx, aReq, baseA, AccessHit(baseA.URL, r.fix), levels...); err != nil {
		return err
	}
	aVal := r.add(KeyBaselineAVal, "Baseline A′: bare chi handler, sent the validate request", baselineAValWhat)
	if err := r.measure(ctx, aVal, baseA, Validate(baseA.URL, r.fix), levels...); err != nil {
		return err
	}
	if err := r.renew(ctx); err != nil {
		return err
	}
	b := r.add(KeyBaselineB, "Baseline B: Keycloak token endpoint, refresh grant", baselineBWhat)
	if err := r.measure(ctx, b, nil, BaselineB(r.kc, r.fix), levels...); err != nil {
		return err
	}

	// introspect mode, cache on.
	if err := r.renew(ctx); err != nil {
		return err
	}
	hit := r.add(KeyHitIntrospect, "Access token, cache hit, introspect mode",
		"POST /v1/access-token for one id, service-caller bearer tokens (16 distinct), cached access token")
	if err := r.prewarm(ctx, AccessHit(svc.URL, r.fix)); err != nil {
		return err
	}
	if err := r.measure(ctx, hit, svc, AccessHit(svc.URL, r.fix), withWide...); err != nil {
		return err
	}
	if err := r.spreadValidateStore(ctx, svc, "introspect", true); err != nil {
		return err
	}

	// jwt mode, cache on: a fresh process (empty caches).
	svc.Stop()
	if svc, err = r.startService(ctx, "service-jwt", "jwt", 10000); err != nil {
		return err
	}
	if err := r.renew(ctx); err != nil {
		return err
	}
	hitJ := r.add(KeyHitJWT, "Access token, cache hit, jwt mode",
		"POST /v1/access-token for one id, service-caller bearer tokens verified locally, cached access token")
	if err := r.prewarm(ctx, AccessHit(svc.URL, r.fix)); err != nil {
		return err
	}
	if err := r.measure(ctx, hitJ, svc, AccessHit(svc.URL, r.fix), withWide...); err != nil {
		return err
	}
	if err := r.spreadValidateStore(ctx, svc, "jwt", false); err != nil {
		return err
	}

	svc, err = r.refreshPath(ctx, svc)
	return err
}

// refreshPath stops svc and measures baseline BC and then the cache-disabled path
// right after it, in a fresh service process with the access-token cache off. It
// returns that process (nil when it did not start), also with an error, for the
// caller to stop.
func (r *runner) refreshPath(ctx context.Context, svc *Proc) (*Proc, error) {
	svc.Stop()
	svc, err := r.startService(ctx, "service-nocache", "introspect", 0)
	if err != nil {
		return nil, err
	}
	if err := r.renew(ctx); err != nil {
		return svc, err
	}
	levels := r.cfg.Levels
	bc := r.add(KeyBaselineBC, "Baseline BC: the refresh under the row lock, by the driver (B inside C)",
		"BEGIN; SELECT … FOR NO KEY UPDATE of a row; Keycloak's refresh grant (baseline B's call); UPDATE of the row with a new "+
			"ciphertext, IV, MAC and hash of the stored sizes; COMMIT: the cache-disabled path minus the service, on a copy of "+
			"the vault's rows (same indexes and triggers), at most 30 connections")
	if err := r.driverBaseline(ctx, bc, levels, func(c int) (Target, func(), error) {
		return BaselineBC(ctx, r.dbURL, r.kc, r.fix, c)
	}); err != nil {
		return svc, err
	}
	off := r.add(KeyCacheOff, "Access token, cache disabled (introspect mode)",
		"POST /v1/access-token over every user's id by its owner with min_ttl=3600 (longer than a token lives, so that "+
			"the database's copy of the last token cannot answer either); every call refreshes at Keycloak under the row lock")
	// Warm only the caller side (introspection cache), through validate.
	if err := r.prewarm(ctx, Validate(svc.URL, r.fix)); err != nil {
		return svc, err
	}
	return svc, r.measure(ctx, off, svc, AccessRefresh(svc.URL, r.fix), levels...)
}

// add starts scenario key of the run's report.
func (r *runner) add(key, title, what string) *Scenario {
	s := &Scenario{Key: key, Title: title, What: what}
	r.run.Scenarios = append(r.run.Scenarios, s)
	return s
}

const baselineAReqWhat = "baseline A's handler and answer, sent what the cache-hit scenario sends " +
	"(POST /v1/access-token?id=…, Authorization: Bearer with a service caller's ~1.4 KB access token): " +
	"what reading and parsing that request costs a Go server, with no work on it"

const baselineAValWhat = "baseline A's handler and answer, sent what the validate scenarios send " +
	"(GET /v1/validate-token, Authorization: Bearer with each user's access token in turn)"

const baselineBWhat = "POST to Keycloak's token endpoint, grant_type=refresh_token, with the refresh tokens the vault holds"

// driverBaseline measures sc at every level with a target the driver builds for that
// level (its own pool) and releases after it.
func (r *runner) driverBaseline(ctx context.Context, sc *Scenario, levels []int, build func(c int) (Target, func(), error)) error {
	for _, c := range levels {
		t, closePool, err := build(c)
		if err != nil {
			return err
		}
		err = r.measure(ctx, sc, nil, func(int) Target { return t }, c)
		closePool()
		if err != nil {
			return err
		}
	}
	return nil
}

// spreadValidateStore runs the spread and validate scenarios of one auth mode, and the
// write path when store is set.
func (r *runner) spreadValidateStore(ctx context.Context, svc *Proc, mode string, store bool) error {
	keys := map[string][2]string{
		"introspect": {KeySpreadIntro, KeyValidateIntro},
		"jwt":        {KeySpreadJWT, KeyValidateJWT},
	}[mode]
	if err := r.renew(ctx); err != nil {
		return err
	}
	spread := &Scenario{Key: keys[0], Title: "Access token, many ids (warm cache), " + mode + " mode",
		What: fmt.Sprintf("POST /v1/access-token over %d ids, each by its owner; cache filled by one pass first", len(r.fix.Users))}
	r.run.Scenarios = append(r.run.Scenarios, spread)
	if err := r.prewarm(ctx, AccessSpread(svc.URL, r.fix)); err != nil {
		return err
	}
	if err := r.measure(ctx, spread, svc, AccessSpread(svc.URL, r.fix), r.cfg.Levels...); err != nil {
		return err
	}
	if err := r.renew(ctx); err != nil {
		return err
	}
	val := &Scenario{Key: keys[1], Title: "Validate token, " + mode + " mode",
		What: fmt.Sprintf("GET /v1/validate-token with %d users' access tokens in turn", len(r.fix.Users))}
	r.run.Scenarios = append(r.run.Scenarios, val)
	if err := r.prewarm(ctx, Validate(svc.URL, r.fix)); err != nil {
		return err
	}
	if err := r.measure(ctx, val, svc, Validate(svc.URL, r.fix), r.cfg.Levels...); err != nil {
		return err
	}
	if !store {
		return nil
	}
	if err := r.renew(ctx); err != nil {
		return err
	}
	st := &Scenario{Key: KeyStore, Title: "Store refresh token (write path), " + mode + " mode",
		What: fmt.Sprintf("POST /v1/refresh-token by %d users, each storing its session's %d refresh tokens in turn (every call rewrites the row)",
			len(r.fix.Users), r.cfg.Seed.PerSession)}
	r.run.Scenarios = append(r.run.Scenarios, st)
	if err := r.prewarm(ctx, Validate(svc.URL, r.fix)); err != nil {
		return err
	}
	return r.measure(ctx, st, svc, StoreRefresh(svc.URL, r.fix), r.cfg.Levels...)
}

func (r *runner) renew(ctx context.Context) error {
	if err := r.fix.Renew(ctx, renewAfter, r.cfg.Seed.Parallelism); err != nil {
		return fmt.Errorf("renew bearer tokens: %w", err)
	}
	return nil
}
