//go:build resilience

package resilience

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os/exec"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/auth-manager/auth-manager/internal/app"
	"github.com/auth-manager/auth-manager/internal/config"
	"github.com/auth-manager/auth-manager/internal/store"
	"github.com/auth-manager/auth-manager/internal/testenv"
)

// result is one request's outcome, as a load loop records it.
type result struct {
	status int
	code   string // the envelope's code, for failures
	took   time.Duration
	err    error // transport error (the service did not answer)
}

var client = &http.Client{Timeout: 30 * time.Second}

// call sends one request without failing the test, for load loops.
func call(method, url, bearer string) result {
	start := time.Now()
	req, _ := http.NewRequest(method, url, nil)
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	resp, err := client.Do(req)
	if err != nil {
		return result{err: err, took: time.Since(start)}
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	r := result{status: resp.StatusCode, took: time.Since(start)}
	var env struct {
		Code string `json:"code"`
	}
	_ = json.Unmarshal(body, &env)
	r.code = env.Code
	return r
}

// seedOffline logs u into realm with offline_access n times and stores each offline
// token as an OFFLINE row through the vault (so it is sealed exactly as the service
// seals), returning the row ids.
func seedOffline(t *testing.T, cfg config.Config, realm string, users []testenv.User, n int) []string {
	t.Helper()
	a, err := app.New(context.Background(), cfg, testenv.DiscardLogger())
	require.NoError(t, err)
	defer a.Close()
	var ids []string
	for i := 0; i < n; i++ {
		u := users[i%len(users)]
		tk := testenv.PasswordLogin(t, realm, testenv.ServiceClient, testenv.ServiceClientSecret, u, "openid offline_access")
		cl := testenv.Claims(t, tk.AccessToken)
		row := store.Row{Meta: store.Meta{ID: store.NewID(), UserID: cl["sub"].(string), Type: store.Offline, SessionID: cl["sid"].(string)}}
		row, err := a.Vault.Seal(row, tk.RefreshToken)
		require.NoError(t, err)
		_, err = a.Store.Create(context.Background(), row)
		require.NoError(t, err)
		ids = append(ids, row.ID)
	}
	return ids
}

var goroutinesRe = regexp.MustCompile(`(?m)^go_goroutines (\d+)`)

// goroutines reads the process's goroutine count from /metrics.
func goroutines(t *testing.T, p *testenv.Process) int {
	t.Helper()
	resp := p.Do(t, http.MethodGet, "/metrics", "", nil)
	m := goroutinesRe.FindSubmatch(resp.Body)
	require.NotNil(t, m, "go_goroutines missing from /metrics")
	n, _ := strconv.Atoi(string(m[1]))
	return n
}

// stack runs scripts/stack.sh with args.
func stack(t *testing.T, args ...string) {
	t.Helper()
	cmd := exec.Command("scripts/stack.sh", args...)
	cmd.Dir = testenv.RepoRoot()
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "stack.sh %v: %s", args, out)
}
