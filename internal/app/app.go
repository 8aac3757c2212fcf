package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"go.opentelemetry.io/otel/trace"

	"github.com/auth-manager/auth-manager/internal/audit"
	"github.com/auth-manager/auth-manager/internal/backchannel"
	"github.com/auth-manager/auth-manager/internal/config"
	"github.com/auth-manager/auth-manager/internal/ended"
	"github.com/auth-manager/auth-manager/internal/events"
	"github.com/auth-manager/auth-manager/internal/feed"
	"github.com/auth-manager/auth-manager/internal/httpapi"
	"github.com/auth-manager/auth-manager/internal/introspect"
	"github.com/auth-manager/auth-manager/internal/keepalive"
	"github.com/auth-manager/auth-manager/internal/keycloak"
	"github.com/auth-manager/auth-manager/internal/keyset"
	"github.com/auth-manager/auth-manager/internal/metrics"
	"github.com/auth-manager/auth-manager/internal/offline"
	"github.com/auth-manager/auth-manager/internal/sessions"
	"github.com/auth-manager/auth-manager/internal/store"
	"github.com/auth-manager/auth-manager/internal/tokens"
	"github.com/auth-manager/auth-manager/internal/tracing"
	"github.com/auth-manager/auth-manager/internal/vault"
)

// App is a wired service.
type App struct {
	cfg      config.Config
	log      *slog.Logger
	Store    *store.Store
	Keycloak *keycloak.Client
	Vault    *vault.Service
	Tokens   *tokens.Service
	Metrics  *metrics.Metrics
	// Keys is the realm's key set (caller and logout tokens); Auth authenticates callers.
	Keys *keyset.Set
	Auth *introspect.Authenticator
	// Ended records the sessions that ended and follows every replica's records.
	Ended *ended.Registry
	// Feed follows the change feeds (cache evictions, ended sessions) on this replica.
	Feed *feed.Follower

	// Admin is the realm's admin API as the service account; Offline the offline-token
	// service built on it.
	Admin   *keycloak.Admin
	Offline *offline.Service
	// Rotation knows whether the realm rotates refresh tokens
	// (KEYCLOAK_REFRESH_TOKEN_ROTATION).
	Rotation *keycloak.RotationWatch
	// Sessions lists and revokes Keycloak sessions; Backchannel receives back-channel
	// logouts;
	// KeepAlive is the offline keep-alive and clean-up job (nil when disabled).
	Sessions    *sessions.Service
	Backchannel *backchannel.Receiver
	KeepAlive   *keepalive.Job
	// Events reads and prunes the token-health events; Webhooks delivers them to the
	// operator's subscribers.
	Events   *events.Service
	Webhooks *events.Deliverer
	// Forecasts derives the stored tokens' hard deadlines and announces token.expiring.
	Forecasts *events.Forecaster

	vaultRows *metrics.VaultRows
	holder    string // this process, as a lease holder
	auditLog  *audit.Logger
	now       func() time.Time
	Handler   http.Handler
	draining  atomic.Bool

	stopBackground context.CancelFunc
	background     sync.WaitGroup
}

