// Package api holds the service's published contract and the pages that show it: the
// OpenAPI 3.0.3 document (openapi.json and openapi.yaml), made by internal/apispec from
// the Swagger 2.0 document that swag generates from the handlers' annotations
// (swagger.json and swagger.yaml, kept as the intermediate), all committed (`make api`
// regenerates them, `make api-check` fails when they are stale or invalid), and the
// Swagger UI and ReDoc files vendored from their pinned npm packages under ui/. Everything is embedded so that the binary serves its docs
// offline. Nothing here may be edited by hand except this file and ui/SOURCES' header.
package api

import "embed"

// Spec is the published OpenAPI 3.0.3 document, as committed (served at /openapi.json).
//
//go:embed openapi.json
var Spec []byte

// SpecYAML is the same document in YAML (served at /openapi.yaml).
//
//go:embed openapi.yaml
var SpecYAML []byte

// UI holds the vendored browser assets: ui/swagger-ui/* (npm swagger-ui-dist) and
// ui/redoc/* (npm redoc), with ui/SOURCES naming each file's package, version and
// SHA-256.
//
//go:embed ui
var UI embed.FS
