package httpapi

import (
	"log/slog"
	"net/http"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/auth-manager/auth-manager/api"
	"github.com/auth-manager/auth-manager/internal/clientip"
)

// Deps are everything the HTTP layer needs. Each handler takes only the parts it uses.
type Deps struct {
	Log          *slog.Logger
	Now          func() time.Time
	Info         AppInfo
	DB           Database
	Auth         Authenticator
	Vault        Vault
	Tokens       Tokens
	CORS         CORS
	MaxBodyBytes int64
	// AccessLogSkip is the fraction of 2xx answers of the hot routes left without an
	// access line (0: none).
	AccessLogSkip float64
	// Metrics records HTTP requests; MetricsHandler, when set, is served at /metrics.
	Metrics        HTTPMetrics
	MetricsHandler http.Handler
	// Draining reports that the server is shutting down; readiness answers 503 then.
	Draining func() bool
	// Offline serves the offline-token endpoints; AfterConsentURL, when set, is where
	// the consent callback sends the browser (KEYCLOAK_AFTER_CONSENT_REDIRECT_URI).
	Offline         Offline
	AfterConsentURL string
	// Sessions serves the session endpoints, Backchannel the back-channel logout receiver.
	Sessions    Sessions
	Backchannel Backchannel
	// Events serves the token-health events.
	Events Events
	// Edge names the trusted proxies and limits failed requests per client IP.
	Edge Edge
	// Traced is set when requests arrive inside a server span (tracing on): the span is
	// then named after the route that served it.
	Traced bool
}

// NewHandler returns the service's HTTP handler. This is the one list of routes.
func NewHandler(d Deps) http.Handler {
	if d.Now == nil {
		d.Now = time.Now
	}
	ew := errorWriter{log: d.Log}
	r := chi.NewRouter()
	r.Use(withRequestID(clientip.Resolver{Trusted: d.Edge.TrustedProxies}))
	if d.Traced {
		r.Use(traceRoute)
	}
	r.Use(securityHeaders, accessLog(d.Log, d.AccessLogSkip, d.Now, d.Metrics), recoverer(d.Log, ew),
		cors(d.CORS), limitBody(d.MaxBodyBytes, ew))
	r.NotFound(func(w http.ResponseWriter, r *http.Request) {
		ew.write(w, r, &apiError{Status: http.StatusNotFound, Code: "not_found", Message: "No such endpoint"})
	})
	r.MethodNotAllowed(func(w http.ResponseWriter, r *http.Request) {
		ew.write(w, r, &apiError{Status: http.StatusMethodNotAllowed, Code: "method_not_allowed", Message: "Method not allowed"})
	})

	r.Get("/health", handleHealth())
	r.Get("/health/ready", handleReady(d.Info, d.DB, d.Draining, ew))
	r.Get("/version", handleVersion(d.Info, d.DB, ew))
	r.Get("/openapi.json", handleOpenAPI("openapi.json", api.Spec, "application/json"))
	r.Get("/openapi.yaml", handleOpenAPI("openapi.yaml", api.SpecYAML, "application/yaml"))
	r.Get("/docs", handlePage("docs.html", swaggerUIPage))
	r.Get("/docs/*", handleDocsAssets(swaggerUIAssets(), ew))
	r.Get("/redoc", handlePage("redoc.html", redocPage))
	r.Get("/redoc/*", handleDocsAssets(redocAssets(), ew))
	if d.MetricsHandler != nil {
		r.Method(http.MethodGet, "/metrics", d.MetricsHandler)
	}

	// The v1 routes are listed with their full paths rather than mounted under /v1:
	// a mounted sub-router routes every request a second time (another tree walk, five
	// allocations and a deeper stack on the hot paths).
	//
	// Each of the three surfaces limits its failed requests per client on its own.
	//
	// Keycloak redirects the user's browser here: no bearer token, the state is the proof.
	r.Get("/v1/offline-token/callback", handleConsentCallback(d.Offline, d.AfterConsentURL, newFailureLimiter(d.Edge), ew))
	// Keycloak posts logout tokens here: no bearer token, the signed logout token is the proof.
	r.Post("/v1/backchannel-logout", handleBackchannelLogout(d.Backchannel, newFailureLimiter(d.Edge), ew))
	r.Group(func(r chi.Router) {
		r.Use(requireCaller(d.Auth, newFailureLimiter(d.Edge), ew))
		r.Get("/v1/validate-token", handleValidateToken())
		r.Post("/v1/refresh-token", handleStoreRefreshToken(d.Vault, ew))
		r.Post("/v1/refresh-token-id", handleRefreshTokenID(d.Tokens, ew))
		r.Post("/v1/access-token", handleAccessToken(d.Tokens, ew))
		r.Get("/v1/tokens", handleListTokens(d.Vault, ew))
		r.Delete("/v1/tokens/{id}", handleDeleteToken(d.Vault, ew))
		r.Get("/v1/offline-token", handleOfflineConsent(d.Offline, ew))
		r.Post("/v1/offline-token-id", handleReissueOffline(d.Offline, ew))
		r.Delete("/v1/offline-token-id", handleRevokeOffline(d.Offline, ew))
		r.Get("/v1/sessions", handleListSessions(d.Sessions, ew))
		r.Delete("/v1/sessions/{session_id}", handleRevokeSession(d.Sessions, ew))
		r.Get("/v1/events", handleListEvents(d.Events, ew))
	})
	return r
}
