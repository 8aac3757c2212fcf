package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/auth-manager/auth-manager/internal/testenv"
)

const (
	drainDelay      = time.Second     // SHUTDOWN_DRAIN_DELAY
	shutdownTimeout = 5 * time.Second // SHUTDOWN_TIMEOUT
	loadWorkers     = 6
	maxPerWorker    = 4000 // bounds the load even if the process never exits
)

// TestGracefulShutdown starts the real binary under a steady load, sends SIGTERM and
// checks the rolling-update contract: readiness turns 503 while the listener stays open
// for the drain delay (and /health keeps answering), a request whose handler is still
// running when the listener closes gets its whole answer, every answer is complete and
// valid (no 5xx but readiness's 503), only connections attempted after the listener
// closed are refused, and the process exits 0 within drain delay + shutdown timeout.
func TestGracefulShutdown(t *testing.T) {
	testenv.Integration(t)
	bin := testenv.Binary(t)
	base, proc, logs := startService(t, bin)

	ctx, stopLoad := context.WithCancel(context.Background())
	defer stopLoad()
	rec := &recorder{}
	var wg sync.WaitGroup
	for i := range loadWorkers {
		wg.Go(func() { loadWorker(ctx, base, i, rec) })
	}
	time.Sleep(500 * time.Millisecond) // some load before the signal

	slow := openSlowRequest(t, base) // body half sent: its handler is running from here on
	sigAt := time.Now()
	rec.mark(sigAt)
	require.NoError(t, proc.Process.Signal(syscall.SIGTERM))

	// Finish the slow request only once the listener is closed.
	require.Eventually(t, func() bool { return rec.refusedAt() != (time.Time{}) },
		drainDelay+3*time.Second, 10*time.Millisecond, "the listener never closed")
	slowStatus, slowBody, slowErr := slow.finish()

	exited := make(chan error, 1)
	go func() { exited <- proc.Wait() }()
	var waitErr error
	select {
	case waitErr = <-exited:
	case <-time.After(drainDelay + shutdownTimeout + 2*time.Second):
		_ = proc.Process.Kill()
		<-exited
		t.Fatalf("still running %s after SIGTERM (grace period exceeded); log:\n%s", time.Since(sigAt), logs)
	}
	exitAfter := time.Since(sigAt)
	stopLoad()
	wg.Wait()

	require.NoError(t, waitErr, "exit status; log:\n%s", logs)
	assert.Equal(t, 0, proc.ProcessState.ExitCode())
	assert.Less(t, exitAfter, drainDelay+shutdownTimeout, "exit within the grace period")

	rec.mu.Lock()
	defer rec.mu.Unlock()
	assert.Empty(t, rec.failures, "requests that failed or came back incomplete (of %d answered)", rec.answered)
	assert.Greater(t, rec.okBeforeSignal, 0, "no successful request before SIGTERM")
	require.False(t, rec.first503.IsZero(), "readiness never answered 503")
	require.False(t, rec.firstRefused.IsZero(), "the listener never closed")
	assert.True(t, rec.first503.Before(rec.firstRefused), "readiness must turn 503 before the listener closes")
	assert.GreaterOrEqual(t, rec.firstRefused.Sub(sigAt), drainDelay*8/10,
		"the listener closed %s after SIGTERM, before the drain delay", rec.firstRefused.Sub(sigAt))
	assert.Greater(t, rec.healthDuringDrain, 0, "GET /health should still answer 200 while draining")
	assert.Zero(t, rec.readyOKAfter503, "readiness answered 200 again after turning 503")

	require.NoError(t, slowErr, "the request in flight when the listener closed; log:\n%s", logs)
	assert.Equal(t, http.StatusOK, slowStatus, string(slowBody))
	var stored struct {
		Data struct {
			ID string `json:"persistent_token_id"`
		} `json:"data"`
	}
	assert.NoError(t, json.Unmarshal(slowBody, &stored), string(slowBody))
	assert.NotEmpty(t, stored.Data.ID, "the in-flight store did not complete: %s", slowBody)
	// The in-flight store answers after the drain began, and its access line with it.
	out := logs.String()
	assert.GreaterOrEqual(t, strings.Count(out, `"msg":"http request"`), rec.answered+1, "an access line per answer")
	stop := strings.Index(out, `"msg":"shutting down"`)
	store := strings.Index(out, `"path":"/v1/refresh-token"`)
	assert.True(t, stop >= 0 && store > stop, "the in-flight store's access line is written after the drain began")
	t.Logf("answered %d requests; readiness 503 after %s, listener closed after %s, exit after %s",
		rec.answered, rec.first503.Sub(sigAt), rec.firstRefused.Sub(sigAt), exitAfter)
}

