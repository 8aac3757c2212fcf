package vault

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"

	"github.com/auth-manager/auth-manager/internal/audit"
	"github.com/auth-manager/auth-manager/internal/caller"
	"github.com/auth-manager/auth-manager/internal/seal"
	"github.com/auth-manager/auth-manager/internal/store"
)

// StoreRefresh stores the caller's refresh token as the caller's one REFRESH row,
// bound to the caller's session. A second store for the same user replaces the token
// in the same row (same id). Storing the token that is already stored is a no-op
// (token_hash decides), unless the row still needs sealing under the current key.
func (s *Service) StoreRefresh(ctx context.Context, c caller.Caller, token string) (row store.Row, err error) {
	defer func() {
		e := audit.Event{Name: audit.TokenStored, Subject: c.Subject, RowID: row.ID, SessionID: c.SessionID, Detail: "refresh"}
		if err != nil {
			e.Outcome, e.ErrorCode = audit.Failed, storeFailure(err)
		}
		s.opt.Audit.Record(ctx, e)
	}()
	if c.SessionID == "" {
		return store.Row{}, ErrNoSession
	}
	if err := s.checkSubmitted(token, c.Subject); err != nil {
		return store.Row{}, err
	}
	hash := seal.Hash([]byte(token))
	return s.st.PutRefresh(ctx, c.Subject, func(id string, cur *store.Row) (store.Row, error) {
		if cur != nil && cur.TokenHash == hash && cur.SessionID == c.SessionID && !s.ring.NeedsReseal(s.sealedOf(*cur)) {
			return store.Row{}, store.ErrUnchanged
		}
		row := store.Row{ID: id, UserID: c.Subject, Type: store.Refresh, SessionID: c.SessionID}
		if cur != nil {
			row.Attributes = cur.Attributes
		}
		return s.Seal(row, token)
	})
}

// storeFailure names a failed store for the audit trail.
func storeFailure(err error) string {
	var inv *InvalidTokenError
	switch {
	case errors.As(err, &inv):
		return "validation_error"
	case errors.Is(err, ErrNoSession):
		return "invalid_request"
	}
	return audit.CodeOf(err)
}

func (s *Service) sealedOf(r store.Row) seal.Sealed {
	return seal.Sealed{Ciphertext: r.EncryptedToken, IV: r.IV, MAC: r.MAC, KeyID: r.KeyID}
}

// maxTokenLen bounds a submitted token; Keycloak's refresh tokens are about 1 KB.
const maxTokenLen = 16 << 10

// checkSubmitted refuses a token the vault could never use: not a Keycloak refresh
// or offline token of this realm and client, or not the caller's. The JWT is decoded
// without verifying it (Keycloak signs refresh tokens with a realm-internal key); the
// point is to keep obvious mistakes out, and Keycloak remains the judge at refresh.
func (s *Service) checkSubmitted(token, subject string) error {
	if token == "" {
		return &InvalidTokenError{"must not be empty"}
	}
	if len(token) > maxTokenLen {
		return &InvalidTokenError{"too long to be a Keycloak refresh token"}
	}
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return &InvalidTokenError{"not a JWT"}
	}
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return &InvalidTokenError{"not a JWT"}
	}
	var cl struct {
		Typ string `json:"typ"`
		Iss string `json:"iss"`
		Azp string `json:"azp"`
		Sub string `json:"sub"`
	}
	if err := json.Unmarshal(raw, &cl); err != nil {
		return &InvalidTokenError{"not a JWT"}
	}
	switch {
	case cl.Typ != "Refresh" && cl.Typ != "Offline":
		return &InvalidTokenError{"not a refresh or offline token"}
	case cl.Iss != s.opt.Issuer:
		return &InvalidTokenError{"issued by another realm"}
	case cl.Azp != s.opt.ClientID:
		return &InvalidTokenError{"issued to another client than " + s.opt.ClientID}
	case cl.Sub != subject:
		return &InvalidTokenError{"belongs to another user than the caller"}
	}
	return nil
}
