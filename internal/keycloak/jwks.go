package keycloak

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"

	"github.com/go-jose/go-jose/v4"
)

// JWKS downloads the realm's key set (jwks_uri of the discovery document). Every call
// is observed as op "jwks", so that the metrics count the downloads.
func (c *Client) JWKS(ctx context.Context) (jose.JSONWebKeySet, error) {
	d, err := c.discover(ctx)
	if err != nil {
		return jose.JSONWebKeySet{}, err
	}
	if d.jwks == "" {
		return jose.JSONWebKeySet{}, fmt.Errorf("%w: discovery of %s lacks jwks_uri", ErrUnavailable, c.opt.IssuerURL)
	}
	ctx, cancel := context.WithTimeout(ctx, c.opt.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, d.jwks, nil)
	if err != nil {
		return jose.JSONWebKeySet{}, fmt.Errorf("keycloak: jwks: build request: %w", err)
	}
	req.Header.Set("Accept", "application/json")
	body, err := c.do(req, "jwks")
	if err != nil {
		return jose.JSONWebKeySet{}, err
	}
	var raw struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(body, &raw); err != nil {
		return jose.JSONWebKeySet{}, &Error{Op: "jwks", Status: http.StatusOK, Code: "malformed_response",
			Description: "JWKS is not a JSON key set"}
	}
	// One key of a type go-jose does not know must not cost the realm its other keys.
	var ks jose.JSONWebKeySet
	for _, r := range raw.Keys {
		var k jose.JSONWebKey
		if json.Unmarshal(r, &k) == nil {
			ks.Keys = append(ks.Keys, k)
		}
	}
	return ks, nil
}
