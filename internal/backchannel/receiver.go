package backchannel

import (
	"context"
	"errors"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/auth-manager/auth-manager/internal/audit"
	"github.com/auth-manager/auth-manager/internal/keycloak"
	"github.com/auth-manager/auth-manager/internal/vault"
)

// Store keeps the back-channel logout tokens already applied (replay protection).
type Store interface {
	RecordLogoutJTI(ctx context.Context, jti string, expiresAt time.Time) (bool, error)
	PurgeLogoutJTIs(ctx context.Context, now time.Time) (int64, error)
}

// Vault is the part of the vault the receiver needs: stored tokens by user and session.
type Vault interface {
	ListByUser(ctx context.Context, userID string) ([]vault.Meta, error)
	ListBySession(ctx context.Context, sid string) ([]vault.Meta, error)
	DeleteBySession(ctx context.Context, e vault.Ending, sid, userID string, types ...vault.TokenType) ([]vault.Meta, error)
	DeleteByUser(ctx context.Context, e vault.Ending, userID string, types ...vault.TokenType) ([]vault.Meta, error)
	DeleteRows(ctx context.Context, e vault.Ending, sid string, ids []string) ([]vault.Meta, error)
}

// Admin is the part of Keycloak's admin API the receiver needs.
type Admin interface {
	UserSessions(ctx context.Context, userID string) ([]keycloak.Session, error)
	OfflineSessions(ctx context.Context, userID string) ([]keycloak.Session, error)
}

// Evicter drops a row's cached access token in this process (the database's eviction
// feed does it on every replica; this is for the one that knows first).
type Evicter interface {
	Evict(id string)
}

// Ended records ended sessions on every replica (ended.Registry).
type Ended interface {
	EndSession(ctx context.Context, sid, clientID string) error
	EndUserSessionsExcept(ctx context.Context, userID string, at time.Time, live []string) error
}

// Options configures the receiver.
type Options struct {
	Log   *slog.Logger
	Audit *audit.Logger // nil records nothing
	Now   func() time.Time
	// Ended, when set, records every session a back-channel logout announced (callers'
	// tokens of it must stop working) and, after it, which of the user's sessions
	// Keycloak still had: every other session of the user whose tokens were issued
	// before the logout's arrival is over.
	Ended Ended
	// KeycloakDeadline bounds one reconciliation's Keycloak calls.
	KeycloakDeadline time.Duration
	// ReconcileDelays are when, after a back-channel logout, the user's stored tokens
	// are reconciled with Keycloak's sessions (default 0.5 s and 3 s). Keycloak sends
	// the notice before it removes the session, so looking at once would find it.
	ReconcileDelays []time.Duration
}

// Receiver applies back-channel logouts. Safe for concurrent use; Run must be running
// for a logout to be followed by a reconciliation.
type Receiver struct {
	st       Store
	vault    Vault
	admin    Admin
	cache    Evicter
	verifier *Verifier
	opt      Options
	checks   chan reconcileCheck

	mu      sync.Mutex
	pending map[string]bool // users with a reconciliation queued and not yet started
}

// New returns the receiver.
func New(st Store, v Vault, admin Admin, cache Evicter, verifier *Verifier, opt Options) *Receiver {
	if opt.Now == nil {
		opt.Now = time.Now
	}
	if opt.Log == nil {
		opt.Log = slog.New(slog.DiscardHandler)
	}
	if opt.KeycloakDeadline <= 0 {
		opt.KeycloakDeadline = 30 * time.Second
	}
	if len(opt.ReconcileDelays) == 0 {
		opt.ReconcileDelays = []time.Duration{500 * time.Millisecond, 3 * time.Second}
	}
	return &Receiver{st: st, vault: v, admin: admin, cache: cache, verifier: verifier, opt: opt,
		checks: make(chan reconcileCheck, 1024), pending: map[string]bool{}}
}

// evict drops the cached access tokens of rows the vault deleted (and audited).
func (s *Receiver) evict(rows []vault.Meta) {
	for _, r := range rows {
		s.cache.Evict(r.ID)
	}
}

// valuesOf is ctx (deadline, cancellation) carrying the values of values: the request
// id, actor and client IP that the vault's audit events of a reconciliation name.
type valuesOf struct {
	context.Context
	values context.Context
}

func (c valuesOf) Value(key any) any { return c.values.Value(key) }

// ended records that session sid ended.
func (s *Receiver) ended(ctx context.Context, sid string) error {
	if s.opt.Ended == nil || sid == "" {
		return nil
	}
	return s.opt.Ended.EndSession(ctx, sid, "")
}

// The endings of the rows a back-channel logout deletes: those its token names, and
// those the reconciliation after it finds without a Keycloak session.
var (
	logoutEnding    = vault.Ending{Cause: vault.CauseBackchannelLogout, Reason: "back-channel logout"}
	reconcileEnding = vault.Ending{Cause: vault.CauseBackchannelLogout, Reason: "session ended at Keycloak"}
)

