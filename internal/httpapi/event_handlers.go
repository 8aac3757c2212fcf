package httpapi

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"github.com/auth-manager/auth-manager/internal/caller"
	"github.com/auth-manager/auth-manager/internal/events"
)

// Events is what the events endpoint needs.
type Events interface {
	List(ctx context.Context, c caller.Caller, after string, limit int) (events.Page, error)
}

// EventInfo is a token-health event: what happened to a stored token, never the token.
// The webhooks carry the same object.
type EventInfo struct {
	ID                string         `json:"id" format:"uuid" example:"5f0c2a9e-8d4b-4c1e-9a7f-3b2c1d0e9f8a"`
	Type              string         `json:"type" enums:"token.invalid,token.refresh_failing,token.recovered,token.expiring,token.deleted,session.ended" example:"token.invalid"`
	OccurredAt        time.Time      `json:"occurred_at" format:"date-time"`
	UserID            string         `json:"user_id" format:"uuid" example:"7d4f2a10-5b3c-4e6d-8f9a-0b1c2d3e4f5a"`
	PersistentTokenID *string        `json:"persistent_token_id" format:"uuid" extensions:"x-nullable" example:"0b7f6c1e-3f1a-4d3c-9d4e-2a1b3c4d5e6f"`
	TokenType         *string        `json:"token_type" extensions:"x-nullable" example:"offline"` // refresh or offline
	SessionID         string         `json:"session_id" example:"TqJvgiq-aeFLrP7yRgHbCMSe"`
	Cause             string         `json:"cause" example:"invalid_grant"`
	Details           map[string]any `json:"details"`
} // @name EventInfo

// EventPage is a page of events and the cursor of the next one.
type EventPage struct {
	Events []EventInfo `json:"events"`
	Next   string      `json:"next" example:"1842"`
} // @name EventPage

// EventInfoOf is the API form of e (the webhooks' body too: events.Payload).
func EventInfoOf(e events.Event) EventInfo { return EventInfo(events.PayloadOf(e)) }

// handleListEvents pages through token-health events.
//
//	@Summary		List token-health events
//	@Description	Token-health events (token.invalid, token.refresh_failing, token.recovered, token.expiring, token.deleted, session.ended) of the stored tokens the caller may act for: a user caller's own, every user's for a service caller. Oldest first; pass the answer's next as after to read on (without after: from the oldest event kept). next is the same cursor when nothing new happened, so a consumer polls with it. Events are kept for AUTH_MANAGER_EVENTS_RETENTION. Each event names the row (persistent_token_id), its user, token type and Keycloak session, when it happened and why (cause, details); never a token. The same objects are pushed as Standard Webhooks to the operator's subscribers.
//	@ID				listEvents
//	@Tags			events
//	@Security		Bearer
//	@Produce		json
//	@Param			after	query		string	false	"cursor: the next of an earlier answer"
//	@Param			limit	query		integer	false	"at most this many events (1–1000, default 100)"	minimum(1)	maximum(1000)
//	@Success		200		{object}	DataEnvelope[EventPage]
//	@Failure		401		{object}	ErrorEnvelope
//	@Failure		403		{object}	ErrorEnvelope
//	@Failure		422		{object}	ErrorEnvelope	"validation_error: after or limit malformed"
//	@Failure		502		{object}	ErrorEnvelope
//	@Failure		503		{object}	ErrorEnvelope
//	@Router			/v1/events [get]
func handleListEvents(ev Events, ew errorWriter) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		limit := events.DefaultLimit
		if v := q.Get("limit"); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 || n > events.MaxLimit {
				ew.write(w, r, validation("query.limit", "must be an integer between 1 and 1000"))
				return
			}
			limit = n
		}
		page, err := ev.List(r.Context(), mustCaller(r), q.Get("after"), limit)
		if err != nil {
			ew.write(w, r, err)
			return
		}
		out := EventPage{Events: make([]EventInfo, 0, len(page.Events)), Next: page.Next}
		for _, e := range page.Events {
			out.Events = append(out.Events, EventInfoOf(e))
		}
		encode(w, http.StatusOK, out)
	}
}
