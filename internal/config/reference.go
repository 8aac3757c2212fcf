package config

import (
	"fmt"
	"io"
	"reflect"
	"strings"
)

// reference documents every variable env reads, in the order docs/configuration.md
// lists them: what it means and an example. Its type, default and whether it is
// required come from env's field and tags; def and required here only say what a tag
// cannot (a default derived from other variables, a requirement with an alternative).
// TestConfigurationReference fails when a variable is missing here or the document is
// out of date.
var reference = []refGroup{
	{"Service", []refVar{
		{name: "APP_NAME", example: "Auth Manager Service", desc: "Name reported by `/version` and `/health/ready`."},
		{name: "APP_VERSION", def: "the build's version", example: "1.4.0", desc: "Version reported by `/version`, `/health/ready`, the `build_info` metric and traces."},
		{name: "COMMIT_SHA", def: "the build's commit", example: "0a1b2c3", desc: "Commit reported by `/version` and the `build_info` metric."},
		{name: "HOST", example: "127.0.0.1", desc: "Address the API listens on."},
		{name: "PORT", example: "8000", desc: "Port the API listens on (1–65535)."},
		{name: "LOG_LEVEL", typ: "enum", def: "`INFO` (`DEBUG` when `DEBUG=true`)", example: "WARNING", desc: "`DEBUG`, `INFO`, `WARNING`, `ERROR` or `CRITICAL`. Logs are JSON lines on stderr."},
		{name: "DEBUG", example: "true", desc: "`true` sets `LOG_LEVEL` to `DEBUG` when `LOG_LEVEL` is not set. At DEBUG the service logs which `.env` variables it read (names only)."},
	}},
	{"Database", []refVar{
		{name: "DATABASE_URL", typ: "secret URL", example: "postgres://auth_manager:…@db:5432/auth_manager?sslmode=require", desc: "PostgreSQL URL; the Python service's `postgresql+asyncpg://…` form (with asyncpg's `ssl=`) is accepted."},
		{name: "DATABASE_URL_FILE", typ: "path", example: "/run/secrets/database-url", desc: "File holding `DATABASE_URL` (trailing newline ignored); set one of the two."},
		{name: "DATABASE_POOL_SIZE", example: "10", desc: "Connections the pool keeps; it holds at most size + overflow."},
		{name: "DATABASE_MAX_OVERFLOW", example: "20", desc: "Connections the pool may open beyond its size."},
		{name: "DATABASE_POOL_TIMEOUT", example: "30s", desc: "How long to wait for a new connection (at least 1s)."},
		{name: "DATABASE_ECHO", example: "false", desc: "Log each statement's SQL text (never its arguments) at DEBUG."},
		{name: "DATABASE_POOL_MODE", typ: "enum", example: "transaction", desc: "`session` when `DATABASE_URL` is PostgreSQL or a pooler in session mode; `transaction` behind a pooler in transaction mode (PgBouncer `pool_mode = transaction`): no LISTEN (replicas poll the change feed every `AUTH_MANAGER_FEED_POLL_INTERVAL`), no named prepared statements (pgx `exec` mode unless the URL sets `default_query_exec_mode`), migrations serialised by a lock row (table `goose_lock`) instead of a session advisory lock."},
		{name: "AUTH_MANAGER_FEED_POLL_INTERVAL", example: "1s", desc: "How often each replica reads the change feed (cache evictions, ended sessions) without a NOTIFY wake-up (100ms–1m). In `transaction` pool mode, an eviction reaches the other replicas within it, and a replica whose last read began more than twice this ago stops answering from its access-token cache until a read succeeds."},
		{name: "AUTH_MANAGER_FEED_RETENTION", example: "1h", desc: "How long cache evictions are kept in `auth_vault_evictions` (1m–168h): a replica cut off from the database for longer empties its access-token cache on return instead of replaying them."},
		{name: "AUTH_MANAGER_SKIP_MIGRATIONS", example: "true", desc: "Leave the schema alone at `serve` start (a separate job runs `auth-manager migrate up`)."},
	}},
	{"Keycloak", []refVar{
		{name: "KEYCLOAK_ISSUER", typ: "URL", example: "https://sso.example.com", desc: "Keycloak's base URL (`…/auth` for old layouts) or the realm's URL `…/realms/NAME`. Tokens must carry this issuer. A plain `http://` URL to a host that is not loopback is logged as a warning."},
		{name: "KEYCLOAK_URL", typ: "URL", def: "`KEYCLOAK_ISSUER`'s address", example: "http://keycloak:8080", desc: "Where the service connects to Keycloak when that is not the issuer's address (inside a cluster); tokens must still carry `KEYCLOAK_ISSUER`."},
		{name: "KEYCLOAK_REALM", required: "unless `KEYCLOAK_ISSUER` names the realm", example: "my-realm", desc: "The realm; must match the one named in `KEYCLOAK_ISSUER`, if any."},
		{name: "KEYCLOAK_CLIENT_ID", example: "auth-manager", desc: "The service's confidential client."},
		{name: "KEYCLOAK_CLIENT_SECRET", desc: "The client's secret."},
		{name: "KEYCLOAK_CLIENT_SECRET_FILE", typ: "path", example: "/run/secrets/keycloak-client-secret", desc: "File holding `KEYCLOAK_CLIENT_SECRET` (trailing newline ignored); set one of the two."},
		{name: "KEYCLOAK_CONSENT_REDIRECT_URI", typ: "URL", required: "yes (or `KEYCLOAK_REDIRECT_URI`)", example: "https://auth-manager.example.com/v1/offline-token/callback", desc: "This service's `/v1/offline-token/callback`, registered as a redirect URI of the client."},
		{name: "KEYCLOAK_REDIRECT_URI", typ: "URL", example: "https://auth-manager.example.com/v1/offline-token/callback", desc: "The Python service's name for `KEYCLOAK_CONSENT_REDIRECT_URI`, accepted when that is not set."},
		{name: "KEYCLOAK_AFTER_CONSENT_REDIRECT_URI", typ: "URL", example: "https://app.example.com/settings", desc: "Where the browser goes after the consent callback; empty: the callback answers JSON."},
		{name: "KEYCLOAK_TIMEOUT", example: "10s", desc: "Time allowed for one Keycloak call (1s–2m)."},
		{name: "KEYCLOAK_RETRIES", example: "2", desc: "Retries of a call Keycloak certainly did not process (connection refused, 502/503/504), 0–5."},
		{name: "AUTH_MANAGER_KEYCLOAK_CONCURRENCY", example: "8", desc: "Refreshes of stored tokens one replica presents to Keycloak at once; each holds a pooled connection and the row lock across the call, so it must be below `DATABASE_POOL_SIZE` + `DATABASE_MAX_OVERFLOW`. A refresh that finds no free slot within `KEYCLOAK_TIMEOUT` answers 503 `service_unavailable` (reason `keycloak_busy`)."},
		{name: "KEYCLOAK_REFRESH_TOKEN_ROTATION", typ: "enum", example: "off", desc: "Does the realm rotate refresh tokens? `auto` reads the realm's setting through the admin API (needs realm-management `view-realm`; falls back to `off` with a warning); `on` and `off` skip the admin API."},
	}},
	{"Access tokens", []refVar{
		{name: "AUTH_MANAGER_ACCESS_TOKEN_MIN_TTL", example: "30s", desc: "A cached access token is served while it lives longer than this (0–1h); `?min_ttl=` overrides it per request."},
		{name: "AUTH_MANAGER_ACCESS_TOKEN_CACHE_SIZE", example: "10000", desc: "Access tokens cached (LRU bound), 0–1000000; 0 disables the cache."},
		{name: "AUTH_MANAGER_MAX_TOKENS_PER_USER", example: "50", desc: "Stored tokens (rows) one user may have (1–100000); past it, storing another answers 409 `too_many_tokens`, and the consent URL and the offline reissue are refused the same way."},
		{name: "AUTH_MANAGER_EXCHANGE_AUDIENCES", typ: "list", example: "orders-api,billing", desc: "Audiences a narrowed token (`POST /v1/access-token?audience=`) may be asked for; others get 403 `audience_not_allowed` without a Keycloak call. Empty: whatever Keycloak's exchange policy allows."},
		{name: "AUTH_MANAGER_EXCHANGE_AUDIENCES_BY_CLIENT", example: "frontend=billing reports;batch=", desc: "Per calling client (`azp`), the audiences its callers may ask for, replacing `AUTH_MANAGER_EXCHANGE_AUDIENCES` for them: `client=aud aud;client=…`; an entry with no audiences allows none."},
	}},
	{"Vault keys and consent state", []refVar{
		{name: "AUTH_MANAGER_TOKEN_VAULT_ENCRYPTION_KEY", desc: "The vault key: 32 bytes as 64 hex characters (`auth-manager keygen` prints one)."},
		{name: "AUTH_MANAGER_TOKEN_VAULT_ENCRYPTION_KEY_FILE", typ: "path", example: "/run/secrets/vault-key", desc: "File holding `AUTH_MANAGER_TOKEN_VAULT_ENCRYPTION_KEY` (trailing newline ignored); set one of the two."},
		{name: "AUTH_MANAGER_TOKEN_VAULT_PREVIOUS_KEYS", typ: "secret list", desc: "Older vault keys, comma-separated, accepted for reading until `auth-manager rotate-keys` has re-sealed every row."},
		{name: "AUTH_MANAGER_TOKEN_VAULT_PREVIOUS_KEYS_FILE", typ: "path", example: "/run/secrets/vault-previous-keys", desc: "File holding `AUTH_MANAGER_TOKEN_VAULT_PREVIOUS_KEYS` (trailing newline ignored); set one of the two."},
		{name: "AUTH_MANAGER_TOKEN_VAULT_REJECT_LEGACY", example: "true", desc: "Refuse rows without an integrity tag (turn on once `rotate-keys` has sealed every row)."},
		{name: "AUTH_MANAGER_TOKEN_VAULT_TRUST_OPAQUE_LEGACY", example: "false", desc: "Use legacy rows whose token is not a JWT, whose owner cannot be checked against the token's claims."},
		{name: "STATE_TOKEN_SECRET", desc: "Key of the offline-consent `state` parameter's signature; at least 32 characters."},
		{name: "STATE_TOKEN_SECRET_FILE", typ: "path", example: "/run/secrets/state-secret", desc: "File holding `STATE_TOKEN_SECRET` (trailing newline ignored); set one of the two."},
		{name: "STATE_TOKEN_EXPIRY", example: "10m", desc: "How long a consent URL stays usable (1m–1h)."},
	}},
	{"CORS", []refVar{
		{name: "CORS_ORIGINS", typ: "list", example: "https://app.example.com", desc: "Origins allowed to call from a browser, comma-separated (`*` for any). `*` or `null` with `CORS_ALLOW_CREDENTIALS=true` refuses to start."},
		{name: "CORS_ALLOW_CREDENTIALS", example: "false", desc: "Allow credentialed cross-origin requests."},
	}},
	{"Callers", []refVar{
		{name: "AUTH_MANAGER_SERVICE_ROLE", example: "auth-manager-service", desc: "Realm role, or client role of `KEYCLOAK_CLIENT_ID`, that makes a service caller."},
		{name: "AUTH_MANAGER_AUTH_MODE", typ: "enum", example: "jwt", desc: "`introspect`: ask Keycloak about each (uncached) caller token; `jwt`: verify signatures locally against the realm's JWKS."},
		{name: "AUTH_MANAGER_INTROSPECTION_CACHE_TTL", example: "30s", desc: "How long an introspection answer (in `jwt` mode, a verified token's claims) is reused, never past the token's `exp` (0–5m); 0 disables."},
		{name: "AUTH_MANAGER_ALLOWED_CLIENTS", typ: "list", example: "frontend,reports", desc: "Clients whose tokens may call, matched against the token's `azp` (both modes); empty: every client of the realm may call (logged at start)."},
		{name: "AUTH_MANAGER_SERVICE_CLIENTS", typ: "list", example: "billing", desc: "Clients (`azp`) whose tokens with the service role are service callers; empty: no service callers (logged at start)."},
		{name: "AUTH_MANAGER_SIGNING_ALGS", typ: "list", example: "RS256", desc: "JWS algorithms accepted on caller and logout tokens; asymmetric ones only."},
		{name: "AUTH_MANAGER_JWKS_MIN_REFRESH", example: "30s", desc: "Least time between two downloads of the realm's JWKS (1s–1h); a token naming an unknown key id triggers one."},
	}},
	{"Edge", []refVar{
		{name: "AUTH_MANAGER_TRUSTED_PROXIES", typ: "list", example: "10.0.0.0/16,fd00::/64", desc: "Peers (IPs or CIDR prefixes) whose `X-Forwarded-For` names the client; empty: the peer is the client. More than a /8 of IPv4 or a /32 of IPv6 addresses in total refuses to start."},
		{name: "AUTH_MANAGER_RATE_LIMIT", example: "20", desc: "Failed requests per client IP and window on each unauthenticated surface (bad bearer tokens, consent callback, back-channel logout) before `429`; 0 disables."},
		{name: "AUTH_MANAGER_RATE_LIMIT_WINDOW", example: "10s", desc: "Window of `AUTH_MANAGER_RATE_LIMIT` (1s–1h)."},
	}},
	{"HTTP server", []refVar{
		{name: "HTTP_MAX_BODY_BYTES", example: "65536", desc: "Request body limit in bytes (1024–10485760); larger bodies get 413."},
		{name: "HTTP_READ_TIMEOUT", example: "15s", desc: "Time allowed to read a request, body included (1s–1h). Applies to the metrics listener too."},
		{name: "HTTP_WRITE_TIMEOUT", def: "the refresh deadline + 5s (40s with the defaults)", example: "45s", desc: "Time allowed to handle a request and write its answer (1s–1h); must be longer than the refresh deadline, `KEYCLOAK_TIMEOUT` × (`KEYCLOAK_RETRIES` + 1) + 5s, or a request that waits for a refresh would be cut off. Applies to the metrics listener too."},
		{name: "HTTP_IDLE_TIMEOUT", example: "2m", desc: "How long an idle keep-alive connection stays open (1s–1h). Applies to the metrics listener too."},
		{name: "SHUTDOWN_DRAIN_DELAY", example: "5s", desc: "On SIGTERM, how long readiness answers 503 before the listener closes, so that load balancers stop routing here (0–2m)."},
		{name: "SHUTDOWN_TIMEOUT", example: "20s", desc: "After the drain delay, how long in-flight requests get to finish (1s–1h)."},
		{name: "METRICS_ADDR", typ: "address", example: ":9100", desc: "Serve `/metrics` on a listener of its own instead of the API's port."},
	}},
	{"Tracing", []refVar{
		{name: "OTEL_EXPORTER_OTLP_ENDPOINT", typ: "URL", example: "http://otel-collector:4318", desc: "OpenTelemetry traces over OTLP/HTTP to `{endpoint}/v1/traces`; empty: tracing off. The other standard `OTEL_EXPORTER_OTLP_*` variables and `OTEL_TRACES_SAMPLER` apply."},
		{name: "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", typ: "URL", example: "http://otel-collector:4318/v1/traces", desc: "The full URL for traces; wins over `OTEL_EXPORTER_OTLP_ENDPOINT`."},
		{name: "OTEL_SERVICE_NAME", example: "auth-manager", desc: "Service name on the traces."},
	}},
	{"Access log", []refVar{
		{name: "AUTH_MANAGER_ACCESS_LOG_SAMPLE", typ: "number", example: "0.1", desc: "Fraction (0–1) of 2xx answers of `POST /v1/access-token` and `GET /v1/validate-token` that get an access line; other routes and statuses are always logged, audit lines never sampled."},
	}},
	{"Offline keep-alive and clean-up", []refVar{
		{name: "AUTH_MANAGER_KEEPALIVE_ENABLED", example: "true", desc: "Run the offline keep-alive and clean-up job. Every replica runs it; their passes share the rows (claimed in batches), so each row is refreshed once."},
		{name: "AUTH_MANAGER_KEEPALIVE_INTERVAL", example: "1h", desc: "Time between passes (1s–24h)."},
		{name: "AUTH_MANAGER_KEEPALIVE_IDLE_THRESHOLD", example: "24h", desc: "How long an offline token may go unused before a pass refreshes it (1s–8760h); threshold + interval must stay well below the realm's *Offline Session Idle*."},
		{name: "AUTH_MANAGER_KEEPALIVE_RETENTION", example: "168h", desc: "How long a row Keycloak refused for good (marked `invalid`) is kept before a pass deletes it (0–8760h); 0 keeps it."},
		{name: "AUTH_MANAGER_KEEPALIVE_DRY_RUN", example: "true", desc: "Passes only log what they would refresh and delete."},
		{name: "AUTH_MANAGER_KEEPALIVE_RATE", example: "20", desc: "Refreshes per second that the keep-alive of every replica together presents to Keycloak (1–10000): a cluster-wide rate, kept in the database, whatever the replica count. At least the offline rows ÷ the idle threshold in seconds, with room to spare."},
		{name: "AUTH_MANAGER_KEEPALIVE_WORKERS", example: "2", desc: "Keep-alive refreshes one replica has in flight at most (1–64); each holds a pooled connection during its refresh and counts against `AUTH_MANAGER_KEYCLOAK_CONCURRENCY`. Replicas × workers × (1 ÷ Keycloak's refresh latency) must exceed the rate for the rate to be reached."},
	}},
	{"Token-health events", []refVar{
		{name: "AUTH_MANAGER_EVENTS_RETENTION", example: "168h", desc: "How long an event stays readable through `GET /v1/events` (1m–8760h); an event a webhook subscriber still waits for is kept until its delivery ends, at most twice as long."},
		{name: "AUTH_MANAGER_EVENTS_FAILING_AFTER", example: "3", desc: "Refreshes of one stored token in a row that must fail without a refusal (Keycloak unavailable or erring) before `token.refresh_failing` is announced (0–1000); 0 never announces it. The next working refresh announces `token.recovered`."},
		{name: "AUTH_MANAGER_EVENTS_CONSENT_URL", typ: "URL", def: "the realm's account console, `{issuer}/account`", example: "https://app.example.com/reconnect?token={persistent_token_id}", desc: "Where a service can send a user whose offline token Keycloak refused: `token.invalid`'s `details.consent_url` for offline rows, with `{user_id}` and `{persistent_token_id}` replaced. Best a page of your application that starts `GET /v1/offline-token` with the user's token: a consent URL of the service itself needs the user's session and expires after `STATE_TOKEN_EXPIRY`."},
	}},
	{"Expiry forecasts", []refVar{
		{name: "AUTH_MANAGER_EVENTS_FORECAST_INTERVAL", example: "15m", desc: "Time between two expiry forecast passes (1s–24h; 0: none). One replica at a time (the holder of the `forecast` lease, a row in `job_lease`) reads the realm's settings, the service client's overrides and the start of every session holding a token of the client through the admin API (needs `view-realm`, `view-clients`, `view-users`), records each active stored token's hard deadline (`GET /v1/tokens`: `expires_at`, `expires_basis`) and announces those within the horizon (`token.expiring`), once per token and deadline."},
		{name: "AUTH_MANAGER_EVENTS_EXPIRY_HORIZON_OFFLINE", example: "168h", desc: "An offline token whose grant reaches its hard deadline (the realm's *Offline Session Max*, or the client's *Client Offline Session Max*) this soon is announced (0–8760h)."},
		{name: "AUTH_MANAGER_EVENTS_EXPIRY_HORIZON_REFRESH", example: "1h", desc: "A refresh token whose online session reaches its hard deadline (*SSO Session Max*, or *Client Session Max*) this soon is announced (0–8760h)."},
	}},
	{"Webhooks", []refVar{
		{name: "AUTH_MANAGER_WEBHOOKS", typ: "secret JSON", example: `[{"name":"billing","url":"https://billing.example.com/hooks/auth-manager","secrets":["whsec_…"],"event_types":["token.invalid","token.expiring"]}]`, desc: "The subscribers of token-health events, a JSON array: `name` (1-64 of `A-Za-z0-9._-`, unique), `url` (http(s), no credentials), `secrets` (one, or two while rotating: `whsec_` and the base64 of 24-64 random bytes; every delivery is signed with each), `event_types` (empty: all), `allow_private_network` (let the URL reach loopback, link-local, private or reserved addresses, refused otherwise, also after DNS). Empty: no webhooks."},
		{name: "AUTH_MANAGER_WEBHOOKS_FILE", typ: "path", example: "/run/secrets/webhooks.json", desc: "File holding `AUTH_MANAGER_WEBHOOKS` (a mounted secret); set one of the two."},
		{name: "AUTH_MANAGER_WEBHOOKS_TIMEOUT", example: "10s", desc: "Time allowed for one delivery, connection included (1s–2m); redirects are never followed."},
		{name: "AUTH_MANAGER_WEBHOOKS_MAX_ATTEMPTS", example: "15", desc: "Attempts of one delivery (1–100) before it is dead (kept, not retried; `auth_manager_webhook_deliveries_total{outcome=\"dead\"}`)."},
		{name: "AUTH_MANAGER_WEBHOOKS_BACKOFF", example: "5s", desc: "Wait after a delivery's first failure (10ms–1h); doubled after each further failure, each wait drawn between half and all of it (jitter)."},
		{name: "AUTH_MANAGER_WEBHOOKS_BACKOFF_MAX", example: "1h", desc: "Longest wait between two attempts of a delivery (10ms–24h)."},
		{name: "AUTH_MANAGER_WEBHOOKS_CONCURRENCY", example: "16", desc: "Deliveries one replica has in flight at once (1–256); one user's events reach one subscriber one after the other."},
	}},
}

