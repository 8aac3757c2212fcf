package tracing

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"strings"

	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"github.com/auth-manager/auth-manager/internal/config"
)

// propagator is W3C Trace Context: traceparent in, traceparent out to Keycloak.
var propagator = propagation.TraceContext{}

// NewProvider returns the tracer provider for cfg, or nil when tracing is off. Its
// exporter takes the other standard OTEL_EXPORTER_OTLP_* variables (headers, timeout,
// TLS) from the process environment; OTEL_TRACES_SAMPLER works as usual. Shut it down
// to flush the last spans.
func NewProvider(ctx context.Context, cfg config.Tracing, version string) (*sdktrace.TracerProvider, error) {
	endpoint := cfg.TracesEndpoint
	if endpoint == "" && cfg.Endpoint != "" {
		endpoint = strings.TrimRight(cfg.Endpoint, "/") + "/v1/traces"
	}
	if endpoint == "" {
		return nil, nil
	}
	exp, err := otlptracehttp.New(ctx, otlptracehttp.WithEndpointURL(endpoint))
	if err != nil {
		return nil, fmt.Errorf("tracing: OTLP exporter: %w", err)
	}
	res := resource.NewSchemaless(attribute.String("service.name", cfg.ServiceName), attribute.String("service.version", version))
	return sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp), sdktrace.WithResource(res)), nil
}

// Handler wraps the API handler in a server span per request (named after the route
// once it is known, see httpapi), continuing a trace a caller's traceparent started.
func Handler(tp trace.TracerProvider, h http.Handler) http.Handler {
	return otelhttp.NewHandler(h, "http", otelhttp.WithTracerProvider(tp), otelhttp.WithPropagators(propagator),
		otelhttp.WithSpanNameFormatter(func(_ string, r *http.Request) string { return r.Method }))
}

// Transport wraps a Keycloak transport: a client span per call, named for the endpoint
// (keycloak POST token, keycloak GET certs …), and traceparent on the request.
func Transport(tp trace.TracerProvider, rt http.RoundTripper) http.RoundTripper {
	return otelhttp.NewTransport(rt, otelhttp.WithTracerProvider(tp), otelhttp.WithPropagators(propagator),
		otelhttp.WithSpanNameFormatter(func(_ string, r *http.Request) string {
			return "keycloak " + r.Method + " " + endpointName(r.URL.Path)
		}))
}

// endpointName is the path after the realm's openid-connect prefix (token,
// token/introspect, certs …) or after the admin realm (admin users/…); ids are not
// removed from admin paths, so only the resource kind is kept there.
func endpointName(path string) string {
	if _, rest, ok := strings.Cut(path, "/protocol/openid-connect/"); ok {
		return rest
	}
	if _, rest, ok := strings.Cut(path, "/admin/realms/"); ok {
		parts := strings.Split(rest, "/")
		if len(parts) > 1 {
			return "admin " + parts[1]
		}
		return "admin realm"
	}
	if strings.HasSuffix(path, "/.well-known/openid-configuration") {
		return "discovery"
	}
	return "other"
}

// LogHandler adds trace_id and span_id to every record logged with a context that
// carries a sampled span.
func LogHandler(h slog.Handler) slog.Handler { return logHandler{h} }

type logHandler struct{ slog.Handler }

func (l logHandler) Handle(ctx context.Context, r slog.Record) error {
	if sc := trace.SpanContextFromContext(ctx); sc.IsValid() {
		r = r.Clone()
		r.AddAttrs(slog.String("trace_id", sc.TraceID().String()), slog.String("span_id", sc.SpanID().String()))
	}
	return l.Handler.Handle(ctx, r)
}

func (l logHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return logHandler{l.Handler.WithAttrs(as)}
}
func (l logHandler) WithGroup(name string) slog.Handler { return logHandler{l.Handler.WithGroup(name)} }
