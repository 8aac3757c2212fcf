package client_test

import (
	"context"
	"log"
	"net/http"
	"os"

	"github.com/auth-manager/auth-manager/client"
)

// A service subscribed to auth-manager's webhooks learns when a user's stored token
// dies, recovers or is about to expire, and asks the user to reconnect.
func ExampleWebhookVerifier_Handler() {
	// The subscriber's secret as the operator configured it (whsec_…); two during a
	// rotation.
	v, err := client.NewWebhookVerifier(os.Getenv("AUTH_MANAGER_WEBHOOK_SECRET"))
	if err != nil {
		log.Fatal(err)
	}
	http.Handle("/hooks/auth-manager", v.Handler(func(ctx context.Context, e client.Event) error {
		// Delivered at least once: remember e.ID to handle each event once.
		switch e.Type {
		case client.EventTokenInvalid, client.EventSessionEnded:
			log.Printf("user %s must reconnect (stored token %v: %s)", e.UserID, *e.PersistentTokenID, e.Cause)
		case client.EventTokenExpiring:
			log.Printf("user %s's grant ends at %v", e.UserID, e.Details["expires_at"])
		}
		return nil // 204; an error answers 500 and auth-manager delivers the event again later
	}))
}
