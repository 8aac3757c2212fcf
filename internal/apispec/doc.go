// Package apispec turns the Swagger 2.0 document that swag generates from the handlers'
// annotations (api/swagger.json) into the service's published OpenAPI 3.0.3 document
// (api/openapi.json and api/openapi.yaml), and validates it with kin-openapi.
//
// The conversion is kin-openapi's openapi2conv plus what swag 1.x cannot say in 2.0: the
// bearer scheme as an HTTP bearer scheme, an explicit (possibly empty) security
// requirement on every operation, the error codes each failure answer may carry with an
// example envelope per code, and the headers every answer has. It must stay a pure
// function of its input, so that `make api-check` can regenerate and compare.
package apispec
