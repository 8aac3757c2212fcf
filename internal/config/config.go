package config

import (
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"time"
)

// Auth modes for caller authentication.
const (
	AuthModeIntrospect = "introspect" // ask Keycloak about every (uncached) token, as the Python service did
	AuthModeJWT        = "jwt"        // verify signatures locally against the realm's JWKS
)

// Config is the whole configuration of the service. It is loaded once by Load and
// passed down as a value; nothing else reads the environment.
type Config struct {
	AppName    string
	AppVersion string
	CommitSHA  string

	Host string
	Port int

	LogLevel slog.Level
	Debug    bool

	Database Database
	Keycloak Keycloak
	Auth     Auth

	// Keys are the vault's keys and legacy-row rules (embedded: cfg.EncryptionKey).
	Keys

	StateSecret Secret
	StateExpiry time.Duration

	CORSOrigins          []string
	CORSAllowCredentials bool

	HTTP      HTTP
	AccessLog AccessLog
	Edge      Edge
	Tokens    Tokens
	KeepAlive KeepAlive
	Feed      Feed
	Events    Events
	// MetricsAddr, when set (e.g. ":9100"), serves /metrics on its own listener instead
	// of the API's.
	MetricsAddr string
	// SkipMigrations leaves the schema alone at serve start (a separate job migrates).
	SkipMigrations bool
	// Tracing is OpenTelemetry's export, by the standard variables (off when no
	// endpoint is set).
	Tracing Tracing
}

// Tracing configures the OTLP/HTTP trace exporter.
type Tracing struct {
	Endpoint       string // OTEL_EXPORTER_OTLP_ENDPOINT; traces go to {Endpoint}/v1/traces
	TracesEndpoint string // OTEL_EXPORTER_OTLP_TRACES_ENDPOINT, the full URL, wins
	ServiceName    string // OTEL_SERVICE_NAME
}

// Keys are the vault's keys and its rules for rows the Python service wrote.
type Keys struct {
	// EncryptionKey is the vault key as 64 validated hex characters
	// (AUTH_MANAGER_TOKEN_VAULT_ENCRYPTION_KEY).
	EncryptionKey Secret
	// PreviousKeys are older vault keys (same form), accepted for reading only.
	PreviousKeys []Secret
	// RejectLegacy refuses rows without an integrity tag (set it once rotate-keys has
	// sealed every row: untagged rows are not bound to their owner).
	RejectLegacy bool
	// TrustOpaqueLegacy lets a legacy row whose token is not a JWT be used: its owner
	// cannot be checked against the token's claims. Off unless an operator opts in.
	TrustOpaqueLegacy bool
}

// Database configures the pgx pool.
type Database struct {
	URL         Secret // may hold a password
	PoolSize    int
	MaxOverflow int
	PoolTimeout time.Duration
	Echo        bool
	// PoolMode is how a pooler between the service and PostgreSQL hands out server
	// connections: PoolModeSession (or no pooler) or PoolModeTransaction.
	PoolMode string
}

// Pool modes of DATABASE_POOL_MODE.
const (
	PoolModeSession     = "session"     // a server connection per client connection: LISTEN, session locks, prepared statements work
	PoolModeTransaction = "transaction" // a server connection per transaction (PgBouncer pool_mode = transaction)
)

// MaxConns is the pool's upper bound, as SQLAlchemy's size+overflow was.
func (d Database) MaxConns() int { return d.PoolSize + d.MaxOverflow }

// TransactionPooling reports whether DATABASE_URL is a pooler in transaction mode.
func (d Database) TransactionPooling() bool { return d.PoolMode == PoolModeTransaction }

// Feed configures how each replica follows the change feed (cache evictions, ended
// sessions).
type Feed struct {
	// Poll is how often the feed is read without a NOTIFY wake-up; in transaction
	// pooling mode, where there is no LISTEN, how soon an eviction reaches a replica.
	Poll time.Duration
	// Retention is how long evictions are kept for replicas that were cut off.
	Retention time.Duration
}

// Keycloak configures the realm and the service's confidential client.
type Keycloak struct {
	BaseURL string // e.g. http://127.0.0.1:8080 or https://sso.example.com/auth
	// URL is where the service connects to Keycloak when that is not BaseURL
	// (KEYCLOAK_URL, e.g. http://keycloak:8080 inside a cluster); "" means BaseURL.
	URL                     string
	Realm                   string
	ClientID                string
	ClientSecret            Secret
	ConsentRedirectURI      string
	AfterConsentRedirectURI string
	Timeout                 time.Duration
	// Retries of a call Keycloak certainly did not process (connection refused, 502/503/504).
	Retries int
	// RefreshTokenRotation is auto (read the realm's setting from the admin API), on or
	// off (KEYCLOAK_REFRESH_TOKEN_ROTATION).
	RefreshTokenRotation string
	// Concurrency bounds the refreshes of stored tokens this replica presents to
	// Keycloak at once (AUTH_MANAGER_KEYCLOAK_CONCURRENCY). Each holds a pooled
	// connection across the call, so it is kept below the pool.
	Concurrency int
}

