package vault

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"

	"github.com/auth-manager/auth-manager/internal/audit"
	"github.com/auth-manager/auth-manager/internal/caller"
	"github.com/auth-manager/auth-manager/internal/problem"
	"github.com/auth-manager/auth-manager/internal/seal"
	"github.com/auth-manager/auth-manager/internal/store"
)

// StoreRefresh stores a token the caller submits (POST /v1/refresh-token). The token is
// stored only if Keycloak, asked by introspection with the service's own credentials,
// says it is active, issued to this service's client in this realm, and the caller's;
// the row's user, type and session are taken from that answer, never from the token's
// own unverified payload. A refresh token (typ Refresh) becomes the caller's one REFRESH
// row: a second store for the same user replaces the token in the same row (same id).
// An offline token (typ Offline) becomes an OFFLINE row of its offline session, which
// the user's logout does not touch and the one-REFRESH-row rule does not replace.
// Storing the token that is already stored is a no-op (token_hash decides), unless the
// row still needs sealing under the current key. A row that would take the user past
// MaxTokensPerUser is ErrTooManyTokens.
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
	v, err := s.verifySubmitted(ctx, token, c.Subject)
	if err != nil {
		return store.Row{}, "refresh", err
	}
	if v.typ == store.Offline {
		row, err := s.storeSubmittedOffline(ctx, v, token)
		return row, "offline", err
	}
	row, err := s.storeSubmittedRefresh(ctx, v, token)
	return row, "refresh", err
}

// storeSubmittedOffline stores an offline token as an OFFLINE row of its offline
// session, or answers the row that holds it already.
func (s *Service) storeSubmittedOffline(ctx context.Context, v vouched, token string) (store.Row, error) {
	rows, err := s.st.OfflineByHash(ctx, v.userID, seal.Hash([]byte(token)))
	if err != nil {
		return store.Row{}, err
	}
	for _, r := range rows {
		if !s.ring.NeedsReseal(sealedOf(r)) {
			return r, nil
		}
	}
	row, err := s.Seal(store.Row{Meta: store.Meta{ID: store.NewID(), UserID: v.userID, Type: store.Offline, SessionID: v.sessionID}}, token)
	if err != nil {
		return store.Row{}, err
	}
	return s.create(ctx, row)
}

func (s *Service) storeSubmittedRefresh(ctx context.Context, v vouched, token string) (store.Row, error) {
	hash := seal.Hash([]byte(token))
	row, err := s.st.PutRefresh(ctx, v.userID, s.opt.MaxTokensPerUser, func(id string, cur *store.Row) (store.Row, error) {
		if cur != nil && cur.TokenHash == hash && cur.SessionID == v.sessionID && !s.ring.NeedsReseal(sealedOf(*cur)) {
			return store.Row{}, store.ErrUnchanged
		}
		row := store.Row{Meta: store.Meta{ID: id, UserID: v.userID, Type: store.Refresh, SessionID: v.sessionID}}
		if cur != nil {
			row.Attributes = cur.Attributes
		}
		return s.Seal(row, token)
	})
	if errors.Is(err, store.ErrTooMany) {
		return store.Row{}, ErrTooManyTokens
	}
	return row, err
}

// StoreOffline stores an offline token Keycloak issued to this service for userID as
// a new OFFLINE row of Keycloak session sid (the consent callback, a reissue: the token
// came straight from Keycloak's token endpoint). The caller records its own audit event
// (offline_consent, offline_token_issued). ErrTooManyTokens when the user holds
// MaxTokensPerUser rows already: the caller revokes the token it was given.
func (s *Service) StoreOffline(ctx context.Context, userID, sid, token string, attributes map[string]any) (Meta, error) {
	row := store.Row{Meta: store.Meta{ID: store.NewID(), UserID: userID, Type: store.Offline, SessionID: sid,
		Attributes: attributes}}
	row, err := s.Seal(row, token)
	if err != nil {
		return Meta{}, err
	}
	row, err = s.create(ctx, row)
	return row.Meta, err
}

