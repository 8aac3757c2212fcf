package main

import (
	"bytes"
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/auth-manager/auth-manager/internal/config"
	"github.com/auth-manager/auth-manager/internal/testenv"
)

// TestHealthcheckAgainstService asks the real service (in-process, on a fresh
// database) through the subcommand: ready answers 200, so the probe succeeds.
func TestHealthcheckAgainstService(t *testing.T) {
	svc := testenv.StartService(t, testenv.NewServiceConfig(t))
	var out bytes.Buffer
	err := run(context.Background(), []string{"healthcheck", "--url", svc.URL + "/health/ready"}, config.MapEnv(nil), &out, &out)
	require.NoError(t, err)
	assert.Contains(t, out.String(), "answered 200")
}

// TestHealthcheckFailures: anything but a 200 from the readiness URL is a failure, with
// a message saying what answered. The 503 and the redirect come from a stand-in server
// (draining or a proxy in front are not states the test can put the real one in cheaply).
func TestHealthcheckFailures(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/draining":
			w.WriteHeader(http.StatusServiceUnavailable)
		case "/moved":
			http.Redirect(w, r, "/ok", http.StatusFound)
		default:
			w.WriteHeader(http.StatusOK)
		}
	}))
	defer srv.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	closed := "http://" + ln.Addr().String() + "/health/ready"
	require.NoError(t, ln.Close())

	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"not ready", []string{"--url", srv.URL + "/draining"}, "answered 503"},
		{"redirect is not ready", []string{"--url", srv.URL + "/moved"}, "answered 302"},
		{"nothing listening", []string{"--url", closed}, "connect"},
		{"not a URL", []string{"--url", "localhost:8000"}, "absolute http(s) URL"},
		{"stray argument", []string{"now"}, "unexpected argument"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out bytes.Buffer
			err := run(context.Background(), append([]string{"healthcheck"}, tc.args...), config.MapEnv(nil), &out, &out)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
		})
	}

	t.Run("default URL uses PORT", func(t *testing.T) {
		_, port, err := net.SplitHostPort(srv.Listener.Addr().String())
		require.NoError(t, err)
		var out bytes.Buffer
		err = run(context.Background(), []string{"healthcheck"}, config.MapEnv(map[string]string{"PORT": port}), &out, &out)
		require.NoError(t, err)
		assert.Contains(t, out.String(), "http://127.0.0.1:"+port+"/health/ready answered 200")
	})
}
