//go:build browser

// The docs pages in a real browser: headless Chromium driven by chromedriver over plain
// WebDriver HTTP. `make docs-check` (scripts/docs-check.sh) installs Debian's chromium
// and chromium-driver when missing, starts the service and runs this with
// DOCS_CHECK_URL set; without the build tag it is not compiled.

package httpapi_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestDocsInBrowser(t *testing.T) {
	base := strings.TrimRight(os.Getenv("DOCS_CHECK_URL"), "/")
	require.NotEmpty(t, base, "DOCS_CHECK_URL must name the running service (make docs-check sets it)")
	shots := os.Getenv("DOCS_CHECK_SCREENSHOTS")
	if shots == "" {
		shots = t.TempDir()
	}
	ops := specOperations(t, base)
	require.NotEmpty(t, ops)

	b := startBrowser(t, shots)

	t.Run("swagger ui lists every operation", func(t *testing.T) {
		b.open(t, base+"/docs")
		var got []string
		b.waitFor(t, "the operations list", `
			const ops = [...document.querySelectorAll('.opblock')].map(o =>
				o.querySelector('.opblock-summary-method').textContent.trim().toLowerCase() + ' ' +
				o.querySelector('.opblock-summary-path').getAttribute('data-path'));
			return ops.length >= arguments[0] ? ops : null;`, &got, len(ops))
		slices.Sort(got)
		assert.Equal(t, ops, got)
	})

	t.Run("try it out on GET /health answers 200", func(t *testing.T) {
		var id string
		b.waitFor(t, "the GET /health operation", `
			const o = [...document.querySelectorAll('.opblock-get')].find(o =>
				o.querySelector('.opblock-summary-path').getAttribute('data-path') === '/health');
			return o ? o.id : null;`, &id)
		op := "#" + id
		b.click(t, op+" .opblock-summary-control")
		b.click(t, op+" .try-out__btn")
		b.click(t, op+" .execute")
		var status string
		b.waitFor(t, "the live response", `
			const c = document.querySelector(arguments[0] + ' .live-responses-table tbody .response-col_status');
			return c ? c.textContent.trim() : null;`, &status, op)
		assert.Equal(t, "200", status)
		var body string
		b.waitFor(t, "the response body", `
			const c = document.querySelector(arguments[0] + ' .live-responses-table tbody .response-col_description pre');
			return c ? c.textContent.trim() : null;`, &body, op)
		assert.Equal(t, `"OK"`, body)
		b.screenshot(t, filepath.Join(shots, "docs.png"))
		b.assertOffline(t, base)
	})

	t.Run("redoc renders every operation", func(t *testing.T) {
		b.open(t, base+"/redoc")
		summaries := specSummaries(t, base)
		var missing []string
		b.waitFor(t, "every operation summary", `
			const text = document.body.innerText;
			const missing = arguments[0].filter(s => !text.includes(s));
			return missing.length === 0 ? missing : null;`, &missing, summaries)
		assert.Empty(t, missing)
		b.screenshot(t, filepath.Join(shots, "redoc.png"))
		b.assertOffline(t, base)
	})
	t.Logf("screenshots in %s", shots)
}

// specOperations lists "method path" of every operation in the served spec, sorted.
func specOperations(t *testing.T, base string) []string {
	var ops []string
	for path, item := range fetchSpec(t, base).Paths {
		for method := range item {
			ops = append(ops, method+" "+path)
		}
	}
	slices.Sort(ops)
	return ops
}

func specSummaries(t *testing.T, base string) []string {
	var out []string
	for _, item := range fetchSpec(t, base).Paths {
		for _, op := range item {
			out = append(out, op.Summary)
		}
	}
	return out
}

type spec struct {
	Paths map[string]map[string]struct {
		Summary string `json:"summary"`
	} `json:"paths"`
}

func fetchSpec(t *testing.T, base string) spec {
	resp, err := http.Get(base + "/openapi.json")
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	var s spec
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&s))
	return s
}

// browser is one chromedriver session.
type browser struct {
	url   string // chromedriver's session URL
	shots string // where a failed wait leaves its screenshot
}

func startBrowser(t *testing.T, shots string) *browser {
	driverBin := envOr("CHROMEDRIVER", "/usr/bin/chromedriver")
	chromium := envOr("CHROMIUM", "/usr/bin/chromium")
	for _, f := range []string{driverBin, chromium} {
		_, err := os.Stat(f)
		require.NoError(t, err, "scripts/docs-check.sh installs chromium and chromium-driver")
	}
	port := freePort(t)
	ctx, cancel := context.WithCancel(context.Background())
	var logs bytes.Buffer
	cmd := exec.CommandContext(ctx, driverBin, fmt.Sprintf("--port=%d", port))
	cmd.Stdout, cmd.Stderr = &logs, &logs
	require.NoError(t, cmd.Start())
	t.Cleanup(func() {
		cancel()
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("chromedriver output:\n%s", logs.String())
		}
	})
	driver := fmt.Sprintf("http://127.0.0.1:%d", port)
	deadline := time.Now().Add(20 * time.Second)
	for {
		var st struct {
			Ready bool `json:"ready"`
		}
		if err := wdCall(http.MethodGet, driver+"/status", nil, &st); err == nil && st.Ready {
			break
		}
		require.True(t, time.Now().Before(deadline), "chromedriver did not start")
		time.Sleep(100 * time.Millisecond)
	}

	// The host resolver rule makes any name but the loopback fail, so a page that
	// reached for a CDN would show it in the checks below instead of working by luck.
	args := []string{
		"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--disable-dev-shm-usage", "--window-size=1280,1600",
		"--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
		"--user-data-dir=" + t.TempDir(),
	}
	caps := map[string]any{"capabilities": map[string]any{"alwaysMatch": map[string]any{
		"browserName":        "chrome",
		"goog:chromeOptions": map[string]any{"binary": chromium, "args": args},
		"goog:loggingPrefs":  map[string]any{"browser": "ALL"},
	}}}
	var sess struct {
		SessionID string `json:"sessionId"`
	}
	require.NoError(t, wdCall(http.MethodPost, driver+"/session", caps, &sess), "new browser session")
	b := &browser{url: driver + "/session/" + sess.SessionID, shots: shots}
	t.Cleanup(func() { _ = wdCall(http.MethodDelete, b.url, nil, nil) })
	return b
}

