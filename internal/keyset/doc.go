// Package keyset holds the realm's signing keys (its JWKS) for the whole service and
// checks JWS signatures against them: caller tokens in both auth modes and back-channel
// logout tokens go through the one Set.
//
// It exists so that forged tokens cannot make the service download the JWKS again and
// again: the keys are fetched at start and again only when a token names a key id the
// set does not hold, at most once per minimum interval, one fetch shared by every
// request waiting for it. A bad signature under a known key id never causes a fetch.
// It must never log a token.
package keyset