// RefreshDeadline bounds one refresh of a stored token: every allowed attempt at its
// timeout, plus time to wait for the row lock and write the successor. It is also the
// bound of the Keycloak clean-up calls that must finish after a caller went away.
func (k Keycloak) RefreshDeadline() time.Duration {
	return k.Timeout*time.Duration(k.Retries+1) + 5*time.Second
}

// IssuerURL is the realm's issuer, {base}/realms/{realm}.
func (k Keycloak) IssuerURL() string { return k.BaseURL + "/realms/" + url.PathEscape(k.Realm) }

// ConnectBase is the base URL the service calls Keycloak at: KEYCLOAK_URL, else the
// issuer's base.
func (k Keycloak) ConnectBase() string {
	if k.URL != "" {
		return k.URL
	}
	return k.BaseURL
}

// ConnectURL is the realm at ConnectBase, where discovery is fetched.
func (k Keycloak) ConnectURL() string { return k.ConnectBase() + "/realms/" + url.PathEscape(k.Realm) }

// Auth configures caller authentication.
type Auth struct {
	Mode             string
	ServiceRole      string
	IntrospectionTTL time.Duration // 0 disables the introspection cache
	AllowedClients   []string      // the token's azp must be one of these (both modes); empty allows any client of the realm
	// ServiceClients are the clients (azp) whose tokens with ServiceRole are service
	// callers; empty means no service callers at all.
	ServiceClients []string
	SigningAlgs    []string      // accepted JWS algorithms of caller and logout tokens
	JWKSMinRefresh time.Duration // least time between two downloads of the realm's JWKS
}

// Tokens configures the access-token service.
type Tokens struct {
	MinTTL    time.Duration // default min_ttl: a cached token must live longer than this
	CacheSize int           // cached access tokens; 0 disables the cache
	// MaxPerUser caps the stored tokens (rows) of one user.
	MaxPerUser int
	// Audiences are the audiences a narrowed token may be asked for; empty: whatever
	// Keycloak's own exchange policy allows. AudiencesByClient replaces that list for
	// callers whose token was issued to the client named by the key (azp).
	Audiences         []string
	AudiencesByClient map[string][]string
}

// KeepAlive configures the offline keep-alive and clean-up job.
type KeepAlive struct {
	Enabled       bool
	Interval      time.Duration // between passes
	IdleThreshold time.Duration // OFFLINE rows unused for longer are refreshed
	Retention     time.Duration // rows marked invalid for longer are deleted; 0 keeps them
	DryRun        bool          // log what a pass would do, change nothing
	// Rate is the refreshes per second that every replica's keep-alive together
	// presents to Keycloak; Workers how many this replica has in flight at most.
	Rate    int
	Workers int
}

// HTTP configures the server.
type HTTP struct {
	MaxBodyBytes    int64
	ReadTimeout     time.Duration
	WriteTimeout    time.Duration
	IdleTimeout     time.Duration
	ShutdownTimeout time.Duration
	// DrainDelay is how long readiness answers 503 before the listener closes, so that
	// load balancers stop routing to a replica before it goes.
	DrainDelay time.Duration
}

// Addr is the listen address.
func (c Config) Addr() string { return fmt.Sprintf("%s:%d", c.Host, c.Port) }

