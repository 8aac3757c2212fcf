package testenv

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/auth-manager/auth-manager/internal/config"
)

var (
	buildOnce sync.Once
	builtBin  string
	buildErr  error
)

// Binary builds cmd/auth-manager once per test binary and returns its path.
func Binary(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "am-bin-*")
		if err != nil {
			buildErr = err
			return
		}
		builtBin = filepath.Join(dir, "auth-manager")
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, "go", "build", "-o", builtBin, "./cmd/auth-manager")
		cmd.Dir = RepoRoot()
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build: %v: %s", err, out)
		}
	})
	Must(t, buildErr, "build the binary")
	return builtBin
}

// Process is `auth-manager serve` running as its own OS process.
type Process struct {
	t    testing.TB
	bin  string
	env  []string
	URL  string
	Logs *LogBuffer
	cmd  *exec.Cmd
	done chan struct{}
}

// ProcessEnv is the environment of a service process for cfg (as testenv.Config
// returns it, adjusted by the test), listening on port.
func ProcessEnv(cfg config.Config, port int) []string {
	k := cfg.Keycloak
	env := []string{
		"HOST=127.0.0.1", "PORT=" + strconv.Itoa(port), "LOG_LEVEL=INFO",
		"DATABASE_URL=" + cfg.Database.URL.Reveal(),
		"KEYCLOAK_ISSUER=" + k.BaseURL, "KEYCLOAK_REALM=" + k.Realm,
		"KEYCLOAK_CLIENT_ID=" + k.ClientID, "KEYCLOAK_CLIENT_SECRET=" + k.ClientSecret.Reveal(),
		"KEYCLOAK_CONSENT_REDIRECT_URI=" + k.ConsentRedirectURI,
		"KEYCLOAK_TIMEOUT=" + strconv.Itoa(int(k.Timeout/time.Second)),
		"KEYCLOAK_RETRIES=" + strconv.Itoa(k.Retries),
		"AUTH_MANAGER_TOKEN_VAULT_ENCRYPTION_KEY=" + cfg.EncryptionKey.Reveal(),
		"STATE_TOKEN_SECRET=" + cfg.StateSecret.Reveal(),
		"AUTH_MANAGER_ACCESS_TOKEN_CACHE_SIZE=" + strconv.Itoa(cfg.Tokens.CacheSize),
		"AUTH_MANAGER_AUTH_MODE=" + cfg.Auth.Mode,
		"AUTH_MANAGER_SERVICE_CLIENTS=" + strings.Join(cfg.Auth.ServiceClients, ","),
		"DATABASE_POOL_TIMEOUT=" + strconv.Itoa(max(int(cfg.Database.PoolTimeout/time.Second), 1)),
	}
	if k.Concurrency > 0 {
		env = append(env, "AUTH_MANAGER_KEYCLOAK_CONCURRENCY="+strconv.Itoa(k.Concurrency))
	}
	if cfg.SkipMigrations {
		env = append(env, "AUTH_MANAGER_SKIP_MIGRATIONS=true")
	}
	if k.URL != "" {
		env = append(env, "KEYCLOAK_URL="+k.URL)
	}
	if cfg.Tracing.Endpoint != "" {
		env = append(env, "OTEL_EXPORTER_OTLP_ENDPOINT="+cfg.Tracing.Endpoint)
	}
	return env
}

// StartProcess runs the binary with cfg on a free port and waits until it is ready.
// It is killed when the test ends.
func StartProcess(t testing.TB, cfg config.Config) *Process {
	t.Helper()
	port := FreePort(t)
	p := &Process{t: t, bin: Binary(t), env: ProcessEnv(cfg, port), URL: fmt.Sprintf("http://127.0.0.1:%d", port), Logs: &LogBuffer{}}
	p.Start()
	t.Cleanup(func() { p.Kill() })
	return p
}

// Start (re)starts the process and waits for readiness.
func (p *Process) Start() {
	p.t.Helper()
	cmd := exec.Command(p.bin, "serve")
	cmd.Dir = p.t.TempDir() // no .env there
	cmd.Env = append(os.Environ(), p.env...)
	cmd.Stdout, cmd.Stderr = p.Logs, p.Logs
	Must(p.t, cmd.Start(), "start the service")
	p.cmd, p.done = cmd, make(chan struct{})
	go func() { _ = cmd.Wait(); close(p.done) }()
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-p.done:
			p.t.Fatalf("testenv: service exited at start; log:\n%s", p.Logs)
		default:
		}
		if resp, err := http.Get(p.URL + "/health/ready"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	p.t.Fatalf("testenv: service not ready in 60 s; log:\n%s", p.Logs)
}

// Kill ends the process with SIGKILL (a crash) and waits for it.
func (p *Process) Kill() {
	if p.cmd == nil || p.cmd.Process == nil {
		return
	}
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.done
}

// Do sends a request to the process.
func (p *Process) Do(t testing.TB, method, path, bearer string, body any) Response {
	t.Helper()
	return Do(t, method, p.URL+path, bearer, body)
}
