package httpapi

import "net/http"

// ValidateAnswer is the payload of GET /v1/validate-token.
type ValidateAnswer struct {
	Valid         bool   `json:"valid" example:"true"`
	Subject       string `json:"sub" example:"3f1c2a9e-1b7d-4c55-9a51-5c0f4b8f9d11"`
	SessionID     string `json:"sid,omitempty" example:"8d2f0c1e-7a6b-4e2d-9f3c-1b2a3c4d5e6f"`
	ExpiresAt     int64  `json:"exp" example:"1767225600"`
	Scope         string `json:"scope" example:"openid profile email"`
	ClientID      string `json:"client_id" example:"my-frontend"`
	Username      string `json:"username,omitempty" example:"alice"`
	ServiceCaller bool   `json:"service_caller" example:"false"`
} // @name ValidateAnswer

// handleValidateToken reports the bearer token's identity; authentication itself
// happened in requireCaller (introspection or local JWT verification).
//
//	@Summary	Validate the bearer token
//	@ID			validateToken
//	@Tags		tokens
//	@Security	Bearer
//	@Produce	json
//	@Success	200	{object}	DataEnvelope[ValidateAnswer]
//	@Failure	401	{object}	ErrorEnvelope	"unauthorized or token_not_active"
//	@Failure	429	{object}	ErrorEnvelope	"rate_limited: too many failed authentications from the client's address (Retry-After), and this token fails the local check too (signature, issuer, type, exp); any authenticated route may answer it, never to a token that passes that check"
//	@Failure	502	{object}	ErrorEnvelope
//	@Failure	503	{object}	ErrorEnvelope
//	@Router		/v1/validate-token [get]
func handleValidateToken() http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		c := mustCaller(r)
		encode(w, http.StatusOK, ValidateAnswer{Valid: true, Subject: c.Subject, SessionID: c.SessionID,
			ExpiresAt: c.ExpiresAt, Scope: c.Scope, ClientID: c.ClientID, Username: c.Username, ServiceCaller: c.Service})
	}
}
