package httpapi

// The general API information for the generated OpenAPI spec (api/swagger.json). swag
// reads these comments; `make api` regenerates the spec and `make api-check` fails when
// the committed spec differs from what the annotations produce.
//
//	@title						Auth Manager Service
//	@version					1.2.0
//	@description				Keeps users' Keycloak refresh and offline tokens encrypted and hands out access tokens minted from them.
//	@description				Every JSON answer is an envelope: `{"data": …}` on success, `{"error", "code", "reason", "details"}` on failure. Every answer carries `X-Request-ID`.
//	@license.name				MIT
//	@BasePath					/
//	@securityDefinitions.apikey	Bearer
//	@in							header
//	@name						Authorization
//	@description				Keycloak access token of the configured realm, sent as "Bearer <token>".
