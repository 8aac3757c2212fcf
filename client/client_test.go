package client

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"testing"
)

// TestAsUserSendsTheUsersToken: a call through AsUser carries that user's token, and
// the client it came from keeps sending the service's own; concurrent users do not
// see each other's tokens.
func TestAsUserSendsTheUsersToken(t *testing.T) {
	var mu sync.Mutex
	seen := map[string]string{} // Authorization → the refresh token stored with it
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		seen[r.Header.Get("Authorization")] = string(body)
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"data":{"persistent_token_id":"0b7f6c1e-3f1a-4d3c-9d4e-2a1b3c4d5e6f"}}`)
	}))
	defer srv.Close()
	am := newTestClient(t, srv.URL)

	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := am.AsUser(fmt.Sprintf("user-%d", i)).StoreRefreshToken(t.Context(), fmt.Sprintf("refresh-%d", i))
			if err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if _, err := am.StoreRefreshToken(t.Context(), "service"); err != nil {
		t.Fatal(err)
	}
	for i := range 8 {
		want := fmt.Sprintf(`{"refresh_token":"refresh-%d"}`, i)
		if got := seen[fmt.Sprintf("Bearer user-%d", i)]; got != want {
			t.Errorf("user-%d's call sent %q, want %q", i, got, want)
		}
	}
	if got := seen["Bearer service-token"]; got != `{"refresh_token":"service"}` {
		t.Errorf("the service's own call sent %q", got)
	}
}

// TestWithoutCallerOnlyAsUser: a client made without a caller token source sends
// nothing of its own; through AsUser it works.
func TestWithoutCallerOnlyAsUser(t *testing.T) {
	var calls int
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls++
		if got := r.Header.Get("Authorization"); got != "Bearer alice" {
			t.Errorf("Authorization %q", got)
		}
		_, _ = io.WriteString(w, `{"data":[]}`)
	}))
	defer srv.Close()
	am, err := New(srv.URL, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := am.Tokens(t.Context(), ""); !errors.Is(err, errNoCaller) {
		t.Errorf("err %v, want errNoCaller", err)
	}
	if calls != 0 {
		t.Errorf("%d requests sent without a token", calls)
	}
	if _, err := am.AsUser("alice").Tokens(t.Context(), ""); err != nil {
		t.Error(err)
	}
	if calls != 1 {
		t.Errorf("%d requests, want 1", calls)
	}
}

// TestErrorKinds: each code the service answers decodes into an *Error with that
// Code, and errors.Is groups the codes as the sentinels' doc comments say.
func TestErrorKinds(t *testing.T) {
	kinds := map[error][]string{
		ErrNotFound:      {CodeTokenNotFound, CodeSessionNotFound},
		ErrUnauthorized:  {CodeUnauthorized, CodeTokenNotActive},
		ErrForbidden:     {CodeForbidden, CodeScopeNotGranted, CodeAudienceNotAllowed},
		ErrTokenUnusable: {CodeTokenUnusable},
		ErrKeycloak:      {CodeKeycloakError, CodeKeycloakCallbackError},
		ErrUnavailable:   {CodeServiceUnavailable},
		ErrRateLimited:   {CodeRateLimited},
	}
	status := map[string]int{CodeUnauthorized: 401, CodeTokenNotActive: 401, CodeForbidden: 403,
		CodeScopeNotGranted: 403, CodeAudienceNotAllowed: 403, CodeTokenNotFound: 404, CodeSessionNotFound: 404,
		CodeNotFound: 404, CodeMethodNotAllowed: 405, CodeInvalidRequest: 400, CodeInvalidAckState: 400,
		CodeValidationError: 422, CodeTokenUnusable: 409, CodeRotationEnabled: 409, CodeTooManyTokens: 409,
		CodeRateLimited: 429, CodeInternalError: 500, CodeKeycloakError: 502, CodeKeycloakCallbackError: 502,
		CodeDatabaseError: 502, CodeServiceUnavailable: 503}
	var code string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Request-ID", "req-1")
		w.WriteHeader(status[code])
		_, _ = fmt.Fprintf(w, `{"error":"m","code":%q,"reason":"r","details":{"k":"v"}}`, code)
	}))
	defer srv.Close()
	c := newTestClient(t, srv.URL)
	c.retry = RetryPolicy{}
	for code = range status {
		_, err := c.Tokens(t.Context(), "")
		var e *Error
		if !errors.As(err, &e) {
			t.Fatalf("%s: %v is not an *Error", code, err)
		}
		if e.Code != code || CodeOf(err) != code || e.Status != status[code] || e.Reason != "r" ||
			e.Details["k"] != "v" || e.RequestID != "req-1" || e.Message != "m" {
			t.Errorf("%s: decoded %+v", code, e)
		}
		for kind, codes := range kinds {
			if got, want := errors.Is(err, kind), slices.Contains(codes, code); got != want {
				t.Errorf("errors.Is(%s, %v) = %v", code, kind, got)
			}
		}
	}
	if CodeOf(nil) != "" || CodeOf(errors.New("x")) != "" || CodeOf(fmt.Errorf("w: %w", &Error{Code: CodeTooManyTokens})) != CodeTooManyTokens {
		t.Error("CodeOf reads the *Error in the chain, and only that")
	}
}

// TestModuleGraph: a module that requires the client gets golang.org/x/oauth2 and
// nothing else beside the standard library. The client's module graph holds the client,
// x/oauth2 and what x/oauth2's own go.mod requires (cloud.google.com/go/compute/metadata,
// for its google package: a go.mod read, never a package built); the client and its
// tests import nothing outside the standard library and x/oauth2.
func TestModuleGraph(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go list")
	}
	allowed := []string{
		"github.com/auth-manager/auth-manager/client",
		"golang.org/x/oauth2",
		"cloud.google.com/go/compute/metadata", // golang.org/x/oauth2's requirement
	}
	out, err := exec.Command("go", "list", "-m", "all").CombinedOutput()
	if err != nil {
		t.Fatalf("go list -m all: %v\n%s", err, out)
	}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if mod, _, _ := strings.Cut(line, " "); !slices.Contains(allowed, mod) {
			t.Errorf("the module graph holds %s", line)
		}
	}
	out, err = exec.Command("go", "list", "-deps", "-test", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}", "./...").CombinedOutput()
	if err != nil {
		t.Fatalf("go list -deps: %v\n%s", err, out)
	}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		p, _, _ := strings.Cut(line, " ") // "p [p.test]" for a package compiled with its tests
		p = strings.TrimSuffix(strings.TrimSuffix(p, ".test"), "_test")
		if p != allowed[0] && !strings.HasPrefix(p, allowed[1]+"/") && p != allowed[1] {
			t.Errorf("the client or its tests import %s", line)
		}
	}
}