// New builds the App: opens the pool, runs migrations unless configured not to, and
// builds the handler. It does not wait for Keycloak.
func New(ctx context.Context, cfg config.Config, log *slog.Logger, opts ...Option) (*App, error) {
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	st, err := openStore(ctx, cfg.Database, log, o)
	if err != nil {
		return nil, err
	}
	if o.tracer != nil {
		log = slog.New(tracing.LogHandler(log.Handler()))
	}
	if !cfg.SkipMigrations {
		if err := migrateUp(ctx, st, log); err != nil {
			st.Close()
			return nil, err
		}
	}
	a := &App{cfg: cfg, log: log, Store: st}
	a.Metrics = metrics.New(metrics.BuildInfo{Version: cfg.AppVersion, Commit: cfg.CommitSHA})
	auditLog := audit.New(log, o.now)
	a.Keycloak = newKeycloak(cfg, log, o, a.Metrics.ObserveKeycloak)
	ring, err := NewRing(cfg.Keys)
	if err != nil {
		st.Close()
		return nil, err
	}
	a.Admin = keycloak.NewAdmin(a.Keycloak)
	a.Rotation = keycloak.NewRotationWatch(a.Admin, cfg.Keycloak.RefreshTokenRotation, log)
	feedPoll := cfg.Feed.Poll
	if o.feedPoll > 0 {
		feedPoll = o.feedPoll
	}
	a.Feed = feed.New(st, feed.Options{
		Listen: !cfg.Database.TransactionPooling(), Channels: []string{store.EvictChannel, store.EndedChannel},
		Poll: feedPoll, Retention: cfg.Feed.Retention, Log: log, Now: o.now,
	})
	a.Ended = ended.New(st, a.Admin, ended.Options{
		Clients: append([]string{cfg.Keycloak.ClientID}, cfg.Auth.AllowedClients...), Feed: a.Feed, Log: log, Now: o.now,
	})
	a.Vault = vault.New(st, ring, a.Keycloak, vault.Options{
		Issuer: cfg.Keycloak.IssuerURL(), ClientID: cfg.Keycloak.ClientID, Log: log, Audit: auditLog, Now: o.now,
		TrustOpaqueLegacy: cfg.TrustOpaqueLegacy, OnRefresh: a.Metrics.Refresh, Ended: a.Ended, MaxTokensPerUser: cfg.Tokens.MaxPerUser,
		Rotation: a.Rotation,
		// A refresh waits for a slot at most as long as one Keycloak call may take.
		KeycloakConcurrency: cfg.Keycloak.Concurrency, SlotWait: cfg.Keycloak.Timeout,
		FailingAfter: cfg.Events.FailingAfter, ConsentURL: cfg.Events.ConsentURL,
	})
	a.Tokens = tokens.New(a.Vault, a.Keycloak, tokens.Options{
		MinTTL: cfg.Tokens.MinTTL, CacheSize: cfg.Tokens.CacheSize, Feed: a.Feed, Retries: cfg.Keycloak.Retries,
		RefreshDeadline: cfg.Keycloak.RefreshDeadline(), Log: log, Audit: auditLog, Now: o.now,
		Audiences: cfg.Tokens.Audiences, AudiencesByClient: cfg.Tokens.AudiencesByClient,
	})
	a.Metrics.RegisterCache(func() metrics.CacheStats {
		s := a.Tokens.CacheStats()
		return metrics.CacheStats{Hits: s.Hits, Misses: s.Misses, Evictions: s.Evictions, Size: s.Size, Healthy: s.Healthy}
	})
	a.Metrics.RegisterPool(st.Pool())
	a.holder = leaseHolder()
	a.vaultRows = a.Metrics.RegisterVaultRows(func(ctx context.Context) ([]metrics.RowCount, error) {
		counts, _, err := st.RowsByTypeStatus(ctx, store.ExactBelowPages)
		out := make([]metrics.RowCount, 0, len(counts))
		for _, c := range counts {
			out = append(out, metrics.RowCount{Type: strings.ToLower(c.Type), Status: c.Status, Count: c.Count})
		}
		return out, err
	}, func(ctx context.Context) bool {
		ok, err := st.TryLease(ctx, vaultRowsLease, a.holder, 3*vaultRowsEvery)
		return ok && err == nil
	})
	a.Offline = offline.New(st, a.Vault, a.Keycloak, a.Admin, a.Tokens, offline.Options{
		StateSecret: []byte(cfg.StateSecret.Reveal()), StateExpiry: cfg.StateExpiry, ClientID: cfg.Keycloak.ClientID,
		Retries: cfg.Keycloak.Retries, KeycloakDeadline: cfg.Keycloak.RefreshDeadline(),
		Log: log, Audit: auditLog, Now: o.now, Ended: a.Ended,
		Rotation: a.Rotation,
	})
	// One key set for caller tokens and logout tokens: forged tokens of either kind
	// cannot make it download the JWKS more than once per JWKSMinRefresh.
	a.Keys = keyset.New(a.Keycloak.JWKS, keyset.Options{Algs: cfg.Auth.SigningAlgs, MinRefresh: cfg.Auth.JWKSMinRefresh})
	a.Sessions = sessions.New(a.Vault, a.Admin, a.Tokens, sessions.Options{
		Log: log, Audit: auditLog, Now: o.now, ClientID: cfg.Keycloak.ClientID,
		Ended: a.Ended, KeycloakDeadline: cfg.Keycloak.RefreshDeadline(),
	})
	a.Backchannel = backchannel.New(st, a.Vault, a.Admin, a.Tokens,
		backchannel.NewVerifierWithKeys(a.Keys, cfg.Keycloak.IssuerURL(), cfg.Keycloak.ClientID, o.now), backchannel.Options{
			Log: log, Audit: auditLog, Now: o.now, Ended: a.Ended, KeycloakDeadline: cfg.Keycloak.RefreshDeadline(),
		})
	a.auditLog, a.now = auditLog, o.now
	a.Events = events.New(st, events.Options{Retention: cfg.Events.Retention, Log: log, Now: o.now})
	var names []string
	for _, s := range cfg.Events.Webhooks.Subscribers {
		names = append(names, s.Name)
	}
	a.Webhooks = events.NewDeliverer(st, events.DeliverOptions{Webhooks: cfg.Events.Webhooks, Poll: o.webhookPoll,
		NoListen: cfg.Database.TransactionPooling(), Log: log, Audit: auditLog, Observer: a.Metrics.RegisterWebhooks(names)})
	a.Forecasts = events.NewForecaster(st, a.Admin, events.ForecastOptions{Interval: cfg.Events.ForecastInterval,
		HorizonOffline: cfg.Events.HorizonOffline, HorizonRefresh: cfg.Events.HorizonRefresh, Log: log, Now: o.now})
	if cfg.KeepAlive.Enabled {
		onPass := a.Metrics.RegisterKeepAlive(o.now)
		a.KeepAlive = a.NewKeepAlive(cfg.KeepAlive.DryRun, func(r keepalive.Report, err error) {
			onPass(metrics.KeepAlivePass{Failed: err != nil, Refreshed: r.Refreshed,
				Invalidated: r.Invalidated, Errors: r.Failed, Deleted: r.Deleted})
		})
	}
	a.Auth = introspect.New(a.Keycloak, a.Keys, introspect.Options{
		Mode: cfg.Auth.Mode, Issuer: cfg.Keycloak.IssuerURL(), ServiceRole: cfg.Auth.ServiceRole,
		ServiceClients: cfg.Auth.ServiceClients, ClientID: cfg.Keycloak.ClientID,
		CacheTTL: cfg.Auth.IntrospectionTTL, AllowedClients: cfg.Auth.AllowedClients, Ended: a.Ended,
	})
	for _, n := range cfg.Notices() {
		log.Log(ctx, n.Level, n.Message, "variable", n.Var)
	}
	// Read at once when the database answers, so that callers are served from the
	// start; otherwise Run reads it as soon as it does, and callers get 503 until then.
	if err := a.Ended.CatchUp(ctx); err != nil {
		log.Warn("ended sessions not loaded at start; authenticated requests answer 503 until they are", "error", err.Error())
	}
	a.startBackground(ctx)
	deps := httpapi.Deps{
		Log:          log,
		Info:         httpapi.AppInfo{Name: cfg.AppName, Version: cfg.AppVersion, Commit: cfg.CommitSHA},
		DB:           st,
		Auth:         a.Auth,
		Vault:        a.Vault,
		Tokens:       a.Tokens,
		CORS:         httpapi.CORS{Origins: cfg.CORSOrigins, AllowCredentials: cfg.CORSAllowCredentials},
		MaxBodyBytes: cfg.HTTP.MaxBodyBytes,
		Edge: httpapi.Edge{TrustedProxies: cfg.Edge.TrustedProxies, RateLimit: cfg.Edge.RateLimit,
			Window: cfg.Edge.RateLimitWindow},
		Draining: a.draining.Load,
		Metrics:  a.Metrics,
	}
	deps.Offline, deps.AfterConsentURL = a.Offline, cfg.Keycloak.AfterConsentRedirectURI
	deps.Sessions, deps.Backchannel, deps.Events = a.Sessions, a.Backchannel, a.Events
	deps.AccessLogSkip = 1 - cfg.AccessLog.Sample
	if cfg.MetricsAddr == "" {
		deps.MetricsHandler = a.Metrics.Handler()
	}
	deps.Traced = o.tracer != nil
	a.Handler = httpapi.NewHandler(deps)
	if o.tracer != nil {
		a.Handler = tracing.Handler(o.tracer, a.Handler)
	}
	return a, nil
}

