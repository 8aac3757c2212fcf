// Package client is the Go client of auth-manager, for the services that call it.
//
// auth-manager keeps users' Keycloak refresh and offline tokens and hands out access
// tokens minted from them, so that a service can act as a user who is not there (a
// background job, a queue consumer). This package gives such a service typed calls for
// every endpoint a caller uses and, above all, an [oauth2.TokenSource] per stored token.
// It is a module of its own (github.com/auth-manager/auth-manager/client, go 1.24) that
// needs nothing beyond the standard library and golang.org/x/oauth2.
//
// # Setting up
//
// A service calls auth-manager with its own access token, usually from the client
// credentials grant of its Keycloak client. That client needs the service role
// (AUTH_MANAGER_SERVICE_ROLE, default "auth-manager-service") and its client id must be
// listed in auth-manager's AUTH_MANAGER_SERVICE_CLIENTS; then it may act on any user's
// stored tokens by id.
//
//	caller := (&clientcredentials.Config{
//		ClientID:     "orders-worker",
//		ClientSecret: secret,
//		TokenURL:     "https://sso.example.com/realms/main/protocol/openid-connect/token",
//	}).TokenSource(ctx)
//	am, err := client.New("http://auth-manager:8000", caller, client.WithUserAgent("orders-worker"))
//
// Make one [Client] per process and share it; it is safe for concurrent use.
//
// # Calls a user makes
//
// Some calls act on the caller's own session and so must be made with the user's
// access token: storing the user's refresh token ([Client.StoreRefreshToken]),
// refreshing it ([Client.RefreshStoredToken]), the offline consent
// ([Client.OfflineConsentURL], [Client.ReissueOfflineToken]). A backend serving the
// user's frontend makes them with the token of the user's request, per call, through
// [Client.AsUser]; the same client keeps its own token for everything else:
//
//	id, err := am.AsUser(userAccessToken).StoreRefreshToken(ctx, refreshToken)
//
// A backend that only ever acts as its users passes a nil caller to [New].
//
// # Acting for a user who is not there
//
// The user's frontend stores the user's token once (as above, or through the offline
// consent) and hands the service the persistent token id. The service then gets the
// user's access tokens from [Client.TokenSource] and forgets about expiry and refreshes:
//
//	ts := am.TokenSource(ctx, tokenID, client.WithMinTTL(time.Minute))
//	http := oauth2.NewClient(ctx, ts) // every request carries the user's current token
//
// The source reuses a token until it has less than the minimum lifetime left
// ([DefaultMinTTL] unless [WithMinTTL] says otherwise), so a second Token() within the
// lifetime costs no call. [Client.AccessToken] is the single call underneath.
//
// # A token for one downstream service
//
// The user's tokens carry every audience of the user's session. To call one service
// with a token that service alone accepts, ask for it by its client id:
//
//	ts := am.TokenSource(ctx, tokenID, client.WithAudience("orders-api"))
//
// auth-manager exchanges the user's token at Keycloak (RFC 8693 standard token
// exchange) for one whose aud is only "orders-api", and caches it per (id, audience,
// scope). The realm decides which audiences are available (see the service's Keycloak
// setup documentation); a refused
// one is [ErrKeycloak] with Keycloak's error in Details, never a broader token.
//
// # Errors
//
// Every failed call returns an [*Error] carrying auth-manager's error envelope: Status,
// Code, Message, Reason, Details and the RequestID to quote. Test for the usual cases
// with errors.Is:
//
//   - [ErrNotFound]: no such token or session for this caller (a deleted id, or another
//     user's: auth-manager does not tell them apart);
//   - [ErrUnauthorized]: the caller's own token was rejected;
//   - [ErrForbidden]: the caller may not do this (a role, a scope or an audience it
//     lacks);
//   - [ErrKeycloak]: Keycloak refused; with Reason "invalid_grant" the user's session is
//     gone and the user must sign in again;
//   - [ErrTokenUnusable]: the stored token cannot be used any more; store a new one;
//   - [ErrRateLimited]: too many failed requests; wait RetryAfter;
//   - [ErrUnavailable]: auth-manager or Keycloak is down, or auth-manager did not answer
//     (Code [CodeUnreachable]): try again later.
//
// For anything finer, every code of the envelope is a constant ([CodeTokenNotFound],
// [CodeTooManyTokens], [CodeScopeNotGranted], …) to compare Error.Code with, or to
// switch on [CodeOf](err).
//
// # Retries
//
// Only what is safe to repeat is retried ([RetryPolicy], [DefaultRetryPolicy]): calls
// that change nothing a caller can see twice (GET, DELETE, [Client.AccessToken],
// [Client.StoreRefreshToken]) when the answer was a 503 or there was no answer, with
// exponential backoff and jitter, never sooner than a Retry-After asks. The caller's
// context bounds the whole call, retries included: when the wait before a retry would
// outlast the context's deadline, the call ends at once with the last error.
//
// # Not here
//
// The consent callback (GET /v1/offline-token/callback) is called by the user's
// browser and the back-channel logout (POST /v1/backchannel-logout) by Keycloak, never
// by a service, so they have no method. The OpenAPI 3 document at /openapi.json
// describes every endpoint for other languages.
package client