// env mirrors the environment one field per variable; Load turns it into a Config.
type env struct {
	AppName    string `envconfig:"APP_NAME" default:"Auth Manager Service"`
	AppVersion string `envconfig:"APP_VERSION"`
	CommitSHA  string `envconfig:"COMMIT_SHA"`
	Host       string `envconfig:"HOST" default:"0.0.0.0"`
	Port       int    `envconfig:"PORT" default:"8000"`
	LogLevel   string `envconfig:"LOG_LEVEL"`
	Debug      bool   `envconfig:"DEBUG" default:"false"`

	DatabaseURL         Secret   `envconfig:"DATABASE_URL" required:"true"`
	DatabaseURLFile     string   `envconfig:"DATABASE_URL_FILE"`
	DatabasePoolSize    int      `envconfig:"DATABASE_POOL_SIZE" default:"10"`
	DatabaseMaxOverflow int      `envconfig:"DATABASE_MAX_OVERFLOW" default:"20"`
	DatabasePoolTimeout duration `envconfig:"DATABASE_POOL_TIMEOUT" default:"30s"`
	DatabaseEcho        bool     `envconfig:"DATABASE_ECHO" default:"false"`
	DatabasePoolMode    string   `envconfig:"DATABASE_POOL_MODE" default:"session"`

	KeycloakIssuer           string   `envconfig:"KEYCLOAK_ISSUER" required:"true"`
	KeycloakRealm            string   `envconfig:"KEYCLOAK_REALM"`
	KeycloakURL              string   `envconfig:"KEYCLOAK_URL"`
	KeycloakClientID         string   `envconfig:"KEYCLOAK_CLIENT_ID" required:"true"`
	KeycloakClientSecret     Secret   `envconfig:"KEYCLOAK_CLIENT_SECRET" required:"true"`
	KeycloakClientSecretFile string   `envconfig:"KEYCLOAK_CLIENT_SECRET_FILE"`
	KeycloakConsentRedirect  string   `envconfig:"KEYCLOAK_CONSENT_REDIRECT_URI"`
	KeycloakRedirectURI      string   `envconfig:"KEYCLOAK_REDIRECT_URI"` // the Python name, an alias
	KeycloakAfterConsent     string   `envconfig:"KEYCLOAK_AFTER_CONSENT_REDIRECT_URI"`
	KeycloakTimeout          duration `envconfig:"KEYCLOAK_TIMEOUT" default:"10s"`
	KeycloakRetries          int      `envconfig:"KEYCLOAK_RETRIES" default:"2"`
	KeycloakRotation         string   `envconfig:"KEYCLOAK_REFRESH_TOKEN_ROTATION" default:"auto"`
	KeycloakConcurrency      int      `envconfig:"AUTH_MANAGER_KEYCLOAK_CONCURRENCY" default:"8"`

	AccessMinTTL      duration `envconfig:"AUTH_MANAGER_ACCESS_TOKEN_MIN_TTL" default:"30s"`
	AccessCacheSize   int      `envconfig:"AUTH_MANAGER_ACCESS_TOKEN_CACHE_SIZE" default:"10000"`
	MaxTokensPerUser  int      `envconfig:"AUTH_MANAGER_MAX_TOKENS_PER_USER" default:"50"`
	ExchangeAudiences string   `envconfig:"AUTH_MANAGER_EXCHANGE_AUDIENCES"`
	AudiencesByClient string   `envconfig:"AUTH_MANAGER_EXCHANGE_AUDIENCES_BY_CLIENT"`

	EncryptionKey     Secret   `envconfig:"AUTH_MANAGER_TOKEN_VAULT_ENCRYPTION_KEY" required:"true"`
	EncryptionKeyFile string   `envconfig:"AUTH_MANAGER_TOKEN_VAULT_ENCRYPTION_KEY_FILE"`
	PreviousKeys      Secret   `envconfig:"AUTH_MANAGER_TOKEN_VAULT_PREVIOUS_KEYS"`
	PreviousKeysFile  string   `envconfig:"AUTH_MANAGER_TOKEN_VAULT_PREVIOUS_KEYS_FILE"`
	RejectLegacy      bool     `envconfig:"AUTH_MANAGER_TOKEN_VAULT_REJECT_LEGACY" default:"false"`
	TrustOpaque       bool     `envconfig:"AUTH_MANAGER_TOKEN_VAULT_TRUST_OPAQUE_LEGACY" default:"false"`
	StateSecret       Secret   `envconfig:"STATE_TOKEN_SECRET" required:"true"`
	StateSecretFile   string   `envconfig:"STATE_TOKEN_SECRET_FILE"`
	StateExpiry       duration `envconfig:"STATE_TOKEN_EXPIRY" default:"10m"`

	CORSOrigins          string `envconfig:"CORS_ORIGINS" default:"http://localhost:3000"`
	CORSAllowCredentials bool   `envconfig:"CORS_ALLOW_CREDENTIALS" default:"true"`

	ServiceRole      string   `envconfig:"AUTH_MANAGER_SERVICE_ROLE" default:"auth-manager-service"`
	AuthMode         string   `envconfig:"AUTH_MANAGER_AUTH_MODE" default:"introspect"`
	IntrospectionTTL duration `envconfig:"AUTH_MANAGER_INTROSPECTION_CACHE_TTL" default:"30s"`
	AllowedClients   string   `envconfig:"AUTH_MANAGER_ALLOWED_CLIENTS"`
	ServiceClients   string   `envconfig:"AUTH_MANAGER_SERVICE_CLIENTS"`
	SigningAlgs      string   `envconfig:"AUTH_MANAGER_SIGNING_ALGS" default:"RS256,ES256,PS256"`
	JWKSMinRefresh   duration `envconfig:"AUTH_MANAGER_JWKS_MIN_REFRESH" default:"30s"`
	TrustedProxies   string   `envconfig:"AUTH_MANAGER_TRUSTED_PROXIES"`
	RateLimit        int      `envconfig:"AUTH_MANAGER_RATE_LIMIT" default:"20"`
	RateLimitWindow  duration `envconfig:"AUTH_MANAGER_RATE_LIMIT_WINDOW" default:"10s"`

	MaxBodyBytes    int64    `envconfig:"HTTP_MAX_BODY_BYTES" default:"65536"`
	ReadTimeout     duration `envconfig:"HTTP_READ_TIMEOUT" default:"15s"`
	WriteTimeout    duration `envconfig:"HTTP_WRITE_TIMEOUT"`
	IdleTimeout     duration `envconfig:"HTTP_IDLE_TIMEOUT" default:"2m"`
	ShutdownTimeout duration `envconfig:"SHUTDOWN_TIMEOUT" default:"20s"`
	DrainDelay      duration `envconfig:"SHUTDOWN_DRAIN_DELAY" default:"0s"`
	SkipMigrations  bool     `envconfig:"AUTH_MANAGER_SKIP_MIGRATIONS" default:"false"`
	MetricsAddr     string   `envconfig:"METRICS_ADDR"`
	OTLPEndpoint    string   `envconfig:"OTEL_EXPORTER_OTLP_ENDPOINT"`
	OTLPTraces      string   `envconfig:"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"`
	OTELServiceName string   `envconfig:"OTEL_SERVICE_NAME" default:"auth-manager"`
	AccessLogSample string   `envconfig:"AUTH_MANAGER_ACCESS_LOG_SAMPLE" default:"1"`

	KeepAliveEnabled   bool     `envconfig:"AUTH_MANAGER_KEEPALIVE_ENABLED" default:"true"`
	KeepAliveInterval  duration `envconfig:"AUTH_MANAGER_KEEPALIVE_INTERVAL" default:"1h"`
	KeepAliveIdle      duration `envconfig:"AUTH_MANAGER_KEEPALIVE_IDLE_THRESHOLD" default:"24h"`
	KeepAliveRetention duration `envconfig:"AUTH_MANAGER_KEEPALIVE_RETENTION" default:"168h"`
	KeepAliveDryRun    bool     `envconfig:"AUTH_MANAGER_KEEPALIVE_DRY_RUN" default:"false"`
	KeepAliveRate      int      `envconfig:"AUTH_MANAGER_KEEPALIVE_RATE" default:"20"`
	KeepAliveWorkers   int      `envconfig:"AUTH_MANAGER_KEEPALIVE_WORKERS" default:"2"`

	FeedPoll      duration `envconfig:"AUTH_MANAGER_FEED_POLL_INTERVAL" default:"1s"`
	FeedRetention duration `envconfig:"AUTH_MANAGER_FEED_RETENTION" default:"1h"`

	EventsRetention    duration `envconfig:"AUTH_MANAGER_EVENTS_RETENTION" default:"168h"`
	EventsFailingAfter int      `envconfig:"AUTH_MANAGER_EVENTS_FAILING_AFTER" default:"3"`
	EventsConsentURL   string   `envconfig:"AUTH_MANAGER_EVENTS_CONSENT_URL"`
	EventsForecast     duration `envconfig:"AUTH_MANAGER_EVENTS_FORECAST_INTERVAL" default:"15m"`
	EventsHorizonOff   duration `envconfig:"AUTH_MANAGER_EVENTS_EXPIRY_HORIZON_OFFLINE" default:"168h"`
	EventsHorizonRef   duration `envconfig:"AUTH_MANAGER_EVENTS_EXPIRY_HORIZON_REFRESH" default:"1h"`

	Webhooks            Secret   `envconfig:"AUTH_MANAGER_WEBHOOKS"`
	WebhooksFile        string   `envconfig:"AUTH_MANAGER_WEBHOOKS_FILE"`
	WebhooksTimeout     duration `envconfig:"AUTH_MANAGER_WEBHOOKS_TIMEOUT" default:"10s"`
	WebhooksMaxAttempts int      `envconfig:"AUTH_MANAGER_WEBHOOKS_MAX_ATTEMPTS" default:"15"`
	WebhooksBackoff     duration `envconfig:"AUTH_MANAGER_WEBHOOKS_BACKOFF" default:"5s"`
	WebhooksBackoffMax  duration `envconfig:"AUTH_MANAGER_WEBHOOKS_BACKOFF_MAX" default:"1h"`
	WebhooksConcurrency int      `envconfig:"AUTH_MANAGER_WEBHOOKS_CONCURRENCY" default:"16"`
}