// refGroup is one section of the reference.
type refGroup struct {
	title string
	vars  []refVar
}

// refVar documents one variable. typ, def and required override what env's field and
// tags say, when those say too little.
type refVar struct {
	name, typ, def, required, example, desc string
}

// referenceIntro heads docs/configuration.md.
const referenceIntro = `# Configuration reference

<!-- Generated from internal/config (the env struct's tags and reference.go) by
     ` + "`make config-docs`" + `; edit those, not this file. A test fails when it is out of date. -->

auth-manager reads its configuration from environment variables, once, at start.

- **.env**: a ` + "`.env`" + ` file in the working directory is read too, when present, by every
  command that reads configuration; real environment variables win, and the process
  environment is never changed. The service logs at INFO that it read the file and how
  many variables it holds; at DEBUG, which of them it used and which it did not (names
  only, never values: a misspelt name shows there).
- **Durations** take Go units (` + "`15s`, `2m`, `1h30m`" + `) or a whole number of seconds
  (` + "`15`" + `).
- **Secrets** (type *secret*) may be given as a file instead: ` + "`NAME_FILE=/path`" + ` reads the
  value from the file (a trailing newline is ignored), as mounted Kubernetes and Docker
  secrets are. Setting both ` + "`NAME`" + ` and ` + "`NAME_FILE`" + ` is an error.
- **Errors**: every missing or invalid variable is reported at once, one line each,
  naming the variable and the expected form; the process exits 1. Secrets are never
  echoed.
- ` + "`migrate`" + ` reads only the ` + "`DATABASE_*`" + ` variables, ` + "`LOG_LEVEL`" + ` and ` + "`DEBUG`" + `;
  ` + "`rotate-keys`" + ` those and the ` + "`AUTH_MANAGER_TOKEN_VAULT_*`" + ` keys.

At start the service refuses settings that silently weaken it (credentialed CORS for
any origin or ` + "`null`" + `, trusted proxies covering more than a /8 of IPv4 or a /32 of
IPv6 addresses, ` + "`HTTP_WRITE_TIMEOUT`" + ` not longer than the refresh deadline), warns
about plain ` + "`http://`" + ` Keycloak or redirect URLs to hosts that are not loopback,
and says what an empty ` + "`AUTH_MANAGER_ALLOWED_CLIENTS`" + ` or
` + "`AUTH_MANAGER_SERVICE_CLIENTS`" + ` means.
`

