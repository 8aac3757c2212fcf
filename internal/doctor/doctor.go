package doctor

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/auth-manager/auth-manager/internal/config"
	"github.com/auth-manager/auth-manager/internal/keycloak"
	"github.com/auth-manager/auth-manager/internal/store"
	"github.com/auth-manager/auth-manager/internal/vault"
)

// Check names, in the order they run.
const (
	CheckConfig          = "config"
	CheckPostgres        = "postgres"
	CheckMigrations      = "migrations"
	CheckListen          = "listen"
	CheckKeycloak        = "keycloak"
	CheckIssuer          = "issuer"
	CheckClient          = "client_credentials"
	CheckRoles           = "service_account_roles"
	CheckLogoutURL       = "backchannel_logout"
	CheckOfflineIdle     = "offline_idle_timeout"
	CheckRotation        = "refresh_token_rotation"
	CheckVaultKey        = "vault_key"
	CheckWebhooks        = "webhooks"
	checkTimeoutPerCheck = 15 * time.Second
)

// Result is one check's outcome. Skipped checks could not run because one they need
// failed; they do not count as failures of their own.
type Result struct {
	Check   string `json:"check"`
	OK      bool   `json:"ok"`
	Skipped bool   `json:"skipped,omitempty"`
	Detail  string `json:"detail"`
	Fix     string `json:"fix,omitempty"`
}

// Report is every check's result, in order.
type Report struct {
	OK     bool     `json:"ok"`
	Checks []Result `json:"checks"`
}

// Deps are the parts of the service the checks use, wired as `serve` wires them.
type Deps struct {
	Config   config.Config
	Store    *store.Store // nil when it could not be opened
	Keycloak *keycloak.Client
	Admin    *keycloak.Admin
	// CheckVault reports whether the vault's key ring opens a sample of rows and how
	// many legacy rows remain (vault.Service.Check): doctor never reads a sealed row.
	CheckVault func(ctx context.Context, sample int) (vault.KeyReport, error)
	// HTTP asks the realm's back-channel logout URL whether an auth-manager answers
	// there (nil: a client with a short timeout).
	HTTP *http.Client
	// ProbeWebhook sends a webhook subscriber a signed test message; nil (serve's run
	// at start) skips the check.
	ProbeWebhook WebhookProbe
}

// ConfigFailure is the report when the configuration does not load: nothing else can
// be checked.
func ConfigFailure(err error) Report {
	// One problem per line in err (every variable at once): one line in the report.
	r := Report{Checks: []Result{fail(CheckConfig, strings.ReplaceAll(err.Error(), "\n", "; "),
		"set the variables it names (docs/configuration.md lists every one)")}}
	for _, c := range []string{CheckPostgres, CheckMigrations, CheckListen, CheckKeycloak, CheckIssuer, CheckClient,
		CheckRoles, CheckLogoutURL, CheckOfflineIdle, CheckRotation, CheckVaultKey, CheckWebhooks} {
		r.Checks = append(r.Checks, skip(c, "configuration"))
	}
	return r
}

// Run runs every check in order.
func Run(ctx context.Context, d Deps) Report {
	r := Report{Checks: []Result{pass(CheckConfig, "configuration parses")}}
	add := func(res Result) Result { r.Checks = append(r.Checks, res); return res }
	step := func(f func(context.Context) Result) Result {
		cctx, cancel := context.WithTimeout(ctx, checkTimeoutPerCheck)
		defer cancel()
		return add(f(cctx))
	}

	db := step(func(ctx context.Context) Result { return checkPostgres(ctx, d) })
	if db.OK {
		step(func(ctx context.Context) Result { return checkMigrations(ctx, d) })
		step(func(ctx context.Context) Result { return checkListen(ctx, d) })
	} else {
		add(skip(CheckMigrations, CheckPostgres))
		add(skip(CheckListen, CheckPostgres))
	}

	kc := step(func(ctx context.Context) Result { return checkKeycloak(ctx, d) })
	var roles []string
	if kc.OK {
		step(func(ctx context.Context) Result { return checkIssuer(ctx, d) })
		cc := step(func(ctx context.Context) Result {
			var res Result
			roles, res = checkClient(ctx, d)
			return res
		})
		if cc.OK {
			step(func(context.Context) Result { return checkRoles(roles) })
			step(func(ctx context.Context) Result { return checkLogoutURL(ctx, d) })
			var realm *keycloak.RealmSettings
			step(func(ctx context.Context) Result {
				var res Result
				realm, res = checkOfflineIdle(ctx, d)
				return res
			})
			if realm != nil {
				add(checkRotation(*realm))
			} else {
				add(skip(CheckRotation, "reading the realm settings"))
			}
		} else {
			for _, c := range []string{CheckRoles, CheckLogoutURL, CheckOfflineIdle, CheckRotation} {
				add(skip(c, CheckClient))
			}
		}
	} else {
		for _, c := range []string{CheckIssuer, CheckClient, CheckRoles, CheckLogoutURL, CheckOfflineIdle, CheckRotation} {
			add(skip(c, CheckKeycloak))
		}
	}

	if db.OK {
		step(func(ctx context.Context) Result { return checkVaultKey(ctx, d) })
	} else {
		add(skip(CheckVaultKey, CheckPostgres))
	}
	step(func(ctx context.Context) Result { return checkWebhooks(ctx, d) })
	r.OK = true
	for _, c := range r.Checks {
		if !c.OK && !c.Skipped {
			r.OK = false
		}
	}
	return r
}

func pass(check, detail string) Result { return Result{Check: check, OK: true, Detail: detail} }
func fail(check, detail, fix string) Result {
	return Result{Check: check, Detail: detail, Fix: fix}
}
func skip(check, after string) Result {
	return Result{Check: check, Skipped: true, Detail: "not checked: " + after + " failed"}
}

// WriteText prints one line per check: ✓, ✗ or – (skipped), the check, what was found
// and, for a failure, the fix.
func (r Report) WriteText(w io.Writer) {
	width := 0
	for _, c := range r.Checks {
		width = max(width, len(c.Check))
	}
	for _, c := range r.Checks {
		mark := "✓"
		switch {
		case c.Skipped:
			mark = "–"
		case !c.OK:
			mark = "✗"
		}
		line := fmt.Sprintf("%s %-*s  %s", mark, width, c.Check, c.Detail)
		if c.Fix != "" {
			line += " — fix: " + c.Fix
		}
		fmt.Fprintln(w, line)
	}
	if r.OK {
		fmt.Fprintln(w, "all checks passed")
	} else {
		fmt.Fprintf(w, "%d check(s) failed\n", len(r.Failed()))
	}
}

// WriteJSON prints the report as one JSON object.
func (r Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// Failed returns the failed checks.
func (r Report) Failed() []Result {
	var out []Result
	for _, c := range r.Checks {
		if !c.OK && !c.Skipped {
			out = append(out, c)
		}
	}
	return out
}

// Export records each check's outcome (metrics) and logs every failure once as WARN.
func (r Report) Export(record func(check string, ok bool), log *slog.Logger) {
	for _, c := range r.Checks {
		if c.Skipped {
			continue
		}
		if record != nil {
			record(c.Check, c.OK)
		}
		if !c.OK && log != nil {
			log.Warn("doctor: check failed", "check", c.Check, "detail", c.Detail, "fix", c.Fix)
		}
	}
}

// describe shortens an error for a report line.
func describe(err error) string {
	s := err.Error()
	s = strings.TrimPrefix(s, "keycloak: ")
	s = strings.TrimPrefix(s, "store: ")
	return s
}
