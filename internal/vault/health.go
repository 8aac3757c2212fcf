package vault

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/auth-manager/auth-manager/internal/caller"
	"github.com/auth-manager/auth-manager/internal/keycloak"
	"github.com/auth-manager/auth-manager/internal/store"
)

// invalidEvent is token.invalid for row m, which Keycloak refused with err: Keycloak's
// error and description and, for an offline row, where the user can consent again.
func (s *Service) invalidEvent(m store.Meta, err error) store.Event {
	details := map[string]any{}
	var ke *keycloak.Error
	if errors.As(err, &ke) {
		details["error"], details["error_description"] = ke.Code, ke.Description
	}
	if m.Type == store.Offline && s.opt.ConsentURL != "" {
		details["consent_url"] = strings.NewReplacer("{user_id}", m.UserID, "{persistent_token_id}", m.ID).Replace(s.opt.ConsentURL)
	}
	return store.EventOf(store.EventTokenInvalid, store.CauseInvalidGrant, m, details)
}

// failureWriteTimeout bounds the write of a failed refresh, which outlives the caller's
// request.
const failureWriteTimeout = 5 * time.Second

// recordFailure counts a refresh of row m that Keycloak failed without refusing the
// token; past FailingAfter failures in a row the store announces token.refresh_failing.
func (s *Service) recordFailure(ctx context.Context, m store.Meta, err error) {
	if s.opt.FailingAfter <= 0 {
		return
	}
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), failureWriteTimeout)
	defer cancel()
	announced, rerr := s.st.RecordRefreshFailure(wctx, m, failureReason(err), s.opt.FailingAfter)
	switch {
	case errors.Is(rerr, store.ErrNotFound):
	case rerr != nil:
		s.opt.Log.WarnContext(ctx, "vault: a failed refresh was not counted", "row_id", m.ID, "error", rerr.Error())
	case announced:
		s.opt.Log.InfoContext(ctx, "vault: refreshes of a stored token keep failing; token.refresh_failing announced",
			"row_id", m.ID, "failures_at_least", s.opt.FailingAfter)
	}
}

// failureReason names a failed refresh in Keycloak's words (never a token).
func failureReason(err error) string {
	var ke *keycloak.Error
	switch {
	case errors.As(err, &ke):
		return ke.Code + ": " + ke.Description
	case errors.Is(err, keycloak.ErrUnavailable):
		return "keycloak unavailable"
	case errors.Is(err, context.DeadlineExceeded):
		return "keycloak did not answer in time"
	}
	return "refresh failed"
}

// CauseBackchannelLogout is the event cause of deletions a back-channel logout asks
// for (see store's causes).
const CauseBackchannelLogout = store.CauseBackchannelLogout

// CauseOf is the event cause of an operation c asks for: store.CauseService for a
// service caller, store.CauseUser otherwise.
func CauseOf(c caller.Caller) string {
	if c.Service {
		return store.CauseService
	}
	return store.CauseUser
}
