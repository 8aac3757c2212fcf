package client_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/auth-manager/auth-manager/client"
)

// A background job of the "orders" service acts for a user who is offline: with its
// own client-credentials token it gets the user's access tokens from auth-manager, and
// calls another service as the user. standIn plays Keycloak, auth-manager and that
// other service, so that the example runs anywhere.
func Example() {
	ctx := context.Background()
	srv := standIn()
	defer srv.Close()

	// The calling service's own token: Keycloak's client credentials grant.
	caller := (&clientcredentials.Config{
		ClientID:     "orders-worker",
		ClientSecret: "orders-worker-secret",
		TokenURL:     srv.URL + "/realms/main/protocol/openid-connect/token",
	}).TokenSource(ctx)

	am, err := client.New(srv.URL, caller, client.WithUserAgent("orders-worker"))
	if err != nil {
		fmt.Println("configuration:", err)
		return
	}

	// The user's access tokens, from the id under which the user's token was stored.
	ts := am.TokenSource(ctx, "0b7f6c1e-3f1a-4d3c-9d4e-2a1b3c4d5e6f", client.WithMinTTL(time.Minute))

	// Every request of this HTTP client carries the user's current access token.
	billing := oauth2.NewClient(ctx, ts)
	for range 2 {
		resp, err := billing.Get(srv.URL + "/billing/invoices")
		switch {
		case errors.Is(err, client.ErrNotFound):
			fmt.Println("no such stored token: the user must sign in again")
			return
		case client.CodeOf(err) == client.CodeKeycloakError:
			fmt.Println("Keycloak refused the stored token: the user must sign in again")
			return
		case err != nil:
			fmt.Println("auth-manager:", err)
			return
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		fmt.Printf("%s", body)
	}
	fmt.Println("access tokens asked of auth-manager:", accessTokenCalls)
	// Output:
	// billing saw: Bearer alice-access-token
	// billing saw: Bearer alice-access-token
	// access tokens asked of auth-manager: 1
}

var accessTokenCalls int

// standIn answers as Keycloak's token endpoint, auth-manager's POST /v1/access-token
// and a billing service that reports the bearer token it got.
func standIn() *httptest.Server {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /realms/main/protocol/openid-connect/token", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"access_token":"orders-worker-token","token_type":"Bearer","expires_in":300}`)
	})
	mux.HandleFunc("POST /v1/access-token", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if r.Header.Get("Authorization") != "Bearer orders-worker-token" {
			w.WriteHeader(http.StatusUnauthorized)
			fmt.Fprint(w, `{"error":"Invalid or missing bearer token","code":"unauthorized","reason":null,"details":null}`)
			return
		}
		accessTokenCalls++
		fmt.Fprint(w, `{"data":{"access_token":"alice-access-token","expires_in":300,"token_type":"Bearer"}}`)
	})
	mux.HandleFunc("GET /billing/invoices", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "billing saw: %s\n", r.Header.Get("Authorization"))
	})
	return httptest.NewServer(mux)
}
