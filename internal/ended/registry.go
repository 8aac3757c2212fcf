package ended

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/auth-manager/auth-manager/internal/store"
)

// Store is the feed's table and wake-up channel (store.Store).
type Store interface {
	AppendEnded(ctx context.Context, r store.Ended) (int64, error)
	EndedAfter(ctx context.Context, after int64, now time.Time, limit int) ([]store.Ended, error)
	PruneEnded(ctx context.Context, now time.Time, limit int) (int64, error)
}

// Feed says whether every replica's records are read as soon as they commit
// (feed.Follower, which calls CatchUp on every wake-up and poll).
type Feed interface {
	Fresh() bool
}

// Realm reads the longest access-token lifespan of clients' tokens (keycloak.Admin).
type Realm interface {
	AccessTokenLifespan(ctx context.Context, clients []string) (time.Duration, error)
}

// Options configures a Registry. Zero values take the defaults named.
type Options struct {
	// Clients are the clients whose access tokens the service accepts and names in
	// records (the service's own, AUTH_MANAGER_ALLOWED_CLIENTS): a client's own
	// access-token lifespan counts when longer than the realm's.
	Clients []string
	// Skew is added to the lifespan: clock difference between Keycloak and the replicas
	// (1 min).
	Skew time.Duration
	// FallbackLifespan is assumed while the realm's lifespan cannot be read (24 h).
	FallbackLifespan time.Duration
	// LifespanRefresh is how often the realm's lifespan is read (1 min).
	LifespanRefresh time.Duration
	// Feed follows the table (nil: nothing does, and Current is false).
	Feed Feed
	// PruneEvery is how often expired records are deleted, here and in the table (1 min).
	PruneEvery time.Duration
	Log        *slog.Logger
	Now        func() time.Time
}

// writeTimeout bounds the append of a record, which outlives the caller's request.
const writeTimeout = 10 * time.Second

// Registry owns ended sessions: it records them in PostgreSQL, follows every replica's
// records and answers whether a token's session ended. Safe for concurrent use.
type Registry struct {
	st    Store
	realm Realm
	opt   Options
	mem   *memory
	life  *lifespans

	catchUp sync.Mutex // one reader of the feed at a time; guards last
	last    int64      // the highest seq read
	loaded  atomic.Bool
}

// New returns a Registry that knows nothing until it has read the feed (CatchUp, Run).
func New(st Store, realm Realm, opt Options) *Registry {
	if opt.Skew <= 0 {
		opt.Skew = time.Minute
	}
	if opt.FallbackLifespan <= 0 {
		opt.FallbackLifespan = 24 * time.Hour
	}
	if opt.LifespanRefresh <= 0 {
		opt.LifespanRefresh = time.Minute
	}
	if opt.PruneEvery <= 0 {
		opt.PruneEvery = time.Minute
	}
	if opt.Log == nil {
		opt.Log = slog.New(slog.DiscardHandler)
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	return &Registry{st: st, realm: realm, opt: opt, mem: newMemory(),
		life: newLifespans(opt.FallbackLifespan, opt.LifespanRefresh)}
}

// EndSession records that Keycloak session sid ended, for every client or only for
// clientID's tokens when it is not "" (a revoked refresh token removes its client from
// the session, not the session), and refuses its tokens here at once. On nil the record
// is committed and every replica will refuse them; on error this replica refuses them
// anyway.
func (r *Registry) EndSession(ctx context.Context, sid, clientID string) error {
	if sid == "" {
		return nil
	}
	return r.announce(ctx, store.Ended{SessionID: sid, ClientID: clientID}, r.opt.Now())
}

// EndUserSessionsExcept records that as of at, the only live sessions of user userID
// were live, and applies it here at once: every token of the user issued in a second
// before at whose session is not in live is refused (tokens of offline sessions
// excepted, see Ended). Keycloak's sign-out of a user ends all its sessions but sends
// one back-channel logout; the user's session list afterwards says which are left.
// On nil the record is committed; on error it holds on this replica only.
func (r *Registry) EndUserSessionsExcept(ctx context.Context, userID string, at time.Time, live []string) error {
	if userID == "" {
		return nil
	}
	// As the database keeps it, so that this replica's rule and the record read back
	// compare equal.
	at = at.Round(0).Truncate(time.Microsecond)
	return r.announce(ctx, store.Ended{UserID: userID, At: at, Live: live}, at)
}

// announce writes rec, whose tokens were issued before from, then applies it here.
func (r *Registry) announce(ctx context.Context, rec store.Ended, from time.Time) error {
	now := r.opt.Now()
	rec.EndedAt = now
	rec.ExpiresAt = from.Add(r.Retention())
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), writeTimeout)
	defer cancel()
	seq, err := r.st.AppendEnded(wctx, rec)
	rec.Seq = seq
	r.mem.apply(rec)
	if err != nil {
		r.opt.Log.WarnContext(ctx, "ended session not recorded; other replicas do not know of it",
			"session_id", rec.SessionID, "client_id", rec.ClientID, "subject", rec.UserID, "error", err.Error())
	}
	return err
}

// Ended reports whether a token of session sid issued to clientID for subject at
// issuedAt is of a session that ended: the session as a whole or clientID's part of it,
// or, by the subject's latest user rule, a session not live as of the rule's time for
// a token issued in an earlier second. A token of an offline session (offline) is exempt
// from user rules: the user's offline sessions of other clients are not in the list
// Keycloak gives the service, and a sign-out does not end them.
func (r *Registry) Ended(sid, clientID, subject string, issuedAt time.Time, offline bool) bool {
	return r.mem.ended(sid, clientID, subject, issuedAt, offline, r.opt.Now())
}

// Loaded reports whether the feed was read once: before, Ended knows nothing of ends
// recorded by other replicas or before this one started.
func (r *Registry) Loaded() bool { return r.loaded.Load() }

// Current reports whether ends recorded on any replica are applied here as soon as
// they commit, or within the feed's bound (see feed.Follower.Fresh).
func (r *Registry) Current() bool {
	return r.loaded.Load() && r.opt.Feed != nil && r.opt.Feed.Fresh()
}

// Retention is how long a session that ends now is remembered: the longest access-token
// lifespan its tokens may have (the fallback until the realm was read) plus the skew.
func (r *Registry) Retention() time.Duration { return r.life.at(r.opt.Now()) + r.opt.Skew }

// Size returns how many ended sessions (or client parts of one) and user rules are
// remembered.
func (r *Registry) Size() (sessions, users int) { return r.mem.size() }
