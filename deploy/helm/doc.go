// Package helm holds no code: its tests check the Helm chart's monitoring files
// against the service without a cluster. Every metric the Grafana dashboard and the
// alert rules name is one the service exports, with the labels they match on, and
// every alert's runbook link is a heading of docs/observability.md. They run in
// `go test ./...` and in `make deploy-check` (which also runs promtool on the rendered
// rules).
package helm