// Logout is what a back-channel logout did at once.
type Logout struct {
	Subject       string
	SessionID     string
	TokensDeleted int
	// Reconciling is true when the user's stored tokens will be checked against
	// Keycloak's sessions shortly (see Logout).
	Reconciling bool
}

// Logout acts on a back-channel logout token (OpenID Connect Back-Channel Logout 1.0).
// It verifies the token, records its jti so that it works once on any replica, records
// the session's end (Options.Ended) so that callers' tokens of it are refused on every
// replica, and deletes at once the stored refresh tokens bound to the session that
// ended (sid), or all of the user's when the token names only sub; the offline tokens
// too when the token says revoke_offline_access.
//
// Then it schedules a reconciliation of the user's stored tokens with the sessions
// Keycloak still has (see Reconcile), because the notice does not say everything:
// Keycloak sends the same notice when an offline session ends as when an online one
// does, sends it before it removes the session, and its "sign out" of a user (admin
// console, POST /users/{id}/logout) ends every session of the user but notifies only
// one of them.
//
// A bad token is an ErrInvalidLogoutToken (with its reason) and changes nothing; one
// refused before its signature verified (ErrUnverified) is not audited either.
func (s *Receiver) Logout(ctx context.Context, raw string) (Logout, error) {
	tok, err := s.verifier.Verify(ctx, raw)
	if errors.Is(err, ErrUnverified) {
		// Not audited: a token the realm did not sign is no one's action (the request's
		// failure is in the log and the access log). So is doctor's probe, which sends
		// no token at all.
		return Logout{}, err
	}
	if err != nil {
		s.recordLogout(ctx, LogoutToken{}, 0, err)
		return Logout{}, err
	}
	fresh, err := s.st.RecordLogoutJTI(ctx, tok.JTI, tok.RetainUntil)
	if err == nil && !fresh {
		err = badToken("replayed")
	}
	if err != nil {
		s.recordLogout(ctx, tok, 0, err)
		return Logout{}, err
	}
	// Callers' tokens of the session stop working first, on every replica. Unrecorded,
	// the logout fails: Keycloak reports it, and this replica refuses them anyway.
	if err := s.ended(ctx, tok.SessionID); err != nil {
		s.recordLogout(ctx, tok, 0, err)
		return Logout{}, err
	}
	if _, err := s.st.PurgeLogoutJTIs(ctx, s.opt.Now()); err != nil {
		s.opt.Log.WarnContext(ctx, "backchannel: purging expired logout jtis failed", "error", err.Error())
	}

	types := []vault.TokenType{vault.Refresh}
	if tok.RevokeOffline {
		types = append(types, vault.Offline)
	}
	var rows []vault.Meta
	if tok.SessionID != "" {
		rows, err = s.vault.DeleteBySession(ctx, logoutEnding, tok.SessionID, tok.Subject, types...)
	} else {
		rows, err = s.vault.DeleteByUser(ctx, logoutEnding, tok.Subject, types...)
	}
	if err != nil {
		s.recordLogout(ctx, tok, 0, err)
		return Logout{}, err
	}
	s.evict(rows)
	s.recordLogout(ctx, tok, len(rows), nil)

	users := map[string]bool{}
	if tok.Subject != "" {
		users[tok.Subject] = true
	} else {
		// Keycloak always names the user; a sid-only token is reconciled for the
		// owners of the rows bound to that session.
		for _, r := range rows {
			users[r.UserID] = true
		}
		if left, err := s.vault.ListBySession(ctx, tok.SessionID); err == nil {
			for _, r := range left {
				users[r.UserID] = true
			}
		}
	}
	out := Logout{Subject: tok.Subject, SessionID: tok.SessionID, TokensDeleted: len(rows)}
	for uid := range users {
		if s.reconcileLater(ctx, uid) {
			out.Reconciling = true
		}
	}
	return out, nil
}

func (s *Receiver) recordLogout(ctx context.Context, tok LogoutToken, deleted int, err error) {
	ev := audit.Event{Name: audit.BackchannelLogout, Subject: tok.Subject, SessionID: tok.SessionID,
		Detail: "tokens_deleted=" + strconv.Itoa(deleted)}
	if err != nil {
		ev.Err, ev.Detail = err, ""
	}
	s.opt.Audit.Record(ctx, ev)
}

// reconcileCheck is a pending reconciliation of one user's stored tokens.
type reconcileCheck struct {
	userID string
	// reqCtx carries the values (request id) of the logout that asked for it, for the
	// audit trail; never its deadline.
	reqCtx context.Context
	// at is when the logout arrived: every session of the user that Keycloak does not
	// list afterwards had its tokens issued before then.
	at time.Time
}

// maxConcurrentChecks bounds the reconciliations in flight.
const maxConcurrentChecks = 32