// create inserts a new row within the user's cap.
func (s *Service) create(ctx context.Context, row store.Row) (store.Row, error) {
	out, err := s.st.CreateWithin(ctx, row, s.opt.MaxTokensPerUser)
	if errors.Is(err, store.ErrTooMany) {
		return store.Row{}, ErrTooManyTokens
	}
	return out, err
}

// Admits reports whether userID may store one more row (ErrTooManyTokens when not). A
// cheap early answer for flows that would otherwise make Keycloak issue a token first
// (the consent URL); the store itself re-checks under the user's lock.
func (s *Service) Admits(ctx context.Context, userID string) error {
	if s.opt.MaxTokensPerUser <= 0 {
		return nil
	}
	n, err := s.st.CountByUser(ctx, userID)
	if err != nil {
		return err
	}
	if n >= s.opt.MaxTokensPerUser {
		return ErrTooManyTokens
	}
	return nil
}

// maxTokenLen bounds a submitted token; Keycloak's refresh tokens are about 1 KB.
const maxTokenLen = 16 << 10

// invalidToken is the 422 for a submitted token the vault could never use.
func invalidToken(why string) error { return problem.Validation("body.refresh_token", why) }

// claims are the fields of a refresh or offline token's unverified payload, read only to
// refuse obvious mistakes without a Keycloak call. Nothing stored comes from them.
type claims struct {
	Typ string `json:"typ"`
	Iss string `json:"iss"`
	Azp string `json:"azp"`
	Sub string `json:"sub"`
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

// vouched is what Keycloak's introspection said of a submitted token.
type vouched struct {
	typ       store.TokenType
	userID    string
	sessionID string
}

// verifySubmitted refuses a token the vault could never use, first by its unverified
// payload (no Keycloak call for an obvious mistake), then by Keycloak's introspection:
// it must be active, a refresh or offline token of this realm and client, the caller's,
// and bound to a session. Keycloak's answer is what the row is built from.
func (s *Service) verifySubmitted(ctx context.Context, token, subject string) (vouched, error) {
	if token == "" {
		return vouched{}, invalidToken("must not be empty")
	}
	if len(token) > maxTokenLen {
		return vouched{}, invalidToken("too long to be a Keycloak refresh token")
	}
	cl, ok := readClaims(token)
	if !ok {
		return vouched{}, invalidToken("not a JWT")
	}
	if err := s.checkClaims(cl.Typ, cl.Iss, cl.Azp, cl.Sub, subject); err != nil {
		return vouched{}, err
	}
	ic, err := s.kc.Introspect(ctx, token, "refresh_token")
	if err != nil {
		return vouched{}, err
	}
	if !ic.Active {
		return vouched{}, invalidToken("Keycloak says the token is not active (expired, revoked, or not one it issued)")
	}
	if err := s.checkClaims(ic.Type, ic.Issuer, ic.Client(), ic.Subject, subject); err != nil {
		return vouched{}, err
	}
	if ic.SessionID == "" {
		return vouched{}, invalidToken("Keycloak names no session for the token")
	}
	typ := store.Refresh
	if ic.Type == "Offline" {
		typ = store.Offline
	}
	return vouched{typ: typ, userID: ic.Subject, sessionID: ic.SessionID}, nil
}

// checkClaims refuses a token that is not a refresh or offline token of this realm and
// client, or not subject's.
func (s *Service) checkClaims(typ, iss, client, sub, subject string) error {
	switch {
	case typ != "Refresh" && typ != "Offline":
		return invalidToken("not a refresh or offline token")
	case iss != s.opt.Issuer:
		return invalidToken("issued by another realm")
	case client != s.opt.ClientID:
		return invalidToken("issued to another client than " + s.opt.ClientID)
	case sub != subject:
		return invalidToken("belongs to another user than the caller")
	}
	return nil
}
