package app_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/auth-manager/auth-manager/internal/app"
	"github.com/auth-manager/auth-manager/internal/testenv"
)

// TestMetricsListenerHasTheAPITimeouts: with METRICS_ADDR, the metrics listener closes
// an idle keep-alive connection after HTTP_IDLE_TIMEOUT, as the API listener does,
// instead of holding it open for ever.
func TestMetricsListenerHasTheAPITimeouts(t *testing.T) {
	cfg := testenv.NewServiceConfig(t)
	cfg.MetricsAddr = fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t))
	cfg.HTTP.IdleTimeout = time.Second
	cfg.HTTP.ReadTimeout = time.Second
	logs := &testenv.LogBuffer{}
	ctx, cancel := context.WithCancel(context.Background())
	a, err := app.New(ctx, cfg, slog.New(slog.NewJSONHandler(logs, nil)))
	require.NoError(t, err)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	served := make(chan error, 1)
	go func() { served <- a.Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		assert.NoError(t, <-served)
		a.Close()
	})
	require.Eventually(t, func() bool {
		c, err := net.Dial("tcp", cfg.MetricsAddr)
		if err == nil {
			c.Close()
		}
		return err == nil
	}, 10*time.Second, 20*time.Millisecond, "metrics listener; log:\n%s", logs)

	for name, addr := range map[string]string{"metrics": cfg.MetricsAddr, "api": ln.Addr().String()} {
		t.Run(name, func(t *testing.T) {
			path := "/metrics"
			if name == "api" {
				path = "/health"
			}
			conn, err := net.Dial("tcp", addr)
			require.NoError(t, err)
			defer conn.Close()
			_, err = fmt.Fprintf(conn, "GET %s HTTP/1.1\r\nHost: test\r\n\r\n", path)
			require.NoError(t, err)
			r := bufio.NewReader(conn)
			resp, err := http.ReadResponse(r, nil)
			require.NoError(t, err)
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			require.Equal(t, http.StatusOK, resp.StatusCode)

			idleSince := time.Now()
			require.NoError(t, conn.SetReadDeadline(time.Now().Add(10*time.Second)))
			_, err = r.ReadByte()
			var timeout net.Error
			require.False(t, errors.As(err, &timeout) && timeout.Timeout(), "the idle connection was still open after 10 s")
			assert.ErrorIs(t, err, io.EOF, "the server closes the idle connection")
			assert.Less(t, time.Since(idleSince), 5*time.Second, "closed after about HTTP_IDLE_TIMEOUT (1 s)")
		})
	}
}
