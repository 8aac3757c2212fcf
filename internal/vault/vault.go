package vault

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/auth-manager/auth-manager/internal/audit"
	"github.com/auth-manager/auth-manager/internal/caller"
	"github.com/auth-manager/auth-manager/internal/seal"
	"github.com/auth-manager/auth-manager/internal/store"
)

// Sentinel errors, mapped to the envelope by the HTTP layer.
var (
	// ErrNotFound: no row with that id that the caller may see.
	ErrNotFound = errors.New("vault: token not found")
	// ErrForbidden: a user caller asked for another user's data.
	ErrForbidden = errors.New("vault: forbidden")
	// ErrUnusable: the row exists but its token cannot be opened (tampered, moved to
	// another user, sealed under an unknown key) or Keycloak refused it for good.
	ErrUnusable = errors.New("vault: stored token is unusable")
	// ErrNoSession: the caller's token has no sid, which the operation needs.
	ErrNoSession = errors.New("vault: caller token has no session id (sid)")
)

// InvalidTokenError says why a submitted token was refused (422 body.refresh_token).
type InvalidTokenError struct{ Problem string }

func (e *InvalidTokenError) Error() string { return "vault: invalid token: " + e.Problem }

// Store is the repository the vault needs.
type Store interface {
	Get(ctx context.Context, id string) (store.Row, error)
	GetBySession(ctx context.Context, sid string, t store.TokenType) (store.Row, error)
	ListByUser(ctx context.Context, userID string) ([]store.Row, error)
	ListBySession(ctx context.Context, sid string) ([]store.Row, error)
	Create(ctx context.Context, row store.Row) (store.Row, error)
	Delete(ctx context.Context, id string) (store.Row, error)
	PutRefresh(ctx context.Context, userID string, build func(id string, cur *store.Row) (store.Row, error)) (store.Row, error)
	Update(ctx context.Context, id string, fn func(ctx context.Context, cur store.Row) (store.Row, error)) (store.Row, error)
}

// Revoker revokes a token at Keycloak.
type Revoker interface {
	Revoke(ctx context.Context, token, hint string) error
}

// Options configures the service.
type Options struct {
	Issuer   string // the realm's issuer; submitted tokens must carry it
	ClientID string // the service's client; submitted tokens must have been issued to it
	Log      *slog.Logger
	Audit    *audit.Logger
	Now      func() time.Time
}

// Service is the vault. Safe for concurrent use.
type Service struct {
	st   Store
	ring *seal.Ring
	kc   Revoker
	opt  Options
}

// New returns the vault service.
func New(st Store, ring *seal.Ring, kc Revoker, opt Options) *Service {
	if opt.Now == nil {
		opt.Now = time.Now
	}
	return &Service{st: st, ring: ring, kc: kc, opt: opt}
}

// Ring is the key ring the vault seals with.
func (s *Service) Ring() *seal.Ring { return s.ring }

func identity(id, userID string, t store.TokenType) seal.Identity {
	return seal.Identity{RowID: id, UserID: userID, TokenType: string(t)}
}

// Seal seals token for the row (id, userID, t) and fills the row's sealing columns.
func (s *Service) Seal(row store.Row, token string) (store.Row, error) {
	sealed, err := s.ring.Seal([]byte(token), identity(row.ID, row.UserID, row.Type))
	if err != nil {
		return store.Row{}, fmt.Errorf("vault: seal: %w", err)
	}
	row.EncryptedToken, row.IV, row.MAC, row.KeyID = sealed.Ciphertext, sealed.IV, sealed.MAC, sealed.KeyID
	row.TokenHash = seal.Hash([]byte(token))
	return row, nil
}

// Open returns the plaintext token of row, or ErrUnusable.
func (s *Service) Open(row store.Row) (string, error) {
	pt, err := s.ring.Open(seal.Sealed{Ciphertext: row.EncryptedToken, IV: row.IV, MAC: row.MAC, KeyID: row.KeyID},
		identity(row.ID, row.UserID, row.Type))
	if err != nil {
		return "", ErrUnusable
	}
	return string(pt), nil
}

// Lookup returns the row with id if c may see it; ErrNotFound otherwise, whether the
// row is missing or belongs to someone else.
func (s *Service) Lookup(ctx context.Context, c caller.Caller, id string) (store.Row, error) {
	row, err := s.st.Get(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return store.Row{}, ErrNotFound
	}
	if err != nil {
		return store.Row{}, err
	}
	if !c.CanActFor(row.UserID) {
		return store.Row{}, ErrNotFound
	}
	return row, nil
}

// subject resolves whose rows a listing is about: the caller's own, or userID for a
// service caller. A user caller naming another user is ErrForbidden.
func subject(c caller.Caller, userID string) (string, error) {
	switch {
	case userID == "" || userID == c.Subject:
		return c.Subject, nil
	case c.Service:
		return userID, nil
	}
	return "", ErrForbidden
}
