package offline

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/auth-manager/auth-manager/internal/audit"
	"github.com/auth-manager/auth-manager/internal/caller"
	"github.com/auth-manager/auth-manager/internal/problem"
	"github.com/auth-manager/auth-manager/internal/store"
	"github.com/auth-manager/auth-manager/internal/vault"
)

// consentScopes are what the consent asks Keycloak for: offline_access makes the
// refresh token an offline one; openid brings the ID token whose nonce and sub are
// checked.
var consentScopes = []string{oidc.ScopeOpenID, "profile", "email", oidc.ScopeOfflineAccess}

// ErrMissingCode means the callback carried neither code nor error.
var ErrMissingCode = problem.Validation("query.code", "field required")

// ErrIDToken means Keycloak's answer to the code exchange had no valid ID token for
// this client. Whatever it did return has been revoked.
var ErrIDToken = problem.New(http.StatusBadGateway, "keycloak_error", "Keycloak's ID token was missing or invalid").
	With("invalid_id_token", nil)

// Consent is a started consent: the URL to open in the user's browser.
type Consent struct {
	URL       string
	SessionID string // the caller's session the consent was asked from
	ExpiresIn time.Duration
}

// Start prepares a consent for the caller: a pending consent (PKCE verifier, nonce)
// stored under a random id, and the realm's authorization URL carrying the signed state
// that names it. Expired pending consents are purged on the way. A user already at the
// row cap is refused here, before Keycloak issues a token that could not be stored.
func (s *Service) Start(ctx context.Context, c caller.Caller) (Consent, error) {
	if c.SessionID == "" {
		return Consent{}, vault.ErrNoSession
	}
	if err := s.vault.Admits(ctx, c.Subject); err != nil {
		return Consent{}, err
	}
	conf, err := s.kc.OAuth2(ctx, consentScopes...)
	if err != nil {
		return Consent{}, err
	}
	now := s.opt.Now()
	if n, err := s.st.PurgeConsents(ctx, now); err != nil {
		return Consent{}, err
	} else if n > 0 {
		s.opt.Log.DebugContext(ctx, "offline: purged expired consents", "count", n)
	}
	p := store.Consent{StateID: randomID(16), UserID: c.Subject, SessionID: c.SessionID,
		Verifier: oauth2.GenerateVerifier(), Nonce: randomID(16), ExpiresAt: now.Add(s.opt.StateExpiry)}
	state, err := s.signState(p.StateID, p.UserID, p.SessionID, now)
	if err != nil {
		return Consent{}, err
	}
	if err := s.st.CreateConsent(ctx, p); err != nil {
		return Consent{}, err
	}
	u := conf.AuthCodeURL(state, oauth2.S256ChallengeOption(p.Verifier), oauth2.SetAuthURLParam("nonce", p.Nonce))
	s.opt.Audit.Record(ctx, audit.Event{Name: audit.OfflineConsent, Subject: c.Subject, SessionID: c.SessionID, Detail: "consent url issued"})
	return Consent{URL: u, SessionID: c.SessionID, ExpiresIn: s.opt.StateExpiry}, nil
}

// Callback is what Keycloak's redirect brought to the consent callback.
type Callback struct {
	Code, State, Error, ErrorDescription string
}

// Stored names the OFFLINE row a consent or a reissue created.
type Stored struct {
	ID        string
	SessionID string // the Keycloak offline session the token belongs to
}

// Finish completes a consent: it takes the pending consent the state names (once, even
// if what follows fails), exchanges the code with its verifier, checks the ID token
// (signature, audience, nonce) and that it names the user who asked, requires an
// offline token, and stores it as a new OFFLINE row bound to its offline session.
// Anything obtained but not stored is revoked. Keycloak's error= is a *CallbackError,
// but only with a genuine state (spent all the same): anyone can craft that URL.
func (s *Service) Finish(ctx context.Context, cb Callback) (Stored, error) {
	st, userID, err := s.finish(ctx, cb)
	e := audit.Event{Name: audit.OfflineConsent, Subject: userID, RowID: st.ID, SessionID: st.SessionID}
	if err != nil {
		e.Err = err
	}
	s.opt.Audit.Record(ctx, e)
	return st, err
}