// reconcileLater queues a reconciliation of userID unless one is already waiting. A
// full queue drops it (logged): the rows then stay until they are found refused.
func (s *Receiver) reconcileLater(ctx context.Context, userID string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.pending[userID] {
		return true
	}
	select {
	case s.checks <- reconcileCheck{userID: userID, reqCtx: context.WithoutCancel(ctx), at: s.opt.Now()}:
		s.pending[userID] = true
		return true
	default:
		s.opt.Log.WarnContext(ctx, "backchannel: reconciliation queue full; stored tokens not checked", "subject", userID)
		return false
	}
}

// Run performs the queued reconciliations until ctx ends, then waits for those in
// flight to stop.
func (s *Receiver) Run(ctx context.Context) {
	var wg sync.WaitGroup
	defer wg.Wait()
	sem := make(chan struct{}, maxConcurrentChecks)
	for {
		select {
		case <-ctx.Done():
			return
		case chk := <-s.checks:
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				return
			}
			wg.Go(func() {
				defer func() { <-sem }()
				s.reconcileAfterDelays(ctx, chk)
			})
		}
	}
}

// reconcileAfterDelays reconciles after each of ReconcileDelays: Keycloak removes a
// session only after it has notified the clients, so the first look waits a little and
// a later one catches a slow Keycloak.
func (s *Receiver) reconcileAfterDelays(ctx context.Context, chk reconcileCheck) {
	for i, d := range s.opt.ReconcileDelays {
		select {
		case <-ctx.Done():
			return
		case <-time.After(d):
		}
		if i == 0 {
			// From now on a new logout of the user needs a reconciliation of its own.
			s.mu.Lock()
			delete(s.pending, chk.userID)
			s.mu.Unlock()
		}
		cctx, cancel := context.WithTimeout(ctx, s.opt.KeycloakDeadline)
		n, live, err := s.reconcile(cctx, chk.reqCtx, chk.userID)
		cancel()
		if live != nil && s.opt.Ended != nil {
			// Keycloak's sign-out of a user ends every session but notifies one: the
			// list says which of the user's sessions are left.
			// Stated as of the logout's arrival, not of the list: a session created
			// since is in the list anyway, and a token's iat has only whole seconds.
			if err := s.opt.Ended.EndUserSessionsExcept(chk.reqCtx, chk.userID, chk.at, live); err != nil {
				s.opt.Log.WarnContext(ctx, "backchannel: the user's ended sessions were not recorded",
					"subject", chk.userID, "error", err.Error())
			}
		}
		if err != nil {
			s.opt.Log.WarnContext(ctx, "backchannel: reconciliation after a back-channel logout failed",
				"subject", chk.userID, "error", err.Error())
			continue
		}
		s.opt.Log.InfoContext(chk.reqCtx, "backchannel: stored tokens reconciled with Keycloak's sessions",
			"subject", chk.userID, "attempt", i+1, "tokens_deleted", n)
	}
}

// Reconcile deletes userID's stored tokens whose Keycloak session is gone: refresh
// tokens bound to a session that is no longer among the user's online sessions, and
// offline tokens bound to one that is no longer among the user's offline sessions of
// the service's client. It deletes nothing unless Keycloak answered both lists. audit
// carries the values for the audit trail. It returns how many rows it deleted.
func (s *Receiver) Reconcile(ctx, audit context.Context, userID string) (int, error) {
	n, _, err := s.reconcile(ctx, audit, userID)
	return n, err
}

// reconcile is Reconcile, also returning the ids of the user's live sessions (online,
// and offline of the service's client) once Keycloak listed them.
func (s *Receiver) reconcile(ctx, audit context.Context, userID string) (int, []string, error) {
	online, err := s.admin.UserSessions(ctx, userID)
	if err != nil {
		return 0, nil, err
	}
	offline, err := s.admin.OfflineSessions(ctx, userID)
	if err != nil {
		return 0, nil, err
	}
	live := map[vault.TokenType]map[string]bool{vault.Refresh: {}, vault.Offline: {}}
	ids := make([]string, 0, len(online)+len(offline))
	for _, ks := range online {
		live[vault.Refresh][ks.ID] = true
		ids = append(ids, ks.ID)
	}
	for _, ks := range offline {
		live[vault.Offline][ks.ID] = true
		ids = append(ids, ks.ID)
	}
	n, err := s.deleteDead(ctx, audit, userID, live)
	return n, ids, err
}

// deleteDead deletes userID's rows bound to sessions not in live.
func (s *Receiver) deleteDead(ctx, audit context.Context, userID string, live map[vault.TokenType]map[string]bool) (int, error) {
	rows, err := s.vault.ListByUser(ctx, userID)
	if err != nil {
		return 0, err
	}
	dead := map[string][]string{} // session id → row ids
	for _, r := range rows {
		if !live[r.Type][r.SessionID] {
			dead[r.SessionID] = append(dead[r.SessionID], r.ID)
		}
	}
	n := 0
	for sid, ids := range dead {
		// Only rows still bound to that session: one stored anew meanwhile is kept.
		gone, err := s.vault.DeleteRows(valuesOf{ctx, audit}, reconcileEnding, sid, ids)
		if err != nil {
			return n, err
		}
		s.evict(gone)
		n += len(gone)
	}
	return n, nil
}
