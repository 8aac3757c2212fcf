package events

import (
	"context"
	"log/slog"
	"time"

	"github.com/auth-manager/auth-manager/internal/keycloak"
	"github.com/auth-manager/auth-manager/internal/store"
)

// ForecastLockKey is the PostgreSQL advisory lock a forecast pass holds, so that one
// replica at a time runs it. ("am-fcst" in ASCII.)
const ForecastLockKey int64 = 0x616d2d66637374

// ForecastStore is what a forecast pass reads and writes (store.Store).
type ForecastStore interface {
	ActiveRows(ctx context.Context, after string, limit int) ([]store.Meta, error)
	SaveForecasts(ctx context.Context, fs []store.Forecast) (int, error)
	WithAdvisoryLock(ctx context.Context, key int64, fn func(ctx context.Context) error) (bool, error)
}

// Admin is the part of Keycloak's admin API a forecast reads (keycloak.Admin).
type Admin interface {
	RealmSettings(ctx context.Context) (keycloak.RealmSettings, error)
	ClientAttributes(ctx context.Context) (map[string]string, error)
	ClientSessions(ctx context.Context, offline bool, first, max int) ([]keycloak.Session, error)
}

// ForecastOptions configures a Forecaster.
type ForecastOptions struct {
	Interval time.Duration // between passes; 0: no pass
	// HorizonOffline and HorizonRefresh: a row of that type whose deadline is this
	// close is announced (token.expiring).
	HorizonOffline, HorizonRefresh time.Duration
	Log                            *slog.Logger
	Now                            func() time.Time
}

// Forecaster derives every active row's hard deadline from Keycloak's settings and its
// session's start, records it (GET /v1/tokens shows it) and announces each deadline
// that comes within the horizon once.
type Forecaster struct {
	st    ForecastStore
	admin Admin
	opt   ForecastOptions
}

// NewForecaster returns the forecaster.
func NewForecaster(st ForecastStore, admin Admin, opt ForecastOptions) *Forecaster {
	if opt.Log == nil {
		opt.Log = slog.New(slog.DiscardHandler)
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	return &Forecaster{st: st, admin: admin, opt: opt}
}

// ForecastReport is what one pass did.
type ForecastReport struct {
	Ran       bool // false: another replica held the lock
	Rows      int  // active rows looked at
	Deadlines int  // of them with a hard deadline
	Announced int  // token.expiring appended
}

// forecastPage bounds the rows and sessions read at once.
const forecastPage = 500

// Run runs a pass at once and then every Interval until ctx ends.
func (f *Forecaster) Run(ctx context.Context) {
	if f.opt.Interval <= 0 {
		return
	}
	for {
		rep, err := f.RunOnce(ctx)
		switch {
		case err != nil && ctx.Err() == nil:
			f.opt.Log.WarnContext(ctx, "expiry forecast pass failed", "error", err.Error())
		case rep.Ran:
			f.opt.Log.InfoContext(ctx, "expiry forecast pass", "rows", rep.Rows, "deadlines", rep.Deadlines, "announced", rep.Announced)
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(f.opt.Interval):
		}
	}
}

// RunOnce runs one pass unless another replica is running one.
func (f *Forecaster) RunOnce(ctx context.Context) (ForecastReport, error) {
	var rep ForecastReport
	ran, err := f.st.WithAdvisoryLock(ctx, ForecastLockKey, func(ctx context.Context) error { return f.pass(ctx, &rep) })
	rep.Ran = ran
	return rep, err
}

func (f *Forecaster) pass(ctx context.Context, rep *ForecastReport) error {
	var realm Realm
	var err error
	if realm.Settings, err = f.admin.RealmSettings(ctx); err != nil {
		return err
	}
	if realm.Client, err = f.admin.ClientAttributes(ctx); err != nil {
		return err
	}
	sessions := map[store.TokenType]map[string]keycloak.Session{}
	for typ, offline := range map[store.TokenType]bool{store.Refresh: false, store.Offline: true} {
		if sessions[typ], err = f.clientSessions(ctx, offline); err != nil {
			return err
		}
	}
	now := f.opt.Now()
	after := ""
	for {
		rows, err := f.st.ActiveRows(ctx, after, forecastPage)
		if err != nil {
			return err
		}
		fs := make([]store.Forecast, 0, len(rows))
		for _, r := range rows {
			after = r.ID
			fs = append(fs, f.forecast(realm, sessions[r.Type], r, now))
			if fs[len(fs)-1].ExpiresAt != nil {
				rep.Deadlines++
			}
		}
		rep.Rows += len(rows)
		n, err := f.st.SaveForecasts(ctx, fs)
		rep.Announced += n
		if err != nil {
			return err
		}
		if len(rows) < forecastPage {
			return nil
		}
	}
}

// forecast is row r's deadline, announced when it is within the horizon of r's type.
func (f *Forecaster) forecast(realm Realm, sessions map[string]keycloak.Session, r store.Meta, now time.Time) store.Forecast {
	ks, ok := sessions[r.SessionID]
	if !ok {
		return store.Forecast{Row: r, Basis: BasisSessionNotFound}
	}
	d := deadlineOf(realm, r.Type, time.UnixMilli(ks.Start), ks.RememberMe)
	out := store.Forecast{Row: r, ExpiresAt: d.At, Basis: d.Basis}
	horizon := f.opt.HorizonRefresh
	if r.Type == store.Offline {
		horizon = f.opt.HorizonOffline
	}
	if d.At != nil && d.At.Sub(now) <= horizon {
		out.Announce = true
		out.Details = map[string]any{"expires_at": d.At.Format(time.RFC3339Nano), "expires_basis": d.Basis,
			"session_started_at": time.UnixMilli(ks.Start).UTC().Format(time.RFC3339Nano), "horizon_seconds": int(horizon / time.Second)}
	}
	return out
}

// clientSessions lists the sessions (online, or offline) that hold a token of the
// service's client, by id.
func (f *Forecaster) clientSessions(ctx context.Context, offline bool) (map[string]keycloak.Session, error) {
	out := map[string]keycloak.Session{}
	for first := 0; ; first += forecastPage {
		page, err := f.admin.ClientSessions(ctx, offline, first, forecastPage)
		if err != nil {
			return nil, err
		}
		for _, s := range page {
			out[s.ID] = s
		}
		if len(page) < forecastPage {
			return out, nil
		}
	}
}
