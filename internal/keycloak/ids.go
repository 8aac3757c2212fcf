package keycloak

import (
	"errors"
	"fmt"
)

// ErrInvalidID means a session or user id is not in Keycloak's id alphabet: it names
// nothing at Keycloak, so no admin URL is built from it.
var ErrInvalidID = errors.New("keycloak: not a Keycloak id")

// ValidSessionID reports whether s can be a Keycloak session id: a UUID, or since
// Keycloak 26 a URL-safe base64 random string; 1 to 128 of [A-Za-z0-9_-]. Dots are
// outside the alphabet, so "." and ".." can never reach an admin path as a segment.
func ValidSessionID(s string) bool {
	return len(s) >= 1 && len(s) <= 128 && allBytes(s, func(c byte) bool {
		return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-'
	})
}

// ValidUserID reports whether s can be a Keycloak user id: a UUID for local users,
// "f:<provider>:<external id>" for federated ones; 1 to 255 of [A-Za-z0-9_:@.-], and
// never a dot-only path segment.
func ValidUserID(s string) bool {
	if s == "." || s == ".." {
		return false
	}
	return len(s) >= 1 && len(s) <= 255 && allBytes(s, func(c byte) bool {
		return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
			c == '_' || c == ':' || c == '@' || c == '.' || c == '-'
	})
}

func allBytes(s string, ok func(byte) bool) bool {
	for i := 0; i < len(s); i++ {
		if !ok(s[i]) {
			return false
		}
	}
	return true
}

func checkSessionID(sid string) error {
	if !ValidSessionID(sid) {
		return fmt.Errorf("%w: session id", ErrInvalidID)
	}
	return nil
}

func checkUserID(id string) error {
	if !ValidUserID(id) {
		return fmt.Errorf("%w: user id", ErrInvalidID)
	}
	return nil
}
