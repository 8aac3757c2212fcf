package httpapi

import (
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/auth-manager/auth-manager/internal/tokens"
)

// slowAccessTokenParams is accessTokenParams without its fast path: a query that
// starts with '&' never takes it, and url.ParseQuery skips the empty segment.
func slowAccessTokenParams(raw string) (string, time.Duration, tokens.Narrowing, error) {
	return accessTokenParams("&" + raw)
}

func checkAccessTokenParams(t *testing.T, raw string) {
	id, ttl, n, err := accessTokenParams(raw)
	wid, wttl, wn, werr := slowAccessTokenParams(raw)
	assert.Equal(t, werr, err, raw)
	if err == nil {
		assert.Equal(t, wid, id, raw)
		assert.Equal(t, wttl, ttl, raw)
		assert.Equal(t, wn, n, raw)
	}
}

func TestAccessTokenParamsFastPathAgrees(t *testing.T) {
	for _, raw := range []string{
		"id=0e7c5b43-5a3f-4d5c-9f67-4d1e1c2b3a4f",
		"id=0E7C5B43-5A3F-4D5C-9F67-4D1E1C2B3A4F",
		"id=0e7c5b435a3f4d5c9f674d1e1c2b3a4f",
		"id=", "id=x", "", "ID=0e7c5b43-5a3f-4d5c-9f67-4d1e1c2b3a4f",
		"id=0e7c5b43-5a3f-4d5c-9f67-4d1e1c2b3a4f&min_ttl=30",
		"id=0e7c5b43-5a3f-4d5c-9f67-4d1e1c2b3a4f&audience=orders-api",
		"id=%30e7c5b43-5a3f-4d5c-9f67-4d1e1c2b3a4f",
		"id=0e7c5b43-5a3f-4d5c-9f67-4d1e1c2b3a4f+",
		"id=0e7c5b43-5a3f-4d5c-9f67-4d1e1c2b3a4f;x=1",
		"id=0e7c5b43-5a3f-4d5c-9f67-4d1e1c2b3a4f&id=0e7c5b43-5a3f-4d5c-9f67-4d1e1c2b3a40",
		"id=%zz",
	} {
		checkAccessTokenParams(t, raw)
	}
	id, ttl, _, err := accessTokenParams("id=0e7c5b43-5a3f-4d5c-9f67-4d1e1c2b3a4f&min_ttl=30")
	assert.NoError(t, err)
	assert.Equal(t, "0e7c5b43-5a3f-4d5c-9f67-4d1e1c2b3a4f", id)
	assert.Equal(t, 30*time.Second, ttl)
}

func FuzzAccessTokenParams(f *testing.F) {
	f.Add("id=0e7c5b43-5a3f-4d5c-9f67-4d1e1c2b3a4f")
	f.Add("id=%41&min_ttl=1")
	f.Fuzz(checkAccessTokenParams)
}

func TestAccessTokenParamsAllocations(t *testing.T) {
	allocs := testing.AllocsPerRun(100, func() {
		_, _, _, _ = accessTokenParams("id=0e7c5b43-5a3f-4d5c-9f67-4d1e1c2b3a4f")
	})
	assert.Zero(t, allocs, "the common query is read without allocating")
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
