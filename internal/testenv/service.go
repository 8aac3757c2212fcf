package testenv

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/auth-manager/auth-manager/internal/app"
	"github.com/auth-manager/auth-manager/internal/config"
)

// Service is the whole service running in-process on a fresh database.
type Service struct {
	URL  string
	App  *app.App
	Logs *LogBuffer
}

// StartService starts the service with cfg (whose database should come from
// Database) behind an httptest.Server; everything stops when the test ends.
func StartService(t testing.TB, cfg config.Config, opts ...app.Option) *Service {
	t.Helper()
	logs := &LogBuffer{}
	log := slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	a, err := app.New(ctx, cfg, log, opts...)
	Must(t, err, "start service")
	srv := httptest.NewServer(a.Handler)
	t.Cleanup(func() { srv.Close(); a.Close() })
	return &Service{URL: srv.URL, App: a, Logs: logs}
}

// NewServiceConfig is the stack's configuration on a fresh database.
func NewServiceConfig(t testing.TB) config.Config {
	t.Helper()
	cfg := Config(t)
	cfg.Database.URL = config.Secret(Database(t))
	return cfg
}

// Response is a decoded answer.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
}

// JSON decodes the body into a generic map (failing the test if it is not an object).
func (r Response) JSON(t testing.TB) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.Body, &m); err != nil {
		t.Fatalf("testenv: answer is not a JSON object: %v: %s", err, r.Body)
	}
	return m
}

// Data returns the envelope's data object.
func (r Response) Data(t testing.TB) map[string]any {
	t.Helper()
	d, ok := r.JSON(t)["data"].(map[string]any)
	if !ok {
		t.Fatalf("testenv: no data object in %s", r.Body)
	}
	return d
}

// DataList returns the envelope's data array.
func (r Response) DataList(t testing.TB) []any {
	t.Helper()
	d, ok := r.JSON(t)["data"].([]any)
	if !ok {
		t.Fatalf("testenv: no data array in %s", r.Body)
	}
	return d
}

// Do sends a request to the service with an optional bearer token and JSON body.
func (s *Service) Do(t testing.TB, method, path, bearer string, body any) Response {
	t.Helper()
	return Do(t, method, s.URL+path, bearer, body)
}

// Do sends a request to any URL.
func Do(t testing.TB, method, url, bearer string, body any) Response {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		Must(t, err, "encode body")
		rd = bytes.NewReader(b)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, url, rd)
	Must(t, err, "build request")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	resp, err := http.DefaultClient.Do(req)
	Must(t, err, method+" "+url)
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return Response{Status: resp.StatusCode, Header: resp.Header, Body: b}
}

// LogBuffer captures log output safely across goroutines.
type LogBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

// Write implements io.Writer.
func (l *LogBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

// String returns everything logged so far.
func (l *LogBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}
