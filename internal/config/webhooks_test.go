package config

import (
	"net/netip"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The Standard Webhooks specification's example secret (24 bytes) and another one.
const (
	specSecret  = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	otherSecret = "whsec_c2Vjb25kLXNlY3JldC0wMTIzNDU2Nzg5YWJjZGVm"
)

func TestWebhookSubscribers(t *testing.T) {
	c, err := Load(MapEnv(with(map[string]string{"AUTH_MANAGER_WEBHOOKS": `[
		{"name": "billing", "url": "https://billing.example.com/hooks", "secrets": ["` + specSecret + `", "` + otherSecret + `"],
		 "event_types": ["token.invalid", "token.expiring"]},
		{"name": "local", "url": "http://127.0.0.1:9000/h", "secret": "` + specSecret + `", "allow_private_network": true}]`})), "dev")
	require.NoError(t, err)
	subs := c.Events.Webhooks.Subscribers
	require.Len(t, subs, 2)
	assert.Equal(t, "billing", subs[0].Name)
	assert.Len(t, subs[0].Secrets, 2)
	assert.Len(t, subs[0].Secrets[0], 24)
	assert.Equal(t, []string{"token.expiring", "token.invalid"}, subs[0].Types)
	assert.Empty(t, subs[1].Types, "every type")
	assert.True(t, subs[1].AllowPrivate)
	assert.NotContains(t, subs[0].String(), "MfKQ", "a subscriber names itself without secrets")
	assert.Equal(t, "billing (https://billing.example.com)", subs[0].String(), "nor its URL's path, which may hold a credential")
	assert.Equal(t, 15, c.Events.Webhooks.MaxAttempts)
}

func TestWebhookSubscribersRefused(t *testing.T) {
	one := func(fields string) string { return `[{"name": "s", ` + fields + `}]` }
	ok := `"secrets": ["` + specSecret + `"]`
	cases := map[string]struct{ raw, want string }{
		"not JSON":           {`{`, "not a JSON array"},
		"unknown field":      {one(`"url": "https://x.example", "secrte": "x", ` + ok), `unknown field "secrte"`},
		"bad name":           {`[{"name": "a b", "url": "https://x.example", ` + ok + `}]`, "name must be"},
		"same name":          {`[{"name": "s", "url": "https://x.example", ` + ok + `}, {"name": "s", "url": "https://y.example", ` + ok + `}]`, "used twice"},
		"no URL":             {one(ok), "absolute http(s) URL"},
		"ftp URL":            {one(`"url": "ftp://x.example", ` + ok), "absolute http(s) URL"},
		"credentials":        {one(`"url": "https://u:p@x.example", ` + ok), "credentials"},
		"loopback":           {one(`"url": "http://127.0.0.1:8080/h", ` + ok), "127.0.0.1, a loopback"},
		"cloud metadata":     {one(`"url": "http://169.254.169.254/latest", ` + ok), "169.254.169.254"},
		"IPv6 loopback":      {one(`"url": "http://[::1]/h", ` + ok), "::1"},
		"mapped loopback":    {one(`"url": "http://[::ffff:127.0.0.1]/h", ` + ok), "127.0.0.1"},
		"private":            {one(`"url": "http://10.1.2.3/h", ` + ok), "10.1.2.3"},
		"localhost":          {one(`"url": "http://localhost:9000/h", ` + ok), "localhost"},
		"no secret":          {one(`"url": "https://x.example"`), "one or two secrets"},
		"three secrets":      {one(`"url": "https://x.example", "secrets": ["` + specSecret + `", "` + specSecret + `", "` + specSecret + `"]`), "one or two secrets"},
		"no whsec_ prefix":   {one(`"url": "https://x.example", "secrets": ["MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"]`), "must start with whsec_"},
		"not base64":         {one(`"url": "https://x.example", "secrets": ["whsec_!!!notbase64-but-secret"]`), "is not whsec_ and base64"},
		"too short":          {one(`"url": "https://x.example", "secrets": ["whsec_c2hvcnQ="]`), "24 to 64 bytes"},
		"unknown event type": {one(`"url": "https://x.example", "event_types": ["token.stolen"], ` + ok), `unknown event type "token.stolen"`},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := Load(MapEnv(with(map[string]string{"AUTH_MANAGER_WEBHOOKS": tc.raw})), "dev")
			require.Error(t, err)
			assert.Contains(t, err.Error(), "AUTH_MANAGER_WEBHOOKS")
			assert.Contains(t, err.Error(), tc.want)
			for _, secret := range []string{"MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "notbase64-but-secret", "c2hvcnQ", "u:p"} {
				assert.NotContains(t, err.Error(), secret, "a problem never quotes a secret")
			}
		})
	}
}

func TestWebhooksFromAFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "webhooks.json")
	require.NoError(t, os.WriteFile(path, []byte(`[{"name": "f", "url": "https://f.example/h", "secrets": ["`+specSecret+`"]}]`+"\n"), 0o600))
	c, err := Load(MapEnv(with(map[string]string{"AUTH_MANAGER_WEBHOOKS_FILE": path})), "dev")
	require.NoError(t, err)
	require.Len(t, c.Events.Webhooks.Subscribers, 1)
	assert.Equal(t, "f", c.Events.Webhooks.Subscribers[0].Name)
}

func TestPublicAddr(t *testing.T) {
	for addr, public := range map[string]bool{
		"93.184.215.14": true, "2606:2800:21f:cb07:6820:80da:af6b:8b2c": true,
		"127.0.0.1": false, "::1": false, "169.254.169.254": false, "fe80::1": false, "10.0.0.1": false,
		"172.16.5.4": false, "192.168.1.1": false, "100.64.0.1": false, "0.0.0.0": false, "::": false,
		"fd00:ec2::254": false, "::ffff:169.254.169.254": false, "64:ff9b::a9fe:a9fe": false, "224.0.0.1": false,
		"255.255.255.255": false, "2002:a9fe:a9fe::1": false,
	} {
		assert.Equal(t, public, PublicAddr(netip.MustParseAddr(addr)), addr)
	}
}
