// Package tracing is the service's OpenTelemetry wiring: the tracer provider (an OTLP
// exporter, off unless OTEL_EXPORTER_OTLP_ENDPOINT or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT
// is set), spans for PostgreSQL queries (pgx's tracer interface), client spans and W3C
// traceparent for Keycloak calls, and a log handler that puts the trace id on every
// line logged with a traced context. Spans carry SQL text and URLs without their query
// strings, never query arguments, tokens or form bodies.
package tracing
