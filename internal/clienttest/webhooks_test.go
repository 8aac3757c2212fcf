package clienttest

import (
	"context"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/auth-manager/auth-manager/client"
	"github.com/auth-manager/auth-manager/internal/config"
	"github.com/auth-manager/auth-manager/internal/testenv"
)

// TestWebhookHandlerAndEvents: a service whose webhook endpoint is the client's
// WebhookVerifier.Handler receives, verified and decoded, the token.deleted of a token
// deleted through the client, the same event client.Events pages to.
func TestWebhookHandlerAndEvents(t *testing.T) {
	testenv.Integration(t)
	v, err := client.NewWebhookVerifier(testenv.WebhookSecret)
	require.NoError(t, err)
	var mu sync.Mutex
	var got []client.Event
	hooks := httptest.NewServer(v.Handler(func(_ context.Context, e client.Event) error {
		mu.Lock()
		defer mu.Unlock()
		got = append(got, e)
		return nil
	}))
	defer hooks.Close()
	cfg := serviceCallers(testenv.NewServiceConfig(t))
	cfg.Events.Webhooks = config.Webhooks{Timeout: 2 * time.Second, MaxAttempts: 5, Backoff: 100 * time.Millisecond,
		BackoffMax: time.Second, Concurrency: 4, Subscribers: []config.Subscriber{{Name: "app", URL: hooks.URL,
			Secrets: [][]byte{testenv.WebhookKey()}, AllowPrivate: true}}}
	s := storeAlice(t, &stack{svc: testenv.StartService(t, cfg), realm: testenv.Realm}, testenv.Login(t, testenv.Alice))
	am, _ := s.serviceClient(t)

	_, err = am.DeleteToken(t.Context(), s.aliceID)
	require.NoError(t, err)
	require.Eventually(t, func() bool { mu.Lock(); defer mu.Unlock(); return len(got) == 1 }, 10*time.Second, 20*time.Millisecond)
	e := got[0]
	assert.Equal(t, client.EventTokenDeleted, e.Type)
	assert.Equal(t, "service", e.Cause)
	require.NotNil(t, e.PersistentTokenID)
	assert.Equal(t, s.aliceID, *e.PersistentTokenID)
	assert.Equal(t, "refresh", *e.TokenType)

	page, err := am.Events(t.Context(), "", 0)
	require.NoError(t, err)
	require.Len(t, page.Events, 1)
	assert.Equal(t, e, page.Events[0], "the pushed event is the pulled one")
	next, err := am.Events(t.Context(), page.Next, 10)
	require.NoError(t, err)
	assert.Empty(t, next.Events)
	assert.Equal(t, page.Next, next.Next)
}