// NewKeepAlive builds the offline keep-alive and clean-up job from the App's wiring
// and its AUTH_MANAGER_KEEPALIVE_* settings, with dryRun and onPass (which may be nil)
// as given: the serving App runs it in the background, `auth-manager keepalive` once.
func (a *App) NewKeepAlive(dryRun bool, onPass func(keepalive.Report, error)) *keepalive.Job {
	ka := a.cfg.KeepAlive
	return keepalive.New(a.Store, a.Vault, a.Keycloak, keepalive.Options{
		Interval: ka.Interval, IdleThreshold: ka.IdleThreshold, Retention: ka.Retention, DryRun: dryRun,
		Rate: ka.Rate, Workers: ka.Workers, Retries: a.cfg.Keycloak.Retries,
		RefreshDeadline: a.cfg.Keycloak.RefreshDeadline(),
		Log:             a.log, Audit: a.auditLog, Now: a.now, OnPass: onPass,
	})
}

// Option adjusts how New wires the App (for tests and tools).
type Option func(*options)

type options struct {
	wrapKeycloak func(http.RoundTripper) http.RoundTripper
	now          func() time.Time
	tracer       trace.TracerProvider
	feedPoll     time.Duration
	webhookPoll  time.Duration
}

// WithWebhookPoll sets how often due webhook deliveries (retries) are looked for
// without a wake-up (default 1 s).
func WithWebhookPoll(d time.Duration) Option {
	return func(o *options) { o.webhookPoll = d }
}

