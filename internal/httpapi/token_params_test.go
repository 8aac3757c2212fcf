package httpapi

import (
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/auth-manager/auth-manager/internal/tokens"
)

func TestAccessTokenParams(t *testing.T) {
	const id = "0e7c5b43-5a3f-4d5c-9f67-4d1e1c2b3a4f"
	for _, tc := range []struct {
		raw     string
		ttl     time.Duration
		n       tokens.Narrowing
		invalid string // the field of the 422, or "" when the query is valid
	}{
		{raw: "id=" + id, ttl: -1},
		{raw: "id=0E7C5B43-5A3F-4D5C-9F67-4D1E1C2B3A4F", ttl: -1},
		{raw: "id=0e7c5b435a3f4d5c9f674d1e1c2b3a4f", ttl: -1},
		{raw: "id=%30e7c5b43-5a3f-4d5c-9f67-4d1e1c2b3a4f", ttl: -1},
		{raw: "id=" + id + "&min_ttl=30", ttl: 30 * time.Second},
		{raw: "id=" + id + "&min_ttl=0", ttl: 0},
		{raw: "id=" + id + "&audience=orders-api&scope=read+write", ttl: -1, n: tokens.Narrowing{Audience: "orders-api", Scope: "read write"}},
		{raw: "", invalid: "query.id"},
		{raw: "id=", invalid: "query.id"},
		{raw: "id=x", invalid: "query.id"},
		{raw: "ID=" + id, invalid: "query.id"},
		{raw: "id=" + id + "&min_ttl=3601", invalid: "query.min_ttl"},
		{raw: "id=" + id + "&min_ttl=-1", invalid: "query.min_ttl"},
		{raw: "id=" + id + "&audience=a+b", invalid: "query.audience"},
		{raw: "id=" + id + "&scope=read", invalid: "query.scope"},
		{raw: "id=" + id + "&audience=orders-api&scope=read++write", invalid: "query.scope"},
	} {
		q, _ := url.ParseQuery(tc.raw)
		gotID, ttl, n, err := accessTokenParams(q)
		if tc.invalid != "" {
			var ae *apiError
			if assert.ErrorAs(t, err, &ae, tc.raw) {
				assert.Contains(t, ae.Details, tc.invalid, tc.raw)
			}
			continue
		}
		if assert.NoError(t, err, tc.raw) {
			assert.Equal(t, id, gotID, tc.raw)
			assert.Equal(t, tc.ttl, ttl, tc.raw)
			assert.Equal(t, tc.n, n, tc.raw)
		}
	}
}

// TestClientIDValidatorAgreesWithItsPattern: the loop that replaced a regexp (whose
// counted repetition cost ~300 KB of heap) accepts exactly what the pattern did.
func TestClientIDValidatorAgreesWithItsPattern(t *testing.T) {
	clientID := regexp.MustCompile(`^[\x21-\x7E]{1,255}$`)
	inputs := []string{"", "a", "orders-api", "https://x.example/app", "a b", "é", "\x7f", "~", strings.Repeat("a", 128),
		strings.Repeat("a", 129), strings.Repeat("!", 255), strings.Repeat("!", 256), "3f1c.9-_~", "x\n"}
	for i := range 256 {
		inputs = append(inputs, string(rune(i)), "ab"+string([]byte{byte(i)}))
	}
	for _, s := range inputs {
		assert.Equal(t, clientID.MatchString(s), validClientID(s), "%q", s)
	}
}