// Load reads the variables through getenv (see WithDotEnv for .env), validates
// everything and returns the Config. version is the build's version, the default for
// APP_VERSION. The error reports every problem at once, one line (one *Error, see
// Errors) per variable; none contains a secret value.
func Load(getenv Getenv, version string) (Config, error) {
	var e env
	var p problems
	p.add(process(getenv, &e, all))
	if e.AppVersion == "" {
		e.AppVersion = version
	}
	c, err := e.build()
	p.add(err)
	if err := p.err(); err != nil {
		return Config{}, err
	}
	return c, nil
}

// LoadDatabase reads only what `migrate` needs: the DATABASE_* variables, LOG_LEVEL
// and DEBUG. Nothing else is required, so a migration job needs no Keycloak secret
// and no vault key.
func LoadDatabase(getenv Getenv) (Database, slog.Level, error) {
	var e env
	var p problems
	p.add(process(getenv, &e, func(k string) bool {
		return strings.HasPrefix(k, "DATABASE_") || k == "LOG_LEVEL" || k == "DEBUG"
	}))
	level, err := e.level()
	p.add(err)
	d, err := e.database()
	p.add(err)
	if err := p.err(); err != nil {
		return Database{}, 0, err
	}
	return d, level, nil
}

// LoadKeys reads only the vault's key settings (AUTH_MANAGER_TOKEN_VAULT_*), for
// `rotate-keys`, which needs the database and the keys and nothing else.
func LoadKeys(getenv Getenv) (Keys, error) {
	var e env
	var p problems
	p.add(process(getenv, &e, func(k string) bool { return strings.HasPrefix(k, "AUTH_MANAGER_TOKEN_VAULT_") }))
	k, err := e.keys()
	p.add(err)
	if err := p.err(); err != nil {
		return Keys{}, err
	}
	return k, nil
}