// startService runs `auth-manager serve` with the stack's configuration on a fresh
// database and a free port, and waits until it is ready.
func startService(t *testing.T, bin string) (string, *exec.Cmd, *testenv.LogBuffer) {
	t.Helper()
	port := testenv.FreePort(t)
	cmd := exec.Command(bin, "serve")
	cmd.Dir = t.TempDir() // no .env there
	cmd.Env = append(os.Environ(), testenv.ProcessEnv(testenv.NewServiceConfig(t), port)...)
	cmd.Env = append(cmd.Env,
		"SHUTDOWN_DRAIN_DELAY="+strconv.Itoa(int(drainDelay/time.Second)),
		"SHUTDOWN_TIMEOUT="+strconv.Itoa(int(shutdownTimeout/time.Second)),
	)
	logs := &testenv.LogBuffer{}
	cmd.Stdout, cmd.Stderr = logs, logs
	require.NoError(t, cmd.Start())
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
			_, _ = cmd.Process.Wait()
		}
	})
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	require.Eventually(t, func() bool {
		resp, err := http.Get(base + "/health/ready")
		if err != nil {
			return false
		}
		_ = resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}, 60*time.Second, 100*time.Millisecond, "service not ready; log:\n%s", logs)
	return base, cmd, logs
}

// slowRequest is a POST /v1/refresh-token (a real user's token, stored by the handler)
// whose JSON body is sent in two parts, so that its handler is running, blocked on the
// body, while the server drains and closes its listener.
type slowRequest struct {
	conn net.Conn
	rest string
}

func openSlowRequest(t *testing.T, base string) *slowRequest {
	t.Helper()
	tk := testenv.Login(t, testenv.Alice)
	body := `{"refresh_token":"` + tk.RefreshToken + `"}`
	half := len(body) / 2
	conn, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
	require.NoError(t, err)
	t.Cleanup(func() { _ = conn.Close() })
	head := "POST /v1/refresh-token HTTP/1.1\r\nHost: auth-manager\r\n" +
		"Authorization: Bearer " + tk.AccessToken + "\r\nContent-Type: application/json\r\n" +
		"Content-Length: " + strconv.Itoa(len(body)) + "\r\n\r\n"
	_, err = io.WriteString(conn, head+body[:half])
	require.NoError(t, err)
	time.Sleep(300 * time.Millisecond) // past authentication, into the body
	return &slowRequest{conn: conn, rest: body[half:]}
}

func (s *slowRequest) finish() (int, []byte, error) {
	_ = s.conn.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(s.conn, s.rest); err != nil {
		return 0, nil, err
	}
	resp, err := http.ReadResponse(bufio.NewReader(s.conn), nil)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return resp.StatusCode, body, err
}

// recorder collects what the load saw. Every field is guarded by mu.
type recorder struct {
	mu                sync.Mutex
	signalAt          time.Time
	answered          int
	okBeforeSignal    int
	first503          time.Time
	firstRefused      time.Time
	healthDuringDrain int
	readyOKAfter503   int
	failures          []string
}

func (r *recorder) mark(at time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.signalAt = at
}

func (r *recorder) refusedAt() time.Time {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.firstRefused
}

