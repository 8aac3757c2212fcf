package caller

// Caller is an authenticated caller.
type Caller struct {
	Subject   string // token sub: the user id, or the service account's user id
	SessionID string // token sid: the Keycloak session; empty for most service tokens
	ClientID  string // the client the token was issued to (azp)
	Username  string
	Scope     string
	ExpiresAt int64 // unix seconds
	// Service is true for a token carrying AUTH_MANAGER_SERVICE_ROLE: it may act on any
	// user's stored tokens.
	Service bool
}

// Whose resolves whose data a call is about: the caller's own when userID is empty
// or the caller's, userID for a service caller. ok is false when a user caller names
// another user (the feature answers forbidden).
func (c Caller) Whose(userID string) (subject string, ok bool) {
	switch {
	case userID == "" || userID == c.Subject:
		return c.Subject, true
	case c.Service:
		return userID, true
	}
	return "", false
}

// CanActFor reports whether the caller may touch data of userID.
func (c Caller) CanActFor(userID string) bool {
	return c.Service || (c.Subject != "" && c.Subject == userID)
}
