package config

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"
)

// Webhooks configures the Standard Webhooks deliveries of token-health events.
type Webhooks struct {
	Subscribers []Subscriber
	Timeout     time.Duration // one delivery request, connection included
	MaxAttempts int           // then the delivery is dead
	Backoff     time.Duration // wait after the first failure; doubled after each next, with jitter
	BackoffMax  time.Duration // longest wait between two attempts
	Concurrency int           // deliveries in flight per replica
}

// Subscriber is one receiver of webhooks, as the operator configured it.
type Subscriber struct {
	Name string
	URL  string
	// Secrets sign each delivery, every one of them (Standard Webhooks' whsec_ form,
	// decoded): two during a rotation, so that the receiver verifies with either.
	Secrets [][]byte
	// Types are the event types it receives; empty: every type.
	Types []string
	// AllowPrivate lets its URL resolve to a loopback, link-local, private or otherwise
	// non-public address, which is refused otherwise (SSRF).
	AllowPrivate bool
}

// String names the subscriber without its secrets: its name and its URL's scheme and
// host (a receiver's path or query may hold its credential).
func (s Subscriber) String() string {
	u, err := url.Parse(s.URL)
	if err != nil || u.Host == "" {
		return s.Name
	}
	return s.Name + " (" + u.Scheme + "://" + u.Host + ")"
}

// EventTypes are the token-health event types a subscriber may ask for.
var EventTypes = []string{"token.invalid", "token.refresh_failing", "token.recovered", "token.expiring", "token.deleted", "session.ended"}

// subscriberJSON is one entry of AUTH_MANAGER_WEBHOOKS.
type subscriberJSON struct {
	Name         string   `json:"name"`
	URL          string   `json:"url"`
	Secret       string   `json:"secret"`
	Secrets      []string `json:"secrets"`
	EventTypes   []string `json:"event_types"`
	AllowPrivate bool     `json:"allow_private_network"`
}

var subscriberName = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)

const webhooksVar = "AUTH_MANAGER_WEBHOOKS"

// parseWebhooks reads AUTH_MANAGER_WEBHOOKS: a JSON array of subscribers. No problem it
// reports quotes a secret.
func parseWebhooks(raw string) ([]Subscriber, error) {
	if strings.TrimSpace(raw) == "" {
		return nil, nil
	}
	dec := json.NewDecoder(bytes.NewReader([]byte(raw)))
	dec.DisallowUnknownFields()
	var list []subscriberJSON
	if err := dec.Decode(&list); err != nil {
		return nil, invalid(webhooksVar, "not a JSON array of subscribers {name, url, secrets, event_types, allow_private_network}: "+jsonProblem(err))
	}
	var p problems
	seen := map[string]bool{}
	out := make([]Subscriber, 0, len(list))
	for i, j := range list {
		where := fmt.Sprintf("subscriber %d", i+1)
		if j.Name != "" {
			where = fmt.Sprintf("subscriber %q", j.Name)
		}
		bad := func(why string) { p.add(invalid(webhooksVar, where+": "+why)) }
		if !subscriberName.MatchString(j.Name) {
			bad("name must be 1-64 letters, digits, '.', '_' or '-'")
		} else if seen[j.Name] {
			bad("name is used twice")
		}
		seen[j.Name] = true
		if why := checkTarget(j.URL, j.AllowPrivate); why != "" {
			bad(why)
		}
		secrets := j.Secrets
		if j.Secret != "" {
			secrets = append([]string{j.Secret}, secrets...)
		}
		s := Subscriber{Name: j.Name, URL: j.URL, AllowPrivate: j.AllowPrivate}
		if len(secrets) == 0 || len(secrets) > 2 {
			bad("needs one or two secrets (two while rotating)")
		}
		for k, sec := range secrets {
			key, err := webhookSecret(sec)
			if err != nil {
				bad(fmt.Sprintf("secret %d %s", k+1, err.Error()))
				continue
			}
			s.Secrets = append(s.Secrets, key)
		}
		for _, typ := range j.EventTypes {
			if !slices.Contains(EventTypes, typ) {
				bad(fmt.Sprintf("unknown event type %q (known: %s)", typ, strings.Join(EventTypes, ", ")))
			}
		}
		s.Types = slices.Compact(slices.Sorted(slices.Values(j.EventTypes)))
		out = append(out, s)
	}
	if err := p.err(); err != nil {
		return nil, err
	}
	return out, nil
}

// jsonProblem describes a JSON error without quoting the input (it may hold secrets).
func jsonProblem(err error) string {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		return fmt.Sprintf("syntax error at byte %d", se.Offset)
	case errors.As(err, &te):
		return fmt.Sprintf("%s must be a %s", te.Field, te.Type)
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		return strings.TrimPrefix(err.Error(), "json: ")
	}
	return "malformed"
}