func (r *recorder) fail(format string, a ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.failures) < 20 {
		r.failures = append(r.failures, fmt.Sprintf(format, a...))
	}
}

// loadWorker alternates GET /health and GET /health/ready on a keep-alive client until
// ctx ends, the process is gone or maxPerWorker requests were sent.
func loadWorker(ctx context.Context, base string, id int, rec *recorder) {
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 1}}
	defer client.CloseIdleConnections()
	for n := 0; n < maxPerWorker && ctx.Err() == nil; n++ {
		path := "/health"
		if (n+id)%2 == 1 {
			path = "/health/ready"
		}
		sent := time.Now()
		status, body, err := get(ctx, client, base+path)
		now := time.Now()
		switch {
		case ctx.Err() != nil:
			return
		case err != nil:
			var op *net.OpError
			if errors.As(err, &op) && op.Op == "dial" && errors.Is(err, syscall.ECONNREFUSED) {
				// Not accepted: the listener is closed. Nothing to finish.
				rec.mu.Lock()
				if rec.firstRefused.IsZero() {
					rec.firstRefused = now
				}
				rec.mu.Unlock()
				time.Sleep(20 * time.Millisecond)
				continue
			}
			rec.fail("%s: %v", path, err)
		default:
			rec.answer(path, sent, now, status, body)
		}
		time.Sleep(3 * time.Millisecond)
	}
}

// answer checks one complete response and files it.
func (r *recorder) answer(path string, sent, now time.Time, status int, body []byte) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.answered++
	// Answered after SIGTERM was sent: readiness may say 503 from then on.
	signalled := !r.signalAt.IsZero() && now.After(r.signalAt)
	bad := func(why string) {
		if len(r.failures) < 20 {
			r.failures = append(r.failures, fmt.Sprintf("%s: %d %s: %s", path, status, why, body))
		}
	}
	switch {
	case path == "/health" && status == http.StatusOK:
		if !bytes.Equal(bytes.TrimSpace(body), []byte(`"OK"`)) {
			bad("body is not \"OK\"")
		}
		if signalled {
			r.healthDuringDrain++
		}
	case path == "/health/ready" && status == http.StatusOK:
		if err := checkEnvelope(body, status); err != nil {
			bad(err.Error())
		}
		if !r.first503.IsZero() && sent.After(r.first503) {
			r.readyOKAfter503++
		}
	case path == "/health/ready" && status == http.StatusServiceUnavailable && signalled:
		if err := checkEnvelope(body, status); err != nil {
			bad(err.Error())
		}
		if r.first503.IsZero() {
			r.first503 = now
		}
		return
	default:
		bad("unexpected status")
		return
	}
	if !signalled {
		r.okBeforeSignal++
	}
}

func get(ctx context.Context, c *http.Client, url string) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, nil, err
	}
	resp, err := c.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	if resp.Header.Get("X-Request-ID") == "" {
		return 0, nil, errors.New("no X-Request-ID")
	}
	body, err := io.ReadAll(resp.Body) // a truncated body fails here (Content-Length)
	return resp.StatusCode, body, err
}

// checkEnvelope validates a readiness answer: 200 with data.database_status
// "connected", or 503 with code "service_unavailable".
func checkEnvelope(body []byte, status int) error {
	var env struct {
		Data *struct {
			DatabaseStatus string `json:"database_status"`
		} `json:"data"`
		Error   string  `json:"error"`
		Code    string  `json:"code"`
		Details *any    `json:"details"`
		Reason  *string `json:"reason"`
	}
	if err := json.Unmarshal(body, &env); err != nil {
		return fmt.Errorf("not JSON: %v", err)
	}
	switch status {
	case http.StatusOK:
		if env.Data == nil || env.Data.DatabaseStatus != "connected" {
			return errors.New("200 without data.database_status=connected")
		}
	case http.StatusServiceUnavailable:
		if env.Code != "service_unavailable" || env.Error == "" {
			return fmt.Errorf("503 with code %q, error %q", env.Code, env.Error)
		}
	}
	return nil
}