// build turns the variables into a Config, checking each; every problem found is in
// the error.
func (e env) build() (Config, error) {
	var p problems
	c := Config{
		AppName: e.AppName, AppVersion: e.AppVersion, CommitSHA: e.CommitSHA,
		Host: e.Host, Port: e.Port, Debug: e.Debug,
		CORSAllowCredentials: e.CORSAllowCredentials,
		SkipMigrations:       e.SkipMigrations,
		MetricsAddr:          e.MetricsAddr,
		Tracing:              Tracing{Endpoint: e.OTLPEndpoint, TracesEndpoint: e.OTLPTraces, ServiceName: e.OTELServiceName},
	}
	for _, v := range [][2]string{{"OTEL_EXPORTER_OTLP_ENDPOINT", e.OTLPEndpoint}, {"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", e.OTLPTraces}} {
		if v[1] != "" && !isHTTPURL(v[1]) {
			p.add(invalid(v[0], "must be an absolute http(s) URL"))
		}
	}
	var err error
	c.LogLevel, err = e.level()
	p.add(err)
	if e.Port < 1 || e.Port > 65535 {
		p.add(invalid("PORT", "must be between 1 and 65535"))
	}
	c.Database, err = e.database()
	p.add(err)
	c.Keycloak, err = e.keycloak()
	p.add(err)
	if c.Database.MaxConns() > 0 { // the pool the bound must stay below is known
		c.Keycloak.Concurrency, err = e.keycloakConcurrency(c.Database)
		p.add(err)
	}
	c.Auth, err = e.auth()
	p.add(err)
	c.Keys, err = e.keys()
	p.add(err)
	if len(e.StateSecret) < 32 {
		p.add(invalid("STATE_TOKEN_SECRET", "must be at least 32 characters"))
	}
	c.StateSecret = e.StateSecret
	p.add(within("STATE_TOKEN_EXPIRY", e.StateExpiry, time.Minute, time.Hour))
	c.StateExpiry = time.Duration(e.StateExpiry)
	c.CORSOrigins = splitList(e.CORSOrigins)
	c.HTTP, err = e.http()
	p.add(err)
	if c.Keycloak.Timeout > 0 { // the refresh deadline is known
		c.HTTP.WriteTimeout, err = writeTimeout(e.WriteTimeout, c.Keycloak.RefreshDeadline())
		p.add(err)
	}
	c.AccessLog, err = e.accessLog()
	p.add(err)
	c.Edge, err = e.edge()
	p.add(err)
	p.add(within("AUTH_MANAGER_ACCESS_TOKEN_MIN_TTL", e.AccessMinTTL, 0, time.Hour))
	if e.AccessCacheSize < 0 || e.AccessCacheSize > 1_000_000 {
		p.add(invalid("AUTH_MANAGER_ACCESS_TOKEN_CACHE_SIZE", "must be between 0 and 1000000"))
	}
	c.Tokens, err = e.tokens()
	p.add(err)
	c.KeepAlive, err = e.keepAlive()
	p.add(err)
	c.Feed, err = e.feed()
	p.add(err)
	c.Events, err = e.events(c.Keycloak)
	p.add(err)
	p.add(c.checkUnsafe())
	if err := p.err(); err != nil {
		return Config{}, err
	}
	return c, nil
}

func (e env) tokens() (Tokens, error) {
	if e.MaxTokensPerUser < 1 || e.MaxTokensPerUser > 100_000 {
		return Tokens{}, invalid("AUTH_MANAGER_MAX_TOKENS_PER_USER", "must be between 1 and 100000")
	}
	t := Tokens{MinTTL: time.Duration(e.AccessMinTTL), CacheSize: e.AccessCacheSize, MaxPerUser: e.MaxTokensPerUser,
		Audiences: splitList(e.ExchangeAudiences)}
	byClient, err := audiencesByClient(e.AudiencesByClient)
	if err != nil {
		return Tokens{}, invalid("AUTH_MANAGER_EXCHANGE_AUDIENCES_BY_CLIENT", err.Error())
	}
	t.AudiencesByClient = byClient
	return t, nil
}

// audiencesByClient reads "client=aud aud;client=aud": for each calling client (azp),
// the space-separated audiences its callers may ask a narrowed token for. An entry
// with no audiences lets that client ask for none.
func audiencesByClient(s string) (map[string][]string, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	out := map[string][]string{}
	for _, entry := range strings.Split(s, ";") {
		if strings.TrimSpace(entry) == "" {
			continue
		}
		client, auds, ok := strings.Cut(entry, "=")
		client = strings.TrimSpace(client)
		if !ok || client == "" {
			return nil, fmt.Errorf("entry %q is not client=audience audience…", entry)
		}
		if _, dup := out[client]; dup {
			return nil, fmt.Errorf("client %q is listed twice", client)
		}
		out[client] = append([]string{}, strings.Fields(auds)...)
	}
	return out, nil
}

