package client_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/auth-manager/auth-manager/client"
)

// A background job of the "orders" service acts for a user who is offline: it gets
// the user's access token from auth-manager with its own client-credentials token, and
// calls another service with it. The settings come from the environment, as in a
// service's main; TestExample runs this against the local stack.
func Example() {
	ctx := context.Background()

	// The calling service's own token: Keycloak's client credentials grant.
	caller := (&clientcredentials.Config{
		ClientID:     os.Getenv("ORDERS_CLIENT_ID"),
		ClientSecret: os.Getenv("ORDERS_CLIENT_SECRET"),
		TokenURL:     os.Getenv("KEYCLOAK_TOKEN_URL"),
	}).TokenSource(ctx)

	am, err := client.New(os.Getenv("AUTH_MANAGER_URL"), caller, client.WithUserAgent("orders-worker"))
	if err != nil {
		fmt.Println("configuration:", err)
		return
	}

	// The user's access tokens, from the id under which the user's token was stored.
	ts := am.TokenSource(ctx, os.Getenv("USER_TOKEN_ID"), client.WithMinTTL(time.Minute))
	tok, err := ts.Token()
	switch {
	case errors.Is(err, client.ErrNotFound):
		fmt.Println("no such stored token: the user must sign in again")
		return
	case errors.Is(err, client.ErrKeycloak):
		fmt.Println("Keycloak refused the stored token: the user must sign in again")
		return
	case err != nil:
		fmt.Println("auth-manager:", err)
		return
	}
	fmt.Println("token type:", tok.TokenType)

	// Every request of this client carries the user's current access token.
	httpClient := oauth2.NewClient(ctx, ts)
	_ = httpClient // e.g. httpClient.Get("https://billing.internal/v1/invoices")
}

// A service that needs the user's access token once, for a token it passes on.
func ExampleClient_AccessToken() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	am, err := client.New("http://auth-manager:8000", oauth2.StaticTokenSource(&oauth2.Token{AccessToken: "service token"}))
	if err != nil {
		fmt.Println(err)
		return
	}
	a, err := am.AccessToken(ctx, "0b7f6c1e-3f1a-4d3c-9d4e-2a1b3c4d5e6f", client.WithMinTTL(2*time.Minute))
	var e *client.Error
	if errors.As(err, &e) {
		fmt.Println(e.Code, e.RequestID)
		return
	}
	fmt.Println(a.ExpiresIn)
}
