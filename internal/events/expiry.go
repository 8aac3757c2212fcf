package events

import (
	"strconv"
	"time"

	"github.com/auth-manager/auth-manager/internal/keycloak"
	"github.com/auth-manager/auth-manager/internal/store"
)

// Bases of an expiry forecast: which Keycloak setting sets a row's hard deadline.
const (
	BasisOfflineMax           = "offline_session_max_lifespan"        // the realm's Offline Session Max
	BasisClientOfflineMax     = "client_offline_session_max_lifespan" // the client's (or realm's client-level) Client Offline Session Max
	BasisSSOMax               = "sso_session_max_lifespan"            // the realm's SSO Session Max
	BasisSSOMaxRememberMe     = "sso_session_max_lifespan_remember_me"
	BasisClientSessionMax     = "client_session_max_lifespan" // the client's (or realm's client-level) Client Session Max
	BasisNoMaxLifespan        = "no_max_lifespan"             // offline, without a max lifespan: only idleness or a revocation ends it
	BasisSessionNotFound      = "session_not_found"           // Keycloak lists no session of the row: it ended
	clientSessionMaxAttr      = "client.session.max.lifespan"
	clientOfflineMaxAttr      = "client.offline.session.max.lifespan"
	defaultSSOMaxLifespan     = 36000   // Keycloak's default SSO Session Max (10 h)
	defaultOfflineMaxLifespan = 5184000 // Keycloak's default Offline Session Max (60 days)
)

// Realm is what a forecast derives from: the realm's settings and the service
// client's attributes.
type Realm struct {
	Settings keycloak.RealmSettings
	Client   map[string]string
}

// Deadline is a row's hard deadline (nil: none) and how it was derived.
type Deadline struct {
	At    *time.Time
	Basis string
}

// deadlineOf derives when the grant of a row of type t, in a Keycloak session that
// started at start (remember-me or not), ends whatever is done with it, as Keycloak
// computes it (SessionExpirationUtils): the client session's max lifespan, bounded by
// the user session's. The client session is taken to start with the user session,
// which can only make the forecast earlier than the truth.
func deadlineOf(r Realm, t store.TokenType, start time.Time, rememberMe bool) Deadline {
	at := func(secs int, basis string) Deadline {
		d := start.Add(time.Duration(secs) * time.Second).UTC()
		return Deadline{At: &d, Basis: basis}
	}
	s := r.Settings
	if t == store.Offline {
		client := attrSeconds(r.Client, clientOfflineMaxAttr)
		if !s.OfflineSessionMaxLifespanEnabled && client <= 0 {
			return Deadline{Basis: BasisNoMaxLifespan}
		}
		realmMax := orDefault(s.OfflineSessionMaxLifespan, defaultOfflineMaxLifespan)
		secs, basis := realmMax, BasisOfflineMax
		switch {
		case client > 0:
			secs, basis = client, BasisClientOfflineMax
		case s.ClientOfflineSessionMaxLifespan > 0:
			secs, basis = s.ClientOfflineSessionMaxLifespan, BasisClientOfflineMax
		}
		if s.OfflineSessionMaxLifespanEnabled && realmMax < secs {
			secs, basis = realmMax, BasisOfflineMax
		}
		return at(secs, basis)
	}
	userMax, basis := orDefault(s.SSOSessionMaxLifespan, defaultSSOMaxLifespan), BasisSSOMax
	if rememberMe && s.SSOSessionMaxLifespanRememberMe > userMax {
		userMax, basis = s.SSOSessionMaxLifespanRememberMe, BasisSSOMaxRememberMe
	}
	secs := userMax
	if client := attrSeconds(r.Client, clientSessionMaxAttr); client > 0 {
		secs = client
	} else if s.ClientSessionMaxLifespan > 0 {
		secs = s.ClientSessionMaxLifespan
	}
	if secs < userMax {
		return at(secs, BasisClientSessionMax)
	}
	return at(userMax, basis)
}

func attrSeconds(attrs map[string]string, key string) int {
	n, err := strconv.Atoi(attrs[key])
	if err != nil {
		return 0
	}
	return n
}

func orDefault(v, def int) int {
	if v <= 0 {
		return def
	}
	return v
}
