package client

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// Event types of token-health events.
const (
	EventTokenInvalid        = "token.invalid"         // Keycloak refused the stored token for good: the user must consent or log in again
	EventTokenRefreshFailing = "token.refresh_failing" // refreshes keep failing without a refusal (Keycloak down or erring)
	EventTokenRecovered      = "token.recovered"       // a failing or invalid stored token works again
	EventTokenExpiring       = "token.expiring"        // the grant reaches its hard deadline soon (details.expires_at)
	EventTokenDeleted        = "token.deleted"         // the stored token was deleted
	EventSessionEnded        = "session.ended"         // the stored token's Keycloak session ended; the row is gone
)

// Event is a token-health event: what happened to a stored token (never the token).
// GET /v1/events answers pages of them and the webhooks carry one each.
type Event struct {
	ID         string    `json:"id"`
	Type       string    `json:"type"`
	OccurredAt time.Time `json:"occurred_at"`
	UserID     string    `json:"user_id"`
	// PersistentTokenID and TokenType ("refresh" or "offline") name the stored token.
	PersistentTokenID *string `json:"persistent_token_id"`
	TokenType         *string `json:"token_type"`
	SessionID         string  `json:"session_id"`
	// Cause says why: user, service, backchannel_logout, cleanup, invalid_grant,
	// keycloak_failing, refreshed, stored_again, or the basis of an expiry forecast.
	Cause   string         `json:"cause"`
	Details map[string]any `json:"details"`
}

// EventPage is a page of events; Next is the cursor to ask with next.
type EventPage struct {
	Events []Event `json:"events"`
	Next   string  `json:"next"`
}

// Events returns up to limit (0: the service's default) token-health events after the
// cursor after ("" starts at the oldest kept), oldest first: the calling user's, or
// every user's for a service caller (GET /v1/events). Poll with the answer's Next.
func (c *Client) Events(ctx context.Context, after string, limit int) (*EventPage, error) {
	q := url.Values{}
	if after != "" {
		q.Set("after", after)
	}
	if limit > 0 {
		q.Set("limit", strconv.Itoa(limit))
	}
	var p EventPage
	if err := c.do(ctx, call{method: http.MethodGet, path: "/v1/events", query: q, idempotent: true}, &p); err != nil {
		return nil, err
	}
	return &p, nil
}
