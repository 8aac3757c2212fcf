package keycloak

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"sync"
	"time"
)

// Rotation modes (KEYCLOAK_REFRESH_TOKEN_ROTATION).
const (
	RotationAuto = "auto" // read the realm's setting from the admin API
	RotationOn   = "on"   // the realm rotates refresh tokens; the admin API is not asked
	RotationOff  = "off"  // it does not; the admin API is not asked
)

// Rotation is the realm's refresh-token rotation ("Revoke Refresh Token").
type Rotation struct {
	On       bool // revokeRefreshToken: a refresh answers with a successor and retires the token
	MaxReuse int  // refreshTokenMaxReuse: how many times a token may be presented again
}

// ErrNoViewRealm means the service account may not read the realm's settings.
var ErrNoViewRealm = errors.New("keycloak: the service account lacks view-realm")

// RealmRotation reads the realm representation's revokeRefreshToken and
// refreshTokenMaxReuse. Needs view-realm: without it Keycloak answers any realm admin
// a reduced representation without these fields (ErrNoViewRealm), or 403.
func (a *Admin) RealmRotation(ctx context.Context) (Rotation, error) {
	var rep struct {
		RevokeRefreshToken   *bool `json:"revokeRefreshToken"`
		RefreshTokenMaxReuse int   `json:"refreshTokenMaxReuse"`
	}
	err := a.call(ctx, "admin_realm", http.MethodGet, "", nil, &rep)
	var ke *Error
	switch {
	case errors.As(err, &ke) && ke.Status == http.StatusForbidden:
		return Rotation{}, ErrNoViewRealm
	case err != nil:
		return Rotation{}, err
	case rep.RevokeRefreshToken == nil:
		return Rotation{}, ErrNoViewRealm
	}
	return Rotation{On: *rep.RevokeRefreshToken, MaxReuse: rep.RefreshTokenMaxReuse}, nil
}

// rotationRetry is how soon Run tries an unanswered read of the realm's setting again.
const rotationRetry = 5 * time.Second

// RotationWatch knows whether the realm rotates refresh tokens: fixed by the mode, or
// (auto) read from the admin API at start and every interval of Run. When the service
// account may not read the realm (no view-realm), auto falls back to off with one
// warning. Safe for concurrent use.
type RotationWatch struct {
	admin *Admin
	mode  string
	log   *slog.Logger

	mu       sync.Mutex
	cur      Rotation
	known    bool // cur was read (or fixed by the mode)
	warnedNo bool // the no-permission fallback was logged
}

// NewRotationWatch returns the watch for mode (RotationAuto, RotationOn or RotationOff).
func NewRotationWatch(admin *Admin, mode string, log *slog.Logger) *RotationWatch {
	w := &RotationWatch{admin: admin, mode: mode, log: log}
	switch mode {
	case RotationOn:
		w.cur, w.known = Rotation{On: true}, true
	case RotationOff:
		w.known = true
	}
	return w
}

// Current returns the realm's rotation setting. In auto mode a setting not read yet is
// read now; while it cannot be (Keycloak down), rotation counts as off, and whatever
// the caller does next at Keycloak fails anyway.
func (w *RotationWatch) Current(ctx context.Context) Rotation {
	w.mu.Lock()
	cur, known := w.cur, w.known
	w.mu.Unlock()
	if known {
		return cur
	}
	return w.read(ctx)
}

// Run reads the setting at once and then every interval until ctx ends (auto mode
// only); until a first read succeeds, every rotationRetry.
func (w *RotationWatch) Run(ctx context.Context, interval time.Duration) {
	if w.mode != RotationAuto {
		return
	}
	for {
		w.read(ctx)
		w.mu.Lock()
		wait := interval
		if !w.known {
			wait = rotationRetry
		}
		w.mu.Unlock()
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
	}
}

func (w *RotationWatch) read(ctx context.Context) Rotation {
	r, err := w.admin.RealmRotation(ctx)
	w.mu.Lock()
	defer w.mu.Unlock()
	switch {
	case errors.Is(err, ErrNoViewRealm):
		if !w.warnedNo {
			w.warnedNo = true
			w.log.WarnContext(ctx, "cannot read the realm's refresh-token rotation (the service account needs the view-realm role of realm-management); assuming rotation is off. Grant the role or set KEYCLOAK_REFRESH_TOKEN_ROTATION=on|off")
		}
		w.cur, w.known = Rotation{}, true
		return w.cur
	case err != nil:
		if ctx.Err() == nil {
			w.log.DebugContext(ctx, "reading the realm's refresh-token rotation failed; trying again later", "error", err.Error())
		}
		return w.cur
	}
	if r.On && r.MaxReuse == 0 && (!w.known || w.cur != r) {
		w.log.WarnContext(ctx, "the realm rotates refresh tokens with refreshTokenMaxReuse 0: a crash between Keycloak's answer and the database commit loses that stored token (it is marked invalid on its next use); set the realm's Refresh Token Max Reuse to 1 to avoid it",
			"revoke_refresh_token", r.On, "max_reuse", r.MaxReuse)
	}
	if w.known && w.cur != r {
		w.log.InfoContext(ctx, "the realm's refresh-token rotation changed", "revoke_refresh_token", r.On, "max_reuse", r.MaxReuse)
	}
	w.cur, w.known = r, true
	return r
}