// WithFeedPoll sets how often the change feed is read without a wake-up, instead of
// AUTH_MANAGER_FEED_POLL_INTERVAL: tests make it long to see that a reconnection alone
// replays what was missed.
func WithFeedPoll(d time.Duration) Option {
	return func(o *options) { o.feedPoll = d }
}

// WithTracerProvider traces requests, Keycloak calls and queries with tp (OpenTelemetry)
// and puts the trace id on every log line of a traced request.
func WithTracerProvider(tp trace.TracerProvider) Option {
	return func(o *options) { o.tracer = tp }
}

// WithClock replaces the clock of every service (vault, tokens, offline, sessions,
// keep-alive) and of the audit trail: tests move time instead of waiting for it.
func WithClock(now func() time.Time) Option {
	return func(o *options) { o.now = now }
}

// WithKeycloakTransport wraps the Keycloak client's HTTP transport.
func WithKeycloakTransport(wrap func(http.RoundTripper) http.RoundTripper) Option {
	return func(o *options) { o.wrapKeycloak = wrap }
}

// OpenStore opens the pgx pool sized from the configuration; its queries are traced
// when WithTracerProvider is among opts (the serving App's store, tools' stores alike).
func OpenStore(ctx context.Context, db config.Database, log *slog.Logger, opts ...Option) (*store.Store, error) {
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	return openStore(ctx, db, log, o)
}

func openStore(ctx context.Context, db config.Database, log *slog.Logger, o options) (*store.Store, error) {
	opt := store.Options{URL: db.URL.Reveal(), MaxConns: db.MaxConns(), ConnTimeout: db.PoolTimeout, Echo: db.Echo,
		TransactionPooling: db.TransactionPooling()}
	if o.tracer != nil {
		opt.Tracer = tracing.QueryTracer(o.tracer)
	}
	return store.Open(ctx, opt, log)
}

func migrateUp(ctx context.Context, st *store.Store, log *slog.Logger) error {
	m, err := st.NewMigrator()
	if err != nil {
		return err
	}
	defer m.Close()
	n, err := m.Up(ctx)
	if err != nil {
		return err
	}
	v, _ := m.Version(ctx)
	log.Info("migrations applied", "applied", n, "version", v)
	return nil
}