// webhookSecret decodes a Standard Webhooks secret: "whsec_" and the base64 of 24 to
// 64 random bytes.
func webhookSecret(s string) ([]byte, error) {
	b64, ok := strings.CutPrefix(strings.TrimSpace(s), "whsec_")
	if !ok {
		return nil, fmt.Errorf("must start with whsec_")
	}
	key, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		return nil, fmt.Errorf("is not whsec_ and base64")
	}
	if len(key) < 24 || len(key) > 64 {
		return nil, fmt.Errorf("must hold 24 to 64 bytes (it holds %d)", len(key))
	}
	return key, nil
}

// checkTarget says what is wrong with a subscriber URL, or "". A host that is an IP
// address (or localhost) outside the public internet needs allowPrivate; names are
// checked again at every connection, against the address they resolve to.
func checkTarget(raw string, allowPrivate bool) string {
	u, err := url.Parse(raw)
	switch {
	case err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "":
		return "url must be an absolute http(s) URL"
	case u.User != nil:
		return "url must not carry credentials (user:password@): they would reach logs"
	case u.Fragment != "":
		return "url must not have a fragment"
	}
	if allowPrivate {
		return ""
	}
	host := u.Hostname()
	if strings.EqualFold(host, "localhost") || strings.HasSuffix(strings.ToLower(host), ".localhost") {
		return "url points at localhost; set allow_private_network to allow it"
	}
	if ip, err := netip.ParseAddr(host); err == nil && !PublicAddr(ip) {
		return "url points at " + ip.String() + ", a loopback, link-local, private or reserved address; set allow_private_network to allow it"
	}
	return ""
}

// PublicAddr reports whether ip is an address a webhook may reach without
// allow_private_network: not loopback, link-local (cloud metadata at 169.254.169.254
// among them), private, unique-local, CGNAT, multicast, unspecified or otherwise reserved.
func PublicAddr(ip netip.Addr) bool {
	ip = ip.Unmap()
	if !ip.IsValid() || ip.IsLoopback() || ip.IsLinkLocalUnicast() || ip.IsLinkLocalMulticast() || ip.IsPrivate() ||
		ip.IsMulticast() || ip.IsUnspecified() || ip.IsInterfaceLocalMulticast() {
		return false
	}
	for _, p := range reservedPrefixes {
		if p.Contains(ip) {
			return false
		}
	}
	return true
}

// reservedPrefixes are special-purpose ranges the netip predicates do not cover.
var reservedPrefixes = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),      // "this network"
	netip.MustParsePrefix("100.64.0.0/10"),  // carrier-grade NAT
	netip.MustParsePrefix("192.0.0.0/24"),   // IETF protocol assignments
	netip.MustParsePrefix("198.18.0.0/15"),  // benchmarking
	netip.MustParsePrefix("240.0.0.0/4"),    // reserved, broadcast
	netip.MustParsePrefix("64:ff9b::/96"),   // NAT64: embeds any IPv4 address
	netip.MustParsePrefix("64:ff9b:1::/48"), // local NAT64
	netip.MustParsePrefix("2001:db8::/32"),  // documentation
	netip.MustParsePrefix("fec0::/10"),      // deprecated site-local
	netip.MustParsePrefix("::ffff:0:0/96"),  // IPv4-mapped (after Unmap: never public as such)
	netip.MustParsePrefix("2002::/16"),      // 6to4: embeds any IPv4 address
	netip.MustParsePrefix("2001::/32"),      // Teredo: embeds any IPv4 address
}

func (e env) webhooks() (Webhooks, error) {
	var p problems
	subs, err := parseWebhooks(e.Webhooks.Reveal())
	p.add(err)
	p.add(within("AUTH_MANAGER_WEBHOOKS_TIMEOUT", e.WebhooksTimeout, time.Second, 2*time.Minute))
	p.add(within("AUTH_MANAGER_WEBHOOKS_BACKOFF", e.WebhooksBackoff, 10*time.Millisecond, time.Hour))
	p.add(within("AUTH_MANAGER_WEBHOOKS_BACKOFF_MAX", e.WebhooksBackoffMax, 10*time.Millisecond, 24*time.Hour))
	if e.WebhooksBackoffMax < e.WebhooksBackoff {
		p.add(invalid("AUTH_MANAGER_WEBHOOKS_BACKOFF_MAX", "must not be shorter than AUTH_MANAGER_WEBHOOKS_BACKOFF"))
	}
	if e.WebhooksMaxAttempts < 1 || e.WebhooksMaxAttempts > 100 {
		p.add(invalid("AUTH_MANAGER_WEBHOOKS_MAX_ATTEMPTS", "must be between 1 and 100"))
	}
	if e.WebhooksConcurrency < 1 || e.WebhooksConcurrency > 256 {
		p.add(invalid("AUTH_MANAGER_WEBHOOKS_CONCURRENCY", "must be between 1 and 256"))
	}
	if err := p.err(); err != nil {
		return Webhooks{}, err
	}
	return Webhooks{Subscribers: subs, Timeout: time.Duration(e.WebhooksTimeout), MaxAttempts: e.WebhooksMaxAttempts,
		Backoff: time.Duration(e.WebhooksBackoff), BackoffMax: time.Duration(e.WebhooksBackoffMax), Concurrency: e.WebhooksConcurrency}, nil
}