// writeReference writes docs/configuration.md: the intro, then one table per group.
func writeReference(w io.Writer) error {
	fields := envFields()
	var b strings.Builder
	b.WriteString(referenceIntro)
	for _, g := range reference {
		fmt.Fprintf(&b, "\n## %s\n\n", g.title)
		b.WriteString("| Variable | Type | Default | Example | Description |\n| --- | --- | --- | --- | --- |\n")
		for _, v := range g.vars {
			f, ok := fields[v.name]
			if !ok {
				return fmt.Errorf("config reference: %s is not read by the service", v.name)
			}
			fmt.Fprintf(&b, "| `%s` | %s | %s | %s | %s |\n", v.name, cell(v.typeName(f)), cell(v.defaultText(f)),
				cell(code(v.example)), cell(v.desc))
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// envFields maps each variable to its env field.
func envFields() map[string]reflect.StructField {
	out := map[string]reflect.StructField{}
	t := reflect.TypeFor[env]()
	for i := range t.NumField() {
		if key := t.Field(i).Tag.Get("envconfig"); key != "" {
			out[key] = t.Field(i)
		}
	}
	return out
}

func (v refVar) typeName(f reflect.StructField) string {
	if v.typ != "" {
		return v.typ
	}
	switch {
	case f.Type == secretType:
		return "secret"
	case f.Type == reflect.TypeFor[duration]():
		return "duration"
	}
	switch f.Type.Kind() {
	case reflect.Bool:
		return "boolean"
	case reflect.Int, reflect.Int64:
		return "integer"
	}
	return "string"
}

func (v refVar) defaultText(f reflect.StructField) string {
	switch {
	case v.required != "":
		return "**required** " + v.required
	case f.Tag.Get("required") == "true":
		if f.Type == secretType {
			return "**required** (or `" + v.name + fileSuffix + "`)"
		}
		return "**required**"
	case v.def != "":
		return v.def
	}
	if def, ok := f.Tag.Lookup("default"); ok && def != "" {
		return code(def)
	}
	return "empty"
}

func code(s string) string {
	if s == "" {
		return ""
	}
	return "`" + s + "`"
}

// cell keeps a table cell on one line and its pipes from ending it.
func cell(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, "\n", " "), "|", `\|`)
}
