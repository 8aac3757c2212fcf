package client_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"

	"github.com/auth-manager/auth-manager/client"
)

// A backend serving the user's frontend stores the user's refresh token with the
// user's own access token, taken from the user's request: AsUser makes the call as
// the user. The client needs no token of its own for that (nil caller).
func ExampleClient_AsUser() {
	// A stand-in for auth-manager that reports whose token stored the refresh token.
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Println("auth-manager got", r.Method, r.URL.Path, "with", r.Header.Get("Authorization"))
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"data":{"persistent_token_id":"0b7f6c1e-3f1a-4d3c-9d4e-2a1b3c4d5e6f"}}`)
	}))
	defer srv.Close()

	am, err := client.New(srv.URL, nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	// In an http.Handler: the bearer token of the user's request, and the refresh
	// token the frontend got at sign-in.
	userAccessToken, refreshToken := "alice-access-token", "alice-refresh-token"
	id, err := am.AsUser(userAccessToken).StoreRefreshToken(context.Background(), refreshToken)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("stored as", id)
	// Output:
	// auth-manager got POST /v1/refresh-token with Bearer alice-access-token
	// stored as 0b7f6c1e-3f1a-4d3c-9d4e-2a1b3c4d5e6f
}

// Every failed call is an *Error carrying auth-manager's envelope. errors.Is answers
// the usual questions; CodeOf (or errors.As and Error.Code) tells every code apart.
func ExampleCodeOf() {
	// A stand-in for auth-manager that has no stored token with any id.
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("X-Request-ID", "9f3c1a2b")
		w.WriteHeader(http.StatusNotFound)
		io.WriteString(w, `{"error":"Token not found","code":"token_not_found","reason":null,"details":null}`)
	}))
	defer srv.Close()

	am, _ := client.New(srv.URL, nil)
	_, err := am.AsUser("alice-access-token").DeleteToken(context.Background(), "0b7f6c1e-3f1a-4d3c-9d4e-2a1b3c4d5e6f")

	fmt.Println(errors.Is(err, client.ErrNotFound))
	switch client.CodeOf(err) {
	case client.CodeTokenNotFound:
		fmt.Println("already gone, or never this user's")
	case client.CodeTooManyTokens:
		fmt.Println("the user must delete a stored token first")
	}
	var e *client.Error
	if errors.As(err, &e) {
		fmt.Println(e.Status, e.Code, e.RequestID)
	}
	fmt.Println(err)
	// Output:
	// true
	// already gone, or never this user's
	// 404 token_not_found 9f3c1a2b
	// auth-manager: 404 token_not_found: Token not found (request 9f3c1a2b)
}

// A token narrowed to one downstream service: auth-manager exchanges the user's token
// at Keycloak for one whose aud is only that service, and the client checks that it is.
func ExampleWithAudience() {
	// A stand-in for auth-manager: the narrowed token's payload is {"aud":"orders-api"}.
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Println("audience asked:", r.URL.Query().Get("audience"))
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"data":{"access_token":"eyJhbGciOiJSUzI1NiJ9.eyJhdWQiOiJvcmRlcnMtYXBpIn0.c2ln","expires_in":300}}`)
	}))
	defer srv.Close()

	am, _ := client.New(srv.URL, nil)
	service := am.AsUser("service-token") // in a real service: client.New's caller token source
	a, err := service.AccessToken(context.Background(), "0b7f6c1e-3f1a-4d3c-9d4e-2a1b3c4d5e6f",
		client.WithAudience("orders-api"))
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("expires in", a.ExpiresIn, "s")
	// Output:
	// audience asked: orders-api
	// expires in 300 s
}