func (e env) keys() (Keys, error) {
	k := Keys{RejectLegacy: e.RejectLegacy, TrustOpaqueLegacy: e.TrustOpaque}
	var p problems
	var err error
	if e.EncryptionKey == "" {
		p.add(invalid("AUTH_MANAGER_TOKEN_VAULT_ENCRYPTION_KEY", "required but not set"))
	} else {
		k.EncryptionKey, err = parseKey("AUTH_MANAGER_TOKEN_VAULT_ENCRYPTION_KEY", e.EncryptionKey.Reveal())
		p.add(err)
	}
	for _, prev := range splitList(e.PreviousKeys.Reveal()) {
		key, err := parseKey("AUTH_MANAGER_TOKEN_VAULT_PREVIOUS_KEYS", prev)
		p.add(err)
		k.PreviousKeys = append(k.PreviousKeys, key)
	}
	if err := p.err(); err != nil {
		return Keys{}, err
	}
	return k, nil
}

func (e env) keepAlive() (KeepAlive, error) {
	const day = 24 * time.Hour
	var p problems
	p.add(within("AUTH_MANAGER_KEEPALIVE_INTERVAL", e.KeepAliveInterval, time.Second, day))
	p.add(within("AUTH_MANAGER_KEEPALIVE_IDLE_THRESHOLD", e.KeepAliveIdle, time.Second, 365*day))
	p.add(within("AUTH_MANAGER_KEEPALIVE_RETENTION", e.KeepAliveRetention, 0, 365*day))
	if e.KeepAliveRate < 1 || e.KeepAliveRate > 10000 {
		p.add(invalid("AUTH_MANAGER_KEEPALIVE_RATE", "must be between 1 and 10000 refreshes per second"))
	}
	if e.KeepAliveWorkers < 1 || e.KeepAliveWorkers > 64 {
		p.add(invalid("AUTH_MANAGER_KEEPALIVE_WORKERS", "must be between 1 and 64"))
	}
	if err := p.err(); err != nil {
		return KeepAlive{}, err
	}
	return KeepAlive{Enabled: e.KeepAliveEnabled, Interval: time.Duration(e.KeepAliveInterval),
		IdleThreshold: time.Duration(e.KeepAliveIdle), Retention: time.Duration(e.KeepAliveRetention), DryRun: e.KeepAliveDryRun,
		Rate: e.KeepAliveRate, Workers: e.KeepAliveWorkers}, nil
}

func (e env) feed() (Feed, error) {
	var p problems
	p.add(within("AUTH_MANAGER_FEED_POLL_INTERVAL", e.FeedPoll, 100*time.Millisecond, time.Minute))
	p.add(within("AUTH_MANAGER_FEED_RETENTION", e.FeedRetention, time.Minute, 7*24*time.Hour))
	if err := p.err(); err != nil {
		return Feed{}, err
	}
	return Feed{Poll: time.Duration(e.FeedPoll), Retention: time.Duration(e.FeedRetention)}, nil
}

func (e env) database() (Database, error) {
	var p problems
	u, err := normalizeDatabaseURL(e.DatabaseURL.Reveal())
	p.add(err)
	d := Database{URL: Secret(u), PoolSize: e.DatabasePoolSize, MaxOverflow: e.DatabaseMaxOverflow,
		PoolTimeout: time.Duration(e.DatabasePoolTimeout), Echo: e.DatabaseEcho, PoolMode: strings.ToLower(strings.TrimSpace(e.DatabasePoolMode))}
	if d.PoolMode != PoolModeSession && d.PoolMode != PoolModeTransaction {
		p.add(invalid("DATABASE_POOL_MODE", "must be session or transaction"))
	}
	if d.PoolSize < 1 {
		p.add(invalid("DATABASE_POOL_SIZE", "must be at least 1"))
	}
	if d.MaxOverflow < 0 {
		p.add(invalid("DATABASE_MAX_OVERFLOW", "must not be negative"))
	}
	p.add(within("DATABASE_POOL_TIMEOUT", e.DatabasePoolTimeout, time.Second, 0))
	if err := p.err(); err != nil {
		return Database{}, err
	}
	return d, nil
}

// normalizeDatabaseURL accepts the Python service's SQLAlchemy form
// (postgresql+asyncpg://…, with asyncpg's ssl= parameter) as well as plain
// postgres:// and postgresql:// URLs.
func normalizeDatabaseURL(raw string) (string, error) {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil {
		return "", invalid("DATABASE_URL", "not a valid URL")
	}
	scheme, _, _ := strings.Cut(u.Scheme, "+")
	if scheme != "postgres" && scheme != "postgresql" {
		return "", invalid("DATABASE_URL", "scheme must be postgres://, postgresql:// or postgresql+asyncpg://")
	}
	u.Scheme = "postgres"
	q := u.Query()
	if ssl := q.Get("ssl"); ssl != "" && q.Get("sslmode") == "" {
		q.Del("ssl")
		q.Set("sslmode", ssl)
		u.RawQuery = q.Encode()
	}
	return u.String(), nil
}

