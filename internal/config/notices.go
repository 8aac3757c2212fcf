package config

import (
	"log/slog"
	"net"
	"net/url"
	"strings"
)

// Notice is something about a valid configuration that an operator should read at
// start: a weakness it allows (WARN) or what a default means (INFO).
type Notice struct {
	Level   slog.Level
	Var     string
	Message string
}

// Notices lists what the service says about its configuration when it starts.
func (c Config) Notices() []Notice {
	var out []Notice
	for _, u := range []struct{ key, url, what string }{
		{"KEYCLOAK_ISSUER", c.Keycloak.BaseURL, "the client secret and users' tokens"},
		{"KEYCLOAK_URL", c.Keycloak.URL, "the client secret and users' tokens"},
		{"KEYCLOAK_CONSENT_REDIRECT_URI", c.Keycloak.ConsentRedirectURI, "the consent's authorization code"},
		{"KEYCLOAK_AFTER_CONSENT_REDIRECT_URI", c.Keycloak.AfterConsentRedirectURI, "the browser's return after consent"},
	} {
		if plainRemote(u.url) {
			out = append(out, Notice{slog.LevelWarn, u.key,
				"plain http:// to a host that is not loopback: " + u.what + " cross the network unencrypted; use https://"})
		}
	}
	if len(c.Auth.AllowedClients) == 0 {
		out = append(out, Notice{slog.LevelInfo, "AUTH_MANAGER_ALLOWED_CLIENTS",
			"AUTH_MANAGER_ALLOWED_CLIENTS is empty: every client of the realm may call, with a token issued to it (azp); list the clients to restrict"})
	}
	if len(c.Auth.ServiceClients) == 0 {
		out = append(out, Notice{slog.LevelInfo, "AUTH_MANAGER_SERVICE_CLIENTS",
			"no service callers: AUTH_MANAGER_SERVICE_CLIENTS is empty, so every caller acts for itself only"})
	}
	return out
}

// plainRemote reports whether raw is an http:// URL whose host is not loopback.
func plainRemote(raw string) bool {
	u, err := url.Parse(raw)
	if err != nil || !strings.EqualFold(u.Scheme, "http") {
		return false
	}
	host := strings.ToLower(u.Hostname())
	if host == "localhost" || strings.HasSuffix(host, ".localhost") {
		return false
	}
	ip := net.ParseIP(host)
	return ip == nil || !ip.IsLoopback()
}