// startBackground runs the App's workers (the change feed's follower, the ended
// sessions' pruning, the deferred checks of back-channel logouts, the keep-alive job) until Close.
// They outlive the ctx New was given, which may be a start-up deadline.
func (a *App) startBackground(ctx context.Context) {
	bg, cancel := context.WithCancel(context.WithoutCancel(ctx))
	a.stopBackground = cancel
	a.background.Go(func() {
		// The start-up fetch of the realm's keys; when Keycloak is not up yet, the first
		// token fetches them.
		if err := a.Keys.Prefetch(bg); err != nil {
			a.log.Warn("realm keys not fetched at start", "error", err.Error())
		}
	})
	a.background.Go(func() { a.Ended.Run(bg) })
	a.background.Go(func() { a.Feed.Run(bg, a.Tokens, a.Ended) })
	a.background.Go(func() { a.vaultRows.Run(bg, vaultRowsEvery) })
	a.background.Go(func() { a.Backchannel.Run(bg) })
	a.background.Go(func() { a.Rotation.Run(bg, 5*time.Minute) })
	a.background.Go(func() { a.Events.RunPrune(bg) })
	a.background.Go(func() { a.Webhooks.Run(bg) })
	a.background.Go(func() { a.Forecasts.Run(bg) })
	if a.KeepAlive != nil {
		a.background.Go(func() { a.KeepAlive.Run(bg) })
	}
}

// Close stops the background workers and releases the App's resources.
func (a *App) Close() {
	a.stopBackground()
	a.background.Wait()
	// Another replica takes the gauge over at its next refresh, not after the expiry.
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	if err := a.Store.ReleaseLease(ctx, vaultRowsLease, a.holder); err != nil {
		a.log.Debug("vault-rows lease not released; it expires on its own", "error", err.Error())
	}
	cancel()
	a.Store.Close()
}

// The vault-rows gauge is refreshed every vaultRowsEvery by the replica that holds the
// lease vaultRowsLease, which it keeps by renewing it at each refresh.
const (
	vaultRowsLease = "vault_rows"
	vaultRowsEvery = 30 * time.Second
)

// leaseHolder names this process among the replicas: host name and a random part, as
// two processes may share a host.
func leaseHolder() string {
	host, _ := os.Hostname()
	return host + "/" + uuid.NewString()
}

// Serve listens on ln until ctx is cancelled, then drains: readiness turns 503 at
// once, the listener stays open for drainDelay so that load balancers notice, then
// in-flight requests get until the shutdown timeout to finish.
func (a *App) Serve(ctx context.Context, ln net.Listener) error {
	drainDelay := a.cfg.HTTP.DrainDelay
	srv := a.server(ctx, a.Handler)
	errc := make(chan error, 2)
	go func() { errc <- srv.Serve(ln) }()
	var metricsSrv *http.Server
	if a.cfg.MetricsAddr != "" {
		mln, err := net.Listen("tcp", a.cfg.MetricsAddr)
		if err != nil {
			_ = srv.Close()
			return fmt.Errorf("metrics listener: %w", err)
		}
		metricsSrv = a.server(ctx, a.Metrics.Handler())
		go func() {
			if err := metricsSrv.Serve(mln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				errc <- fmt.Errorf("metrics: %w", err)
			}
		}()
		a.log.Info("metrics listening", "addr", mln.Addr().String())
	}
	a.log.Info("listening", "addr", ln.Addr().String(), "version", a.cfg.AppVersion)

	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	a.draining.Store(true)
	a.log.Info("shutting down", "drain_delay", drainDelay.String(), "timeout", a.cfg.HTTP.ShutdownTimeout.String())
	time.Sleep(drainDelay)
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), a.cfg.HTTP.ShutdownTimeout)
	defer cancel()
	if metricsSrv != nil {
		defer metricsSrv.Close()
	}
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	a.log.Info("stopped")
	return nil
}

// server is an HTTP server for h with the configured timeouts: the API's listener and
// the metrics listener get the same, so that neither holds slow or idle connections
// open without bound.
func (a *App) server(ctx context.Context, h http.Handler) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       a.cfg.HTTP.ReadTimeout,
		WriteTimeout:      a.cfg.HTTP.WriteTimeout,
		IdleTimeout:       a.cfg.HTTP.IdleTimeout,
		MaxHeaderBytes:    32 << 10,
		ErrorLog:          slog.NewLogLogger(a.log.Handler(), slog.LevelWarn),
		BaseContext:       func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}
}

// RefreshVaultRows recounts the vault-rows gauge now (it otherwise refreshes every 30 s).
func (a *App) RefreshVaultRows(ctx context.Context) { a.vaultRows.Refresh(ctx) }
