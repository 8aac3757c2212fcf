package events_test

import (
	"encoding/base64"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/auth-manager/auth-manager/internal/events"
)

func secret(t *testing.T, whsec string) []byte {
	t.Helper()
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(whsec, "whsec_"))
	require.NoError(t, err)
	return key
}

// TestSignSpecVector: the Standard Webhooks specification's example message signs to
// its published signature.
func TestSignSpecVector(t *testing.T) {
	key := secret(t, "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
	got := events.Sign([][]byte{key}, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, []byte(`{"test": 2432232314}`))
	assert.Equal(t, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=", got)
}

// TestSignVerifiesWithTheReferenceLibrary: the reference Go implementation verifies a
// signature made now, with either secret of a rotation, and refuses a changed body.
func TestSignVerifiesWithTheReferenceLibrary(t *testing.T) {
	oldKey := secret(t, "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
	newKey := secret(t, "whsec_c2Vjb25kLXNlY3JldC0wMTIzNDU2Nzg5YWJjZGVm")
	body := []byte(`{"id":"5f0c2a9e-8d4b-4c1e-9a7f-3b2c1d0e9f8a","type":"token.invalid"}`)
	ts := time.Now().Unix()
	h := http.Header{}
	h.Set(events.HeaderID, "5f0c2a9e-8d4b-4c1e-9a7f-3b2c1d0e9f8a")
	h.Set(events.HeaderTimestamp, strconv.FormatInt(ts, 10))
	h.Set(events.HeaderSignature, events.Sign([][]byte{oldKey, newKey}, h.Get(events.HeaderID), ts, body))
	assert.Len(t, strings.Fields(h.Get(events.HeaderSignature)), 2, "one signature per secret")
	for name, key := range map[string][]byte{"old secret": oldKey, "new secret": newKey} {
		wh, err := standardwebhooks.NewWebhookRaw(key)
		require.NoError(t, err)
		assert.NoError(t, wh.Verify(body, h), name)
		assert.Error(t, wh.Verify([]byte(`{"type":"token.recovered"}`), h), name+": another body")
	}
	stranger, err := standardwebhooks.NewWebhookRaw([]byte("a secret nobody configured, 32 by"))
	require.NoError(t, err)
	assert.Error(t, stranger.Verify(body, h))
}
