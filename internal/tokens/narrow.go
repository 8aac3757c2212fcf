package tokens

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/auth-manager/auth-manager/internal/audit"
	"github.com/auth-manager/auth-manager/internal/caller"
	"github.com/auth-manager/auth-manager/internal/problem"
	"github.com/auth-manager/auth-manager/internal/vault"
)

// Refusals of a narrowing, decided before any exchange at Keycloak; the reason names
// the refused scopes or audience.
var (
	// ErrScopeNotGranted: a scope was asked for that the stored token was never granted.
	ErrScopeNotGranted = problem.New(http.StatusForbidden, "scope_not_granted",
		"A requested scope was never granted to the stored token")
	// ErrAudienceNotAllowed: the operator does not let this caller ask for that audience.
	ErrAudienceNotAllowed = problem.New(http.StatusForbidden, "audience_not_allowed",
		"This audience may not be requested by this caller")
)

// Narrowing asks for an access token whose aud is only Audience (a client id of the
// realm), with the optional client scopes Scope (space-separated) as well.
type Narrowing struct {
	Audience string
	Scope    string
}

// key is the cache key of row id's token narrowed this way. The scope is normalised
// (sorted, without duplicates) so that "a b" and "b a" share one token.
func (n Narrowing) key(id string) string {
	return id + "\x00" + n.Audience + "\x00" + strings.Join(scopeSet(n.Scope), " ")
}

// NarrowedAccessToken is AccessToken followed by Keycloak's standard token exchange
// (RFC 8693): the access token minted from the stored token id is traded for one whose
// aud is only n.Audience. The answer is cached per (id, audience, scope) under the same
// rules as AccessToken's and dropped with it when the row is deleted or invalidated.
// Keycloak's refusal (the audience is not available to the service's client, the
// client may not exchange, an unknown scope) is returned as its *keycloak.Error; a
// broader token is never returned.
//
// Narrowing only narrows: an audience the operator does not allow this caller is
// ErrAudienceNotAllowed, and a scope outside the stored token's granted scopes (as
// Keycloak reported them with its last access token) is ErrScopeNotGranted, both
// before any exchange. A token whose row went away during the exchange is neither
// cached nor returned.
func (s *Service) NarrowedAccessToken(ctx context.Context, c caller.Caller, id string, minTTL time.Duration, n Narrowing) (Access, error) {
	a, ev, err := s.narrowedAccessToken(ctx, c, id, minTTL, n)
	ev.Err = err
	s.opt.Audit.Record(ctx, ev)
	return a, err
}

// narrowedAccessToken is NarrowedAccessToken without its audit event, which it fills in.
func (s *Service) narrowedAccessToken(ctx context.Context, c caller.Caller, id string, minTTL time.Duration, n Narrowing) (Access, audit.Event, error) {
	ev := audit.Event{Name: audit.AccessTokenIssued, RowID: id, Detail: "exchange:" + n.Audience}
	if minTTL < 0 {
		minTTL = s.opt.MinTTL
	}
	if !s.audienceAllowed(c.ClientID, n.Audience) {
		return Access{}, ev, ErrAudienceNotAllowed.With(n.Audience, nil)
	}
	key := n.key(id)
	if e, ok := s.cache.get(key, s.opt.Now(), minTTL); ok {
		if !c.CanActFor(e.userID) {
			return Access{}, ev, vault.ErrNotFound
		}
		ev.Subject, ev.SessionID, ev.Detail = e.userID, e.sessionID, "cache:"+n.Audience
		return s.answer(e), ev, nil
	}
	// The subject token only has to be valid for the exchange itself.
	base, _, err := s.plain(ctx, c, id, 0)
	if err != nil {
		return Access{}, ev, err
	}
	ev.Subject, ev.SessionID = base.userID, base.sessionID
	if missing := notIn(scopeSet(n.Scope), scopeSet(base.scope)); len(missing) > 0 {
		return Access{}, ev, ErrScopeNotGranted.With(strings.Join(missing, " "), nil)
	}
	ch := s.group.DoChan("exchange\x00"+key, func() (any, error) {
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.opt.RefreshDeadline)
		defer cancel()
		since := s.cache.evictionSeq()
		ts, err := s.kc.ExchangeForAudience(rctx, base.accessToken, n.Audience, n.Scope)
		if err != nil {
			return nil, err
		}
		// The row may have been deleted while Keycloak answered: its owner must still
		// see it, and no eviction may have passed, for the token to be kept.
		if _, err := s.vault.Lookup(rctx, caller.Caller{Subject: base.userID}, id); err != nil {
			return nil, err
		}
		e := entry{key: key, id: id, userID: base.userID, sessionID: base.sessionID, accessToken: ts.AccessToken,
			tokenType: ts.TokenType, scope: ts.Scope, expiry: ts.Expiry}
		s.cache.putUnlessEvicted(e, since)
		return e, nil
	})
	select {
	case <-ctx.Done():
		return Access{}, ev, ctx.Err()
	case r := <-ch:
		if r.Err != nil {
			return Access{}, ev, r.Err
		}
		return s.answer(r.Val.(entry)), ev, nil
	}
}

// audienceAllowed reports whether a caller whose token was issued to client may ask
// for a token narrowed to audience.
func (s *Service) audienceAllowed(client, audience string) bool {
	if list, ok := s.opt.AudiencesByClient[client]; ok {
		return slices.Contains(list, audience)
	}
	return len(s.opt.Audiences) == 0 || slices.Contains(s.opt.Audiences, audience)
}

// notIn returns the elements of want that are not in have (both sorted).
func notIn(want, have []string) []string {
	var out []string
	for _, w := range want {
		if _, ok := slices.BinarySearch(have, w); !ok {
			out = append(out, w)
		}
	}
	return out
}

// scopeSet splits a scope parameter into its sorted, distinct scope tokens.
func scopeSet(scope string) []string {
	f := strings.Fields(scope)
	slices.Sort(f)
	return slices.Compact(f)
}