// finish is Finish without the audit event; it also returns the user who asked, once
// known.
func (s *Service) finish(ctx context.Context, cb Callback) (Stored, string, error) {
	if cb.Error != "" {
		// Anyone can craft this URL: Keycloak's error counts only with a state this
		// service issued, which is spent all the same so that it cannot be replayed.
		// Without one the answer is 400 invalid_ack_state, not a 502 about Keycloak.
		p, err := s.take(ctx, cb.State)
		if err != nil {
			return Stored{}, "", err
		}
		return Stored{}, p.UserID, callbackError(truncate(cb.Error, 64), truncate(cb.ErrorDescription, 300))
	}
	p, err := s.take(ctx, cb.State)
	if err != nil {
		return Stored{}, "", err
	}
	if cb.Code == "" {
		return Stored{}, p.UserID, ErrMissingCode
	}
	ts, err := s.kc.Exchange(ctx, cb.Code, p.Verifier)
	if err != nil {
		return Stored{}, p.UserID, err
	}
	sid, err := s.checkGrant(ctx, ts.IDToken, ts.RefreshToken, p)
	if err != nil {
		s.revokeObtained(ctx, ts.RefreshToken, "consent refused")
		return Stored{}, p.UserID, err
	}
	if sid == "" {
		sid = ts.SessionState
	}
	row, err := s.vault.StoreOffline(ctx, p.UserID, sid, ts.RefreshToken, map[string]any{"consent_session_id": p.SessionID})
	if err != nil {
		s.revokeObtained(ctx, ts.RefreshToken, "offline token could not be stored")
		return Stored{}, p.UserID, err
	}
	return Stored{ID: row.ID, SessionID: row.SessionID}, p.UserID, nil
}

// take verifies the state's signature, takes its pending consent, and only then checks
// its lifetime: a state is spent by its first use, whatever the outcome.
func (s *Service) take(ctx context.Context, raw string) (store.Consent, error) {
	st, err := s.parseState(raw)
	if err != nil {
		return store.Consent{}, err
	}
	p, err := s.st.TakeConsent(ctx, st.ID)
	if errors.Is(err, store.ErrNotFound) {
		return store.Consent{}, badState("used")
	}
	if err != nil {
		return store.Consent{}, err
	}
	now := s.opt.Now()
	if err := validState(st, now); err != nil {
		return store.Consent{}, err
	}
	if !p.ExpiresAt.After(now) {
		return store.Consent{}, badState("expired")
	}
	if p.UserID != st.UserID || p.SessionID != st.SessionID {
		return store.Consent{}, badState("malformed")
	}
	return p, nil
}

// checkGrant verifies what the code exchange returned against the pending consent and
// returns the offline session id.
func (s *Service) checkGrant(ctx context.Context, rawID, refresh string, p store.Consent) (string, error) {
	if rawID == "" {
		return "", fmt.Errorf("%w: none in the answer", ErrIDToken)
	}
	prov, err := s.kc.Provider(ctx)
	if err != nil {
		return "", err
	}
	idt, err := prov.Verifier(&oidc.Config{ClientID: s.opt.ClientID, Now: s.opt.Now}).Verify(ctx, rawID)
	if err != nil {
		return "", fmt.Errorf("%w: %v", ErrIDToken, err)
	}
	if idt.Nonce != p.Nonce {
		return "", badState("nonce_mismatch")
	}
	if idt.Subject != p.UserID {
		return "", badState("user_mismatch")
	}
	rt, err := peek(refresh)
	switch {
	case err != nil || rt.Type != "Offline":
		return "", ErrNotOffline
	case rt.Subject != idt.Subject || rt.Azp != s.opt.ClientID:
		return "", fmt.Errorf("%w: the refresh token names another user or client", ErrNotOffline)
	}
	return rt.SessionID, nil
}

// truncate caps text taken from an unauthenticated request before it is echoed.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return strings.ToValidUTF8(s[:n], "")
}
