package config

import (
	"strings"
	"time"
)

// Events configures token-health events (GET /v1/events and the webhooks).
type Events struct {
	// Retention is how long an event is kept for GET /v1/events (and for the webhook
	// subscribers that still wait for it).
	Retention time.Duration
	// FailingAfter is how many refreshes of a row in a row must fail without a refusal
	// before token.refresh_failing is announced; 0 never announces it.
	FailingAfter int
	// ConsentURL is token.invalid's details.consent_url for offline rows, with
	// {user_id} and {persistent_token_id} replaced.
	ConsentURL string
	// ForecastInterval is the time between two expiry forecast passes; 0: none.
	ForecastInterval time.Duration
	// HorizonOffline and HorizonRefresh: a row of that type whose grant reaches its hard
	// deadline this soon is announced (token.expiring).
	HorizonOffline, HorizonRefresh time.Duration
	// Webhooks are the subscribers and how deliveries to them are made.
	Webhooks Webhooks
}

func (e env) events(kc Keycloak) (Events, error) {
	var p problems
	p.add(within("AUTH_MANAGER_EVENTS_RETENTION", e.EventsRetention, time.Minute, 365*24*time.Hour))
	if e.EventsFailingAfter < 0 || e.EventsFailingAfter > 1000 {
		p.add(invalid("AUTH_MANAGER_EVENTS_FAILING_AFTER", "must be between 0 and 1000"))
	}
	consent := strings.TrimSpace(e.EventsConsentURL)
	switch {
	case consent == "" && kc.BaseURL != "" && kc.Realm != "":
		consent = kc.IssuerURL() + "/account"
	case consent != "" && !isHTTPURL(consent):
		p.add(invalid("AUTH_MANAGER_EVENTS_CONSENT_URL", "must be an absolute http(s) URL"))
	}
	if e.EventsForecast != 0 {
		p.add(within("AUTH_MANAGER_EVENTS_FORECAST_INTERVAL", e.EventsForecast, time.Second, 24*time.Hour))
	}
	p.add(within("AUTH_MANAGER_EVENTS_EXPIRY_HORIZON_OFFLINE", e.EventsHorizonOff, 0, 365*24*time.Hour))
	p.add(within("AUTH_MANAGER_EVENTS_EXPIRY_HORIZON_REFRESH", e.EventsHorizonRef, 0, 365*24*time.Hour))
	hooks, err := e.webhooks()
	p.add(err)
	if err := p.err(); err != nil {
		return Events{}, err
	}
	return Events{Retention: time.Duration(e.EventsRetention), FailingAfter: e.EventsFailingAfter, ConsentURL: consent,
		ForecastInterval: time.Duration(e.EventsForecast), HorizonOffline: time.Duration(e.EventsHorizonOff),
		HorizonRefresh: time.Duration(e.EventsHorizonRef), Webhooks: hooks}, nil
}