func (e env) keycloak() (Keycloak, error) {
	var p problems
	base, realm, err := splitIssuer(e.KeycloakIssuer)
	p.add(err)
	switch {
	case err != nil: // the realm cannot be compared with an issuer that does not parse
	case realm == "" && e.KeycloakRealm == "":
		p.add(invalid("KEYCLOAK_REALM", "required but not set (or name the realm in KEYCLOAK_ISSUER: …/realms/NAME)"))
	case realm != "" && e.KeycloakRealm != "" && realm != e.KeycloakRealm:
		p.add(invalid("KEYCLOAK_REALM", "differs from the realm named in KEYCLOAK_ISSUER"))
	case realm == "":
		realm = e.KeycloakRealm
	}
	connect, err := connectBase(e.KeycloakURL, realm)
	p.add(err)
	redirect := e.KeycloakConsentRedirect
	if redirect == "" {
		redirect = e.KeycloakRedirectURI
	}
	if redirect == "" {
		p.add(invalid("KEYCLOAK_CONSENT_REDIRECT_URI", "required but not set (KEYCLOAK_REDIRECT_URI is accepted too)"))
	} else if !isHTTPURL(redirect) {
		p.add(invalid("KEYCLOAK_CONSENT_REDIRECT_URI", "must be an absolute http(s) URL"))
	}
	if e.KeycloakAfterConsent != "" && !isHTTPURL(e.KeycloakAfterConsent) {
		p.add(invalid("KEYCLOAK_AFTER_CONSENT_REDIRECT_URI", "must be an absolute http(s) URL"))
	}
	p.add(within("KEYCLOAK_TIMEOUT", e.KeycloakTimeout, time.Second, 2*time.Minute))
	if e.KeycloakRetries < 0 || e.KeycloakRetries > 5 {
		p.add(invalid("KEYCLOAK_RETRIES", "must be between 0 and 5"))
	}
	rotation := strings.ToLower(strings.TrimSpace(e.KeycloakRotation))
	if rotation != "auto" && rotation != "on" && rotation != "off" {
		p.add(invalid("KEYCLOAK_REFRESH_TOKEN_ROTATION", "must be auto, on or off"))
	}
	if err := p.err(); err != nil {
		return Keycloak{}, err
	}
	return Keycloak{
		BaseURL: base, URL: connect, Realm: realm, Retries: e.KeycloakRetries, RefreshTokenRotation: rotation,
		ClientID: e.KeycloakClientID, ClientSecret: e.KeycloakClientSecret,
		ConsentRedirectURI: redirect, AfterConsentRedirectURI: e.KeycloakAfterConsent,
		Timeout: time.Duration(e.KeycloakTimeout),
	}, nil
}

// keycloakConcurrency checks AUTH_MANAGER_KEYCLOAK_CONCURRENCY against the pool it
// must stay below: refreshes waiting on a slow Keycloak may then hold every
// connection but one, never all of them.
func (e env) keycloakConcurrency(db Database) (int, error) {
	n := e.KeycloakConcurrency
	if n < 1 || n >= db.MaxConns() {
		return 0, invalid("AUTH_MANAGER_KEYCLOAK_CONCURRENCY",
			fmt.Sprintf("must be at least 1 and below the database pool (DATABASE_POOL_SIZE + DATABASE_MAX_OVERFLOW = %d)", db.MaxConns()))
	}
	return n, nil
}

// splitIssuer accepts a Keycloak base URL (http://host:8080, https://host/auth) or a
// full realm URL (…/realms/NAME) and returns the base and the realm ("" if not named).
func splitIssuer(raw string) (base, realm string, err error) {
	s := strings.TrimRight(strings.TrimSpace(raw), "/")
	if !isHTTPURL(s) {
		return "", "", invalid("KEYCLOAK_ISSUER", "must be an absolute http(s) URL")
	}
	if i := strings.LastIndex(s, "/realms/"); i >= 0 {
		realm = s[i+len("/realms/"):]
		if realm == "" || strings.Contains(realm, "/") {
			return "", "", invalid("KEYCLOAK_ISSUER", "realm URL must end in /realms/NAME")
		}
		s = s[:i]
	}
	return s, realm, nil
}

// connectBase validates KEYCLOAK_URL: a base URL like KEYCLOAK_ISSUER's, or the realm
// URL of the same realm.
func connectBase(raw, realm string) (string, error) {
	if strings.TrimSpace(raw) == "" {
		return "", nil
	}
	s := strings.TrimRight(strings.TrimSpace(raw), "/")
	if !isHTTPURL(s) {
		return "", invalid("KEYCLOAK_URL", "must be an absolute http(s) URL")
	}
	if i := strings.LastIndex(s, "/realms/"); i >= 0 {
		if s[i+len("/realms/"):] != realm {
			return "", invalid("KEYCLOAK_URL", "names another realm than KEYCLOAK_ISSUER/KEYCLOAK_REALM")
		}
		s = s[:i]
	}
	return s, nil
}

func isHTTPURL(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != ""
}