func (b *browser) open(t *testing.T, url string) {
	t.Helper()
	require.NoError(t, wdCall(http.MethodPost, b.url+"/url", map[string]any{"url": url}, nil), "open %s", url)
}

// waitFor runs script (a function body; arguments[i] are args) until it returns a
// non-null value, decodes that into out, or fails after 30 seconds.
func (b *browser) waitFor(t *testing.T, what, script string, out any, args ...any) {
	t.Helper()
	if args == nil {
		args = []any{}
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		var raw json.RawMessage
		err := wdCall(http.MethodPost, b.url+"/execute/sync", map[string]any{"script": script, "args": args}, &raw)
		if err == nil && len(raw) > 0 && string(raw) != "null" {
			require.NoError(t, json.Unmarshal(raw, out))
			return
		}
		if time.Now().After(deadline) {
			b.screenshot(t, filepath.Join(b.shots, "failed.png"))
			for _, e := range b.console(t) {
				t.Logf("browser console: %s %s", e.Level, e.Message)
			}
			t.Fatalf("waited 30 s for %s (last error: %v)", what, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// click clicks the element that css selects, waiting for it to appear.
func (b *browser) click(t *testing.T, css string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		var el map[string]string
		err := wdCall(http.MethodPost, b.url+"/element", map[string]any{"using": "css selector", "value": css}, &el)
		if err == nil {
			for _, id := range el {
				if err = wdCall(http.MethodPost, b.url+"/element/"+id+"/click", map[string]any{}, nil); err == nil {
					return
				}
			}
		}
		require.True(t, time.Now().Before(deadline), "click %s: %v", css, err)
		time.Sleep(100 * time.Millisecond)
	}
}

func (b *browser) screenshot(t *testing.T, file string) {
	t.Helper()
	var data string
	if err := wdCall(http.MethodGet, b.url+"/screenshot", nil, &data); err != nil {
		t.Logf("screenshot: %v", err)
		return
	}
	png, err := base64.StdEncoding.DecodeString(data)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(file, png, 0o644))
	t.Logf("screenshot %s", file)
}

// redocLogo is the one outside reference of ReDoc 2.5: the "API docs by Redocly" footer
// always asks for its logo there. The page's CSP blocks it before any request leaves the
// browser, and ReDoc hides the image when it fails, so it is allowed only as blocked.
const redocLogo = "https://cdn.redoc.ly/redoc/logo-mini.svg"

// assertOffline checks that the page loaded nothing from another origin and that the
// console has no errors (a CSP violation or a failed load is an error there).
func (b *browser) assertOffline(t *testing.T, base string) {
	t.Helper()
	var resources []string
	b.waitFor(t, "the resource list", `return performance.getEntriesByType('resource').map(e => e.name);`, &resources)
	for _, r := range resources {
		ok := strings.HasPrefix(r, base+"/") || strings.HasPrefix(r, "data:") || strings.HasPrefix(r, "blob:") || r == redocLogo
		assert.True(t, ok, "the page loaded %s", r)
	}
	for _, e := range b.console(t) {
		if strings.Contains(e.Message, "Loading the image '"+redocLogo+"' violates the following Content Security Policy") {
			continue
		}
		assert.NotEqual(t, "SEVERE", e.Level, "browser console: %s", e.Message)
	}
}

type consoleEntry struct {
	Level   string `json:"level"`
	Message string `json:"message"`
}

// console returns the browser console's entries since the last call.
func (b *browser) console(t *testing.T) []consoleEntry {
	t.Helper()
	var entries []consoleEntry
	require.NoError(t, wdCall(http.MethodPost, b.url+"/se/log", map[string]any{"type": "browser"}, &entries))
	return entries
}

// wdCall sends one WebDriver command and decodes its "value".
func wdCall(method, url string, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, url, rd)
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	var env struct {
		Value json.RawMessage `json:"value"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&env); err != nil {
		return fmt.Errorf("%s %s: %d: %w", method, url, resp.StatusCode, err)
	}
	if resp.StatusCode != http.StatusOK {
		var e struct {
			Error   string `json:"error"`
			Message string `json:"message"`
		}
		_ = json.Unmarshal(env.Value, &e)
		return fmt.Errorf("%s %s: %d %s: %s", method, url, resp.StatusCode, e.Error, firstLine(e.Message))
	}
	if out == nil {
		return nil
	}
	if raw, ok := out.(*json.RawMessage); ok {
		*raw = env.Value
		return nil
	}
	return json.Unmarshal(env.Value, out)
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}

func freePort(t *testing.T) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}
