package vault

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"strings"

	"github.com/auth-manager/auth-manager/internal/audit"
	"github.com/auth-manager/auth-manager/internal/caller"
	"github.com/auth-manager/auth-manager/internal/problem"
	"github.com/auth-manager/auth-manager/internal/seal"
	"github.com/auth-manager/auth-manager/internal/store"
)

// StoreRefresh stores a token the caller submits (POST /v1/refresh-token). A refresh
// token (typ Refresh) becomes the caller's one REFRESH row, bound to the caller's
// session: a second store for the same user replaces the token in the same row (same
// id). An offline token (typ Offline) becomes an OFFLINE row of its offline session,
// which the user's logout does not touch and the one-REFRESH-row rule does not
// replace. Storing the token that is already stored is a no-op (token_hash decides),
// unless the row still needs sealing under the current key.
func (s *Service) StoreRefresh(ctx context.Context, c caller.Caller, token string) (Meta, error) {
	row, kind, err := s.storeSubmitted(ctx, c, token)
	s.opt.Audit.Record(ctx, audit.Event{Name: audit.TokenStored, Subject: c.Subject, RowID: row.ID,
		SessionID: row.SessionID, Detail: kind, Err: err})
	return row.Meta, err
}

func (s *Service) storeSubmitted(ctx context.Context, c caller.Caller, token string) (store.Row, string, error) {
	if c.SessionID == "" {
		return store.Row{}, "refresh", ErrNoSession
	}
	cl, err := s.checkSubmitted(token, c.Subject)
	if err != nil {
		return store.Row{}, "refresh", err
	}
	if cl.Typ == "Offline" {
		row, err := s.storeSubmittedOffline(ctx, c, cl, token)
		return row, "offline", err
	}
	row, err := s.storeSubmittedRefresh(ctx, c, token)
	return row, "refresh", err
}

// storeSubmittedOffline stores an offline token as an OFFLINE row of the session its
// sid names (the caller's when it names none), or answers the row that holds it already.
func (s *Service) storeSubmittedOffline(ctx context.Context, c caller.Caller, cl claims, token string) (store.Row, error) {
	hash := seal.Hash([]byte(token))
	rows, err := s.st.ListByUser(ctx, c.Subject)
	if err != nil {
		return store.Row{}, err
	}
	for _, r := range rows {
		if r.Type == store.Offline && r.TokenHash == hash && !s.ring.NeedsReseal(sealedOf(r)) {
			return r, nil
		}
	}
	sid := cl.Sid
	if sid == "" {
		sid = c.SessionID
	}
	row, err := s.Seal(store.Row{Meta: store.Meta{ID: store.NewID(), UserID: c.Subject, Type: store.Offline, SessionID: sid}}, token)
	if err != nil {
		return store.Row{}, err
	}
	return s.st.Create(ctx, row)
}

func (s *Service) storeSubmittedRefresh(ctx context.Context, c caller.Caller, token string) (store.Row, error) {
	hash := seal.Hash([]byte(token))
	return s.st.PutRefresh(ctx, c.Subject, func(id string, cur *store.Row) (store.Row, error) {
		if cur != nil && cur.TokenHash == hash && cur.SessionID == c.SessionID && !s.ring.NeedsReseal(sealedOf(*cur)) {
			return store.Row{}, store.ErrUnchanged
		}
		row := store.Row{Meta: store.Meta{ID: id, UserID: c.Subject, Type: store.Refresh, SessionID: c.SessionID}}
		if cur != nil {
			row.Attributes = cur.Attributes
		}
		return s.Seal(row, token)
	})
}

// StoreOffline stores an offline token Keycloak issued to this service for userID as
// a new OFFLINE row of Keycloak session sid (the consent callback, a reissue). The
// caller records its own audit event (offline_consent, offline_token_issued).
func (s *Service) StoreOffline(ctx context.Context, userID, sid, token string, attributes map[string]any) (Meta, error) {
	row := store.Row{Meta: store.Meta{ID: store.NewID(), UserID: userID, Type: store.Offline, SessionID: sid,
		Attributes: attributes}}
	row, err := s.Seal(row, token)
	if err != nil {
		return Meta{}, err
	}
	row, err = s.st.Create(ctx, row)
	return row.Meta, err
}

// maxTokenLen bounds a submitted token; Keycloak's refresh tokens are about 1 KB.
const maxTokenLen = 16 << 10

// invalidToken is the 422 for a submitted token the vault could never use.
func invalidToken(why string) error { return problem.Validation("body.refresh_token", why) }

// claims are the fields of a refresh or offline token the vault reads. It never
// verifies the signature: Keycloak signs refresh tokens with a realm-internal key and
// remains the judge when the token is presented.
type claims struct {
	Typ string `json:"typ"`
	Iss string `json:"iss"`
	Azp string `json:"azp"`
	Sub string `json:"sub"`
	Sid string `json:"sid"`
}

// readClaims decodes a JWT's payload without verifying it.
func readClaims(token string) (claims, bool) {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return claims{}, false
	}
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return claims{}, false
	}
	var cl claims
	if err := json.Unmarshal(raw, &cl); err != nil {
		return claims{}, false
	}
	return cl, true
}

// checkSubmitted refuses a token the vault could never use: not a Keycloak refresh
// or offline token of this realm and client, or not the caller's. The point is to keep
// obvious mistakes out; Keycloak remains the judge at refresh.
func (s *Service) checkSubmitted(token, subject string) (claims, error) {
	if token == "" {
		return claims{}, invalidToken("must not be empty")
	}
	if len(token) > maxTokenLen {
		return claims{}, invalidToken("too long to be a Keycloak refresh token")
	}
	cl, ok := readClaims(token)
	switch {
	case !ok:
		return claims{}, invalidToken("not a JWT")
	case cl.Typ != "Refresh" && cl.Typ != "Offline":
		return claims{}, invalidToken("not a refresh or offline token")
	case cl.Iss != s.opt.Issuer:
		return claims{}, invalidToken("issued by another realm")
	case cl.Azp != s.opt.ClientID:
		return claims{}, invalidToken("issued to another client than " + s.opt.ClientID)
	case cl.Sub != subject:
		return claims{}, invalidToken("belongs to another user than the caller")
	}
	return cl, nil
}
