package httpapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
)

// DataEnvelope is every success answer: {"data": …}.
type DataEnvelope[T any] struct {
	Data T `json:"data"`
} // @name DataEnvelope

// ErrorEnvelope is every failure answer.
type ErrorEnvelope struct {
	Error   string         `json:"error" example:"Token not found"`
	Code    string         `json:"code" example:"token_not_found"`
	Reason  *string        `json:"reason" extensions:"x-nullable"`
	Details map[string]any `json:"details" extensions:"x-nullable"`
} // @name ErrorEnvelope

// encode writes v as the success envelope.
func encode[T any](w http.ResponseWriter, status int, v T) {
	writeJSON(w, status, DataEnvelope[T]{Data: v})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store") // answers may carry tokens
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false) // answers are JSON for programs: keep "&" in URLs readable, as the Python service did
	_ = enc.Encode(v)
}

// decode reads a JSON object body into v: one object, no unknown fields, bounded size
// (the body limit middleware caps the reader). Errors are *apiError values ready for
// the envelope; they never echo the body.
func decode(r *http.Request, v any) error {
	if ct := r.Header.Get("Content-Type"); ct != "" && !strings.HasPrefix(strings.ToLower(ct), "application/json") {
		return validation("body", "Content-Type must be application/json")
	}
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var tooBig *http.MaxBytesError
		var typeErr *json.UnmarshalTypeError
		switch {
		case errors.As(err, &tooBig):
			return &apiError{Status: http.StatusRequestEntityTooLarge, Code: "validation_error",
				Message: "Request body too large", Details: map[string]any{"body": fmt.Sprintf("at most %d bytes", tooBig.Limit)}}
		case errors.Is(err, io.EOF):
			return validation("body", "a JSON object is required")
		case errors.As(err, &typeErr) && typeErr.Field != "":
			return validation("body."+typeErr.Field, "must be a "+typeErr.Type.String())
		case strings.HasPrefix(err.Error(), "json: unknown field "):
			return validation("body", "unknown field "+strings.TrimPrefix(err.Error(), "json: unknown field "))
		default:
			return validation("body", "malformed JSON")
		}
	}
	if dec.More() {
		return validation("body", "a single JSON object is expected")
	}
	return nil
}
