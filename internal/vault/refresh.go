package vault

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/auth-manager/auth-manager/internal/audit"
	"github.com/auth-manager/auth-manager/internal/keycloak"
	"github.com/auth-manager/auth-manager/internal/problem"
	"github.com/auth-manager/auth-manager/internal/store"
)

// Exchange presents a stored token to Keycloak (the refresh_token grant) and returns
// Keycloak's answer. Refresh calls it with the row locked, at most once per call.
type Exchange func(ctx context.Context, token string) (keycloak.TokenSet, error)

// Successor says what Refresh does with the refresh token Keycloak answers with.
type Successor int

const (
	// StoreSuccessor replaces the row's token with a rotated successor (same row, same
	// type): access tokens, refresh-token-id, the keep-alive job.
	StoreSuccessor Successor = iota
	// ReturnSuccessor leaves the row's token as it is and hands the new refresh token
	// to the caller, which stores it elsewhere (an offline reissue).
	ReturnSuccessor
)

// Refreshed is what a refresh obtained.
type Refreshed struct {
	Meta Meta // the row as written back
	// Tokens is Keycloak's answer. Its RefreshToken is set only for ReturnSuccessor:
	// a stored successor never leaves the vault.
	Tokens keycloak.TokenSet
	// Stored: Tokens holds the access token stored for the row (minted earlier, by
	// any replica), not a new answer of Keycloak's.
	Stored bool
}

// Refresh is the one place where a stored token is used: it locks row id, opens its
// token, presents it to Keycloak through exchange, and writes the outcome back before
// the lock is released: a rotated successor sealed into the row (StoreSuccessor), the
// row re-sealed under the current key when it was not, last_used_at, or, when Keycloak
// refuses the token for good (invalid_grant), the row marked invalid. An invalid row
// answers with its recorded refusal without asking Keycloak. Every call records the
// refresh metric and the same audit events, whichever feature asks.
//
// At most Options.KeycloakConcurrency refreshes run at once in this replica: the
// others wait for a slot, until ctx ends, before they take a pooled connection.
func (s *Service) Refresh(ctx context.Context, id string, exchange Exchange, succ Successor) (Refreshed, error) {
	return s.present(ctx, id, exchange, plan{succ: succ})
}

// Mint is Refresh with StoreSuccessor for an access token that every replica shares:
// the access token Keycloak answers with is sealed and stored for the row in the same
// transaction as the successor. Unless force, an access token stored for the row that
// will live longer than minTTL is answered instead (Refreshed.Stored) and Keycloak is
// not asked; it is read after the row lock is taken, so a caller that waited for
// another replica's refresh of the row gets that refresh's token.
func (s *Service) Mint(ctx context.Context, id string, minTTL time.Duration, force bool, exchange Exchange) (Refreshed, error) {
	return s.present(ctx, id, exchange, plan{succ: StoreSuccessor, mint: true, minTTL: minTTL, force: force})
}

// plan is what one presentation does besides the refresh itself.
type plan struct {
	succ   Successor
	mint   bool          // store the access token for the row
	minTTL time.Duration // (mint) a stored token living longer than this is answered instead…
	force  bool          // …unless force
	// want, when set, must hold for the row under its lock, or nothing is done
	// (ErrNotIdle, no Keycloak call).
	want func(store.Row) bool
}

func (s *Service) present(ctx context.Context, id string, exchange Exchange, p plan) (Refreshed, error) {
	release, err := s.acquire(ctx)
	if err != nil {
		return Refreshed{}, err
	}
	defer release()
	r, err := s.refresh(ctx, id, exchange, p)
	var uc uncommitted
	if errors.As(err, &uc) && s.retryUncommitted(ctx) {
		s.opt.Log.WarnContext(ctx, "vault: writing a refreshed token back failed; presenting the stored token once more",
			"row_id", id, "error", uc.err.Error())
		r, err = s.refresh(ctx, id, exchange, p)
	}
	if errors.As(err, &uc) {
		err = uc.err
	}
	return r, err
}

// uncommitted is a refresh Keycloak answered whose write-back failed.
type uncommitted struct{ err error }

func (u uncommitted) Error() string { return u.err.Error() }
func (u uncommitted) Unwrap() error { return u.err }

