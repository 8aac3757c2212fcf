package httpapi

import (
	"log/slog"
	"net/http"

	"github.com/auth-manager/auth-manager/internal/problem"
	"github.com/auth-manager/auth-manager/internal/reqctx"
)

// apiError is the envelope's error: package problem's, the one vocabulary. Handlers
// build them for input problems; every other error is mapped by problem.Of.
type apiError = problem.Error

// validation is a 422 for one field (query.id, body.refresh_token, …).
func validation(field, why string) *apiError { return problem.Validation(field, why) }

// errorWriter writes the failure envelope and logs the cause.
type errorWriter struct{ log *slog.Logger }

func (ew errorWriter) write(w http.ResponseWriter, r *http.Request, err error) {
	ae := problem.Of(err)
	// ERROR is for our own faults; a dependency that is down or refuses (502/503) is a
	// WARN, and a deliberate 503 (draining) is covered by that too.
	level := slog.LevelInfo
	switch {
	case ae.Status == http.StatusBadGateway || ae.Status == http.StatusServiceUnavailable:
		level = slog.LevelWarn
	case ae.Status >= 500:
		level = slog.LevelError
	}
	ew.log.Log(r.Context(), level, "request failed", "request_id", reqctx.RequestID(r.Context()),
		"code", ae.Code, "status", ae.Status, "error", err.Error())
	env := ErrorEnvelope{Error: ae.Message, Code: ae.Code, Details: ae.Details}
	if ae.Reason != "" {
		reason := ae.Reason
		env.Reason = &reason
	}
	if ae.Status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="auth-manager"`)
	}
	writeJSON(w, ae.Status, env)
}
