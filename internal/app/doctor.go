package app

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/auth-manager/auth-manager/internal/config"
	"github.com/auth-manager/auth-manager/internal/doctor"
	"github.com/auth-manager/auth-manager/internal/events"
	"github.com/auth-manager/auth-manager/internal/keycloak"
	"github.com/auth-manager/auth-manager/internal/tracing"
	"github.com/auth-manager/auth-manager/internal/vault"
)

// newKeycloak is the Keycloak client as the service wires it.
func newKeycloak(cfg config.Config, log *slog.Logger, o options, observe func(op, outcome string, d time.Duration)) *keycloak.Client {
	wrap := o.wrapKeycloak
	if o.tracer != nil {
		// Outermost, so that a test's wrapper sees the traceparent header it adds.
		wrap = func(rt http.RoundTripper) http.RoundTripper {
			if o.wrapKeycloak != nil {
				rt = o.wrapKeycloak(rt)
			}
			return tracing.Transport(o.tracer, rt)
		}
	}
	return keycloak.New(keycloak.Options{
		IssuerURL: cfg.Keycloak.IssuerURL(), ConnectURL: cfg.Keycloak.ConnectURL(),
		BaseURL: cfg.Keycloak.ConnectBase(), Realm: cfg.Keycloak.Realm,
		ClientID: cfg.Keycloak.ClientID, ClientSecret: cfg.Keycloak.ClientSecret.Reveal(),
		RedirectURL: cfg.Keycloak.ConsentRedirectURI, Timeout: cfg.Keycloak.Timeout,
		WrapTransport: wrap, Observe: observe,
	}, log)
}

// Doctor runs doctor's checks with the App's own parts (serve does once at start). It
// sends webhook subscribers no test message: `auth-manager doctor` does (DoctorDeps).
func (a *App) Doctor(ctx context.Context) doctor.Report {
	return doctor.Run(ctx, doctor.Deps{Config: a.cfg, Store: a.Store, Keycloak: a.Keycloak, Admin: a.Admin, CheckVault: a.Vault.Check})
}

// DoctorDeps wires what `auth-manager doctor` checks, without the rest of the service:
// no migration, no background work. close releases it.
func DoctorDeps(ctx context.Context, cfg config.Config, log *slog.Logger, opts ...Option) (d doctor.Deps, close func(), err error) {
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	d = doctor.Deps{Config: cfg, ProbeWebhook: events.Probe}
	close = func() {}
	if st, err := OpenStore(ctx, cfg.Database, log); err == nil {
		d.Store, close = st, st.Close
	}
	ring, err := NewRing(cfg.Keys)
	if err != nil {
		close()
		return doctor.Deps{}, nil, err
	}
	d.Keycloak = newKeycloak(cfg, log, o, nil)
	d.Admin = keycloak.NewAdmin(d.Keycloak)
	if d.Store != nil {
		d.CheckVault = vault.New(d.Store, ring, d.Keycloak, vault.Options{Issuer: cfg.Keycloak.IssuerURL(),
			ClientID: cfg.Keycloak.ClientID, Log: log, TrustOpaqueLegacy: cfg.TrustOpaqueLegacy}).Check
	}
	return d, close, nil
}