func (s *Service) refresh(ctx context.Context, id string, exchange Exchange, p plan) (Refreshed, error) {
	var (
		answered  bool // Keycloak answered with tokens (the write-back is what remains)
		stored    bool // the stored access token is the answer; Keycloak was not asked
		ts        keycloak.TokenSet
		permanent error // the row is (now) invalid: Keycloak's refusal
		marked    bool  // … and this call marked it
		rotated   bool
		failed    error // Keycloak failed without refusing the token
		failedRow store.Meta
		unwanted  bool // want refused the row: nothing was done
	)
	row, err := s.st.Update(ctx, id, func(ctx context.Context, cur store.Row, minted *store.Access) (store.Change, error) {
		if p.want != nil && !p.want(cur) {
			unwanted = true
			return store.Change{}, store.ErrUnchanged
		}
		if cur.Status == store.StatusInvalid {
			permanent = refusal(cur)
			return store.Change{}, store.ErrUnchanged
		}
		if p.mint && !p.force {
			if ts, stored = s.openMinted(ctx, cur.Meta, minted, p.minTTL); stored {
				return store.Change{}, store.ErrUnchanged
			}
		}
		token, err := s.open(ctx, cur)
		if err != nil {
			return store.Change{}, err
		}
		ts, err = exchange(ctx, token)
		s.opt.OnRefresh(outcome(err))
		if refused, ok := markRefused(cur, err); ok {
			permanent, marked = err, true
			return store.Change{Row: refused, Events: []store.Event{s.invalidEvent(refused.Meta, err)}}, nil
		}
		if err != nil {
			failed, failedRow = err, cur.Meta
			return store.Change{}, err
		}
		answered = true
		var keep *store.Access
		if p.mint {
			// Sealing a JWT cannot fail; if it did, the successor must still be written.
			if keep, err = s.sealMinted(cur.Meta, ts); err != nil {
				s.opt.Log.WarnContext(ctx, "vault: access token not stored", "row_id", id, "error", err.Error())
			}
		}
		now := s.opt.Now()
		next := store.Change{Row: cur, Succeeded: true}
		next.Row.LastUsedAt = &now
		switch {
		case p.succ == StoreSuccessor && ts.RefreshToken != "" && ts.RefreshToken != token:
			rotated = true
			next.Row, err = s.Seal(next.Row, ts.RefreshToken)
		case s.ring.NeedsReseal(sealedOf(cur)):
			next.Row, err = s.Seal(next.Row, token)
		}
		next.Access = keep
		return next, err
	})
	switch {
	case errors.Is(err, store.ErrNotFound):
		err = ErrNotFound
	case err != nil && answered && (errors.Is(err, store.ErrUnavailable) || errors.Is(err, store.ErrDatabase)):
		err = uncommitted{err}
	case failed != nil:
		s.recordFailure(ctx, failedRow, failed)
	}
	if err == nil && stored {
		return Refreshed{Meta: row.Meta, Tokens: ts, Stored: true}, nil
	}
	ev := audit.Event{Name: audit.TokenRefreshed, Subject: row.UserID, RowID: id, SessionID: row.SessionID}
	switch {
	case err == nil && unwanted:
		return Refreshed{}, ErrNotIdle
	case err != nil:
		ev.Err = err
		s.opt.Audit.Record(ctx, ev)
		return Refreshed{}, err
	case permanent != nil:
		if marked {
			s.opt.Audit.Record(ctx, audit.Event{Name: audit.TokenInvalidated, Subject: row.UserID, RowID: id,
				SessionID: row.SessionID, ErrorCode: problem.Code(permanent)})
		}
		return Refreshed{}, permanent
	case rotated:
		ev.Name, ev.Detail = audit.TokenRotated, "successor stored in the same row"
	}
	s.opt.Audit.Record(ctx, ev)
	if p.succ == StoreSuccessor {
		ts.RefreshToken = ""
	}
	return Refreshed{Meta: row.Meta, Tokens: ts}, nil
}

// outcome names a presentation to Keycloak for the refresh metric, in the words of the
// envelope: ok, invalid_grant, transient (503) or error.
func outcome(err error) string {
	switch p := problem.Of(err); {
	case p == nil:
		return "ok"
	case p.Reason == "invalid_grant":
		return "invalid_grant"
	case p.Status == http.StatusServiceUnavailable:
		return "transient"
	}
	return "error"
}

// open returns row's plaintext token, or ErrUnusable. A legacy row (no integrity tag:
// written by the Python service) is bound to nothing, so its token is used only when
// the token's own claims match the row (see legacyMismatch); a mismatch is audited.
func (s *Service) open(ctx context.Context, row store.Row) (string, error) {
	token, err := s.Open(row)
	if err != nil || row.MAC != "" {
		return token, err
	}
	if why := legacyMismatch(row.Meta, token, s.opt.TrustOpaqueLegacy); why != "" {
		s.opt.Log.WarnContext(ctx, "vault: legacy row refused", "row_id", row.ID, "why", why)
		s.opt.Audit.Record(ctx, audit.Event{Name: audit.TokenUnusable, Subject: row.UserID, RowID: row.ID,
			SessionID: row.SessionID, Detail: why, Err: ErrUnusable})
		return "", ErrUnusable
	}
	return token, nil
}

// legacyMismatch says why a legacy row's token may not be used, or "" when it may:
// its sub must be the row's user and its typ must match the row's type (Refresh for
// REFRESH, Offline for OFFLINE). The signature is not checked (Keycloak will); the
// point is that a token moved into another user's row is never presented, nor sealed
// to that user. A token that is not a JWT has no claims to check: it is used only when
// the operator trusts opaque legacy tokens.
func legacyMismatch(row Meta, token string, trustOpaque bool) string {
	cl, ok := readClaims(token)
	switch {
	case !ok && trustOpaque:
		return ""
	case !ok:
		return "legacy row holds a token that is not a JWT (AUTH_MANAGER_TOKEN_VAULT_TRUST_OPAQUE_LEGACY is off)"
	case cl.Sub != row.UserID:
		return "legacy row holds a token of another user than the row's"
	case !(cl.Typ == "Refresh" && row.Type == store.Refresh) && !(cl.Typ == "Offline" && row.Type == store.Offline):
		return "legacy row holds a token whose type does not match the row's"
	}
	return ""
}
