// Package api holds the service's published contract and the pages that show it: the
// OpenAPI spec that swag generates from the handlers' annotations (swagger.json and
// swagger.yaml, committed; `make api` regenerates them, `make api-check` fails when
// they are stale) and the Swagger UI and ReDoc files vendored from their pinned npm
// packages under ui/. Everything is embedded so that the binary serves its docs
// offline. Nothing here may be edited by hand except this file and ui/SOURCES' header.
package api

import "embed"

// Spec is the generated OpenAPI (Swagger 2.0) document, as committed.
//
//go:embed swagger.json
var Spec []byte

// UI holds the vendored browser assets: ui/swagger-ui/* (npm swagger-ui-dist) and
// ui/redoc/* (npm redoc), with ui/SOURCES naming each file's package, version and
// SHA-256.
//
//go:embed ui
var UI embed.FS
