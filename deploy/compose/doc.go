// Package compose holds no code: its tests check docker-compose.yml and the realm file
// it imports (deploy/compose/keycloak) without a Docker engine, so that the compose
// stack keeps working end to end as the service and the dev realm change. They run in
// `go test ./...` and in `make deploy-check`.
package compose