func (e env) auth() (Auth, error) {
	var p problems
	mode := strings.ToLower(e.AuthMode)
	if mode != AuthModeIntrospect && mode != AuthModeJWT {
		p.add(invalid("AUTH_MANAGER_AUTH_MODE", "must be introspect or jwt"))
	}
	p.add(within("AUTH_MANAGER_INTROSPECTION_CACHE_TTL", e.IntrospectionTTL, 0, 5*time.Minute))
	if strings.TrimSpace(e.ServiceRole) == "" {
		p.add(invalid("AUTH_MANAGER_SERVICE_ROLE", "must not be empty"))
	}
	algs, err := signingAlgs(e.SigningAlgs)
	p.add(err)
	p.add(within("AUTH_MANAGER_JWKS_MIN_REFRESH", e.JWKSMinRefresh, time.Second, time.Hour))
	if err := p.err(); err != nil {
		return Auth{}, err
	}
	return Auth{Mode: mode, ServiceRole: e.ServiceRole,
		IntrospectionTTL: time.Duration(e.IntrospectionTTL), AllowedClients: splitList(e.AllowedClients),
		ServiceClients: splitList(e.ServiceClients), SigningAlgs: algs, JWKSMinRefresh: time.Duration(e.JWKSMinRefresh)}, nil
}

func (e env) http() (HTTP, error) {
	var p problems
	if e.MaxBodyBytes < 1024 || e.MaxBodyBytes > 10<<20 {
		p.add(invalid("HTTP_MAX_BODY_BYTES", "must be between 1024 and 10485760"))
	}
	for _, v := range []struct {
		key string
		d   duration
	}{{"HTTP_READ_TIMEOUT", e.ReadTimeout}, {"HTTP_IDLE_TIMEOUT", e.IdleTimeout}, {"SHUTDOWN_TIMEOUT", e.ShutdownTimeout}} {
		p.add(within(v.key, v.d, time.Second, time.Hour))
	}
	p.add(within("SHUTDOWN_DRAIN_DELAY", e.DrainDelay, 0, 2*time.Minute))
	if err := p.err(); err != nil {
		return HTTP{}, err
	}
	return HTTP{DrainDelay: time.Duration(e.DrainDelay), MaxBodyBytes: e.MaxBodyBytes, ReadTimeout: time.Duration(e.ReadTimeout),
		IdleTimeout: time.Duration(e.IdleTimeout), ShutdownTimeout: time.Duration(e.ShutdownTimeout)}, nil
}

// writeMargin is what HTTP_WRITE_TIMEOUT adds to the refresh deadline when it is derived:
// time to write the answer once the refresh is done.
const writeMargin = 5 * time.Second

// writeTimeout is HTTP_WRITE_TIMEOUT, which must outlast the refresh deadline (else a
// request that waited for a refresh is cut off with no answer); unset or 0, it is the
// refresh deadline plus writeMargin.
func writeTimeout(set duration, refreshDeadline time.Duration) (time.Duration, error) {
	if set == 0 {
		return refreshDeadline + writeMargin, nil
	}
	if err := within("HTTP_WRITE_TIMEOUT", set, time.Second, time.Hour); err != nil {
		return 0, err
	}
	if d := time.Duration(set); d <= refreshDeadline {
		return 0, invalid("HTTP_WRITE_TIMEOUT", fmt.Sprintf("must be longer than the refresh deadline, %s "+
			"(KEYCLOAK_TIMEOUT × (KEYCLOAK_RETRIES+1) + 5s), or a request that waits for a refresh is cut off "+
			"with no answer; leave it unset to use %s", short(refreshDeadline), short(refreshDeadline+writeMargin)))
	}
	return time.Duration(set), nil
}

// parseKey checks that a vault key is 64 hex characters (32 bytes).
func parseKey(name, v string) (Secret, error) {
	v = strings.TrimSpace(v)
	if len(v) != 64 {
		return "", invalid(name, "must be 64 hex characters (32 bytes); `auth-manager keygen` prints one")
	}
	if _, err := hex.DecodeString(v); err != nil {
		return "", invalid(name, "must be 64 hex characters (32 bytes); `auth-manager keygen` prints one")
	}
	return Secret(strings.ToLower(v)), nil
}

// level is LOG_LEVEL; unset, DEBUG=true makes it DEBUG and otherwise it is INFO.
func (e env) level() (slog.Level, error) {
	if strings.TrimSpace(e.LogLevel) == "" {
		if e.Debug {
			return slog.LevelDebug, nil
		}
		return slog.LevelInfo, nil
	}
	return parseLevel(e.LogLevel)
}

// parseLevel maps the Python service's level names onto slog levels.
func parseLevel(s string) (slog.Level, error) {
	switch strings.ToUpper(strings.TrimSpace(s)) {
	case "DEBUG":
		return slog.LevelDebug, nil
	case "INFO":
		return slog.LevelInfo, nil
	case "WARNING", "WARN":
		return slog.LevelWarn, nil
	case "ERROR":
		return slog.LevelError, nil
	case "CRITICAL":
		return slog.LevelError + 4, nil
	}
	return 0, invalid("LOG_LEVEL", "must be DEBUG, INFO, WARNING, ERROR or CRITICAL")
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}
