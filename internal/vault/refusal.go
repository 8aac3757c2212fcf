package vault

import (
	"errors"
	"strings"

	"github.com/auth-manager/auth-manager/internal/keycloak"
	"github.com/auth-manager/auth-manager/internal/store"
)

// markRefused records Keycloak's permanent refusal of row's token (invalid_grant) in
// the row: it becomes invalid, with Keycloak's reason in last_error. ok is false when
// err is not such a refusal; row is then returned unchanged.
func markRefused(row store.Row, err error) (marked store.Row, ok bool) {
	var ke *keycloak.Error
	if !keycloak.IsInvalidGrant(err) || !errors.As(err, &ke) {
		return row, false
	}
	row.Status, row.LastError = store.StatusInvalid, ke.Code+": "+ke.Description
	return row, true
}

// refusal is the error an invalid row answers with: the Keycloak refusal that marked
// it, rebuilt from last_error, so that later calls fail exactly as the first one did
// without asking Keycloak again.
func refusal(row store.Row) error {
	code, desc, _ := strings.Cut(row.LastError, ": ")
	if code == "" {
		code = "invalid_grant"
	}
	return &keycloak.Error{Op: "refresh", Status: 400, Code: code, Description: desc}
}
