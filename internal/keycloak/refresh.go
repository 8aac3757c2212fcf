package keycloak

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"syscall"
	"time"

	"golang.org/x/oauth2"
)

// TokenSet is what the token endpoint answered to a grant.
type TokenSet struct {
	AccessToken  string
	TokenType    string
	RefreshToken string // the token Keycloak returned; equal to the one presented when it did not rotate
	Expiry       time.Time
	Scope        string
	SessionState string
	IDToken      string
}

// Refresh exchanges a refresh or offline token for a new access token with the
// refresh_token grant.
//
// It retries only failures that prove Keycloak did not process the request (the
// connection could not be made, or a gateway answered 502/503/504): with refresh-token
// rotation a refresh that Keycloak did process consumes the presented token, and
// presenting it again would end the user's session.
func (c *Client) Refresh(ctx context.Context, refreshToken string, retries int) (TokenSet, error) {
	conf, err := c.OAuth2(ctx)
	if err != nil {
		return TokenSet{}, err
	}
	var last error
	backoff := 100 * time.Millisecond
	for attempt := 0; attempt <= retries; attempt++ {
		if attempt > 0 {
			select {
			case <-ctx.Done():
				return TokenSet{}, fmt.Errorf("%w: refresh: %v", ErrUnavailable, last)
			case <-time.After(backoff):
			}
			backoff *= 2
		}
		ts, err := c.exchange(ctx, conf, "refresh", func(ctx context.Context) (*oauth2.Token, error) {
			return conf.TokenSource(ctx, &oauth2.Token{RefreshToken: refreshToken}).Token()
		})
		if err == nil || !notProcessed(err) {
			return ts, err
		}
		last = err
	}
	return TokenSet{}, last
}

// Exchange trades an authorization code (with its PKCE verifier) for tokens.
func (c *Client) Exchange(ctx context.Context, code, verifier string) (TokenSet, error) {
	conf, err := c.OAuth2(ctx)
	if err != nil {
		return TokenSet{}, err
	}
	return c.exchange(ctx, conf, "code_exchange", func(ctx context.Context) (*oauth2.Token, error) {
		return conf.Exchange(ctx, code, oauth2.VerifierOption(verifier))
	})
}

// exchange runs one token-endpoint call with the shared client and a deadline, and
// classifies its error.
func (c *Client) exchange(ctx context.Context, conf *oauth2.Config, op string, call func(context.Context) (*oauth2.Token, error)) (TokenSet, error) {
	ctx, cancel := context.WithTimeout(ctx, c.opt.Timeout)
	defer cancel()
	start := time.Now()
	tok, err := call(context.WithValue(ctx, oauth2.HTTPClient, c.http))
	if err != nil {
		err = classifyOAuth(op, err)
	}
	c.opt.Observe(op, outcome(err), time.Since(start))
	if err != nil {
		c.log.WarnContext(ctx, "keycloak call failed", "op", op, "duration_ms", time.Since(start).Milliseconds(), "error", err.Error())
		return TokenSet{}, err
	}
	ts := TokenSet{AccessToken: tok.AccessToken, TokenType: tok.TokenType, RefreshToken: tok.RefreshToken, Expiry: tok.Expiry}
	ts.Scope, _ = tok.Extra("scope").(string)
	ts.SessionState, _ = tok.Extra("session_state").(string)
	ts.IDToken, _ = tok.Extra("id_token").(string)
	return ts, nil
}

// classifyOAuth maps oauth2's errors onto *Error and ErrUnavailable, keeping only
// Keycloak's error code and description (never the body, which could echo input).
func classifyOAuth(op string, err error) error {
	var re *oauth2.RetrieveError
	if errors.As(err, &re) {
		status := 0
		if re.Response != nil {
			status = re.Response.StatusCode
		}
		e := newError(op, status, re.Body)
		if re.ErrorCode != "" {
			e.Code, e.Description = re.ErrorCode, re.ErrorDescription
		}
		return e
	}
	return &transportError{op: op, cause: err}
}

// transportError is a call that got no answer from Keycloak. It is ErrUnavailable,
// keeps its cause for classification, and prints without the URL.
type transportError struct {
	op    string
	cause error
}

func (e *transportError) Error() string {
	return fmt.Sprintf("keycloak: unavailable: %s: %s", e.op, transportMessage(e.cause))
}

func (e *transportError) Unwrap() []error { return []error{ErrUnavailable, e.cause} }

// notProcessed reports failures after which Keycloak certainly did not act on the
// request, so that repeating it is safe even under refresh-token rotation.
func notProcessed(err error) bool {
	var e *Error
	if errors.As(err, &e) {
		return e.Status == http.StatusBadGateway || e.Status == http.StatusServiceUnavailable || e.Status == http.StatusGatewayTimeout
	}
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial" || errors.Is(err, syscall.ECONNREFUSED)
}
