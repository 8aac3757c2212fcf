package events

import (
	"strings"
	"time"
)

// Payload is an event as GET /v1/events answers it and as a webhook's body carries it.
type Payload struct {
	ID                string         `json:"id"`
	Type              string         `json:"type"`
	OccurredAt        time.Time      `json:"occurred_at"`
	UserID            string         `json:"user_id"`
	PersistentTokenID *string        `json:"persistent_token_id"`
	TokenType         *string        `json:"token_type"` // "refresh" or "offline"
	SessionID         string         `json:"session_id"`
	Cause             string         `json:"cause"`
	Details           map[string]any `json:"details"`
}

// PayloadOf is the wire form of e.
func PayloadOf(e Event) Payload {
	p := Payload{ID: e.ID, Type: e.Type, OccurredAt: e.OccurredAt.UTC(), UserID: e.UserID, SessionID: e.SessionID,
		Cause: e.Cause, Details: e.Details}
	if e.RowID != "" {
		id := e.RowID
		p.PersistentTokenID = &id
	}
	if e.TokenType != "" {
		t := strings.ToLower(string(e.TokenType))
		p.TokenType = &t
	}
	if p.Details == nil {
		p.Details = map[string]any{}
	}
	return p
}
