package httpapi

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/go-chi/chi/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/auth-manager/auth-manager/api"
)

func docsServer(t *testing.T) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(NewHandler(Deps{Log: slog.New(slog.NewTextHandler(io.Discard, nil)), MaxBodyBytes: 1 << 20}))
	t.Cleanup(srv.Close)
	return srv
}

func get(t *testing.T, url string, header ...string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	require.NoError(t, err)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp, b
}

func TestOpenAPIServesTheEmbeddedSpec(t *testing.T) {
	srv := docsServer(t)
	for _, tc := range []struct {
		path, contentType string
		doc               []byte
	}{
		{"/openapi.json", "application/json", api.Spec},
		{"/openapi.yaml", "application/yaml", api.SpecYAML},
	} {
		t.Run(tc.path, func(t *testing.T) {
			resp, body := get(t, srv.URL+tc.path)
			require.Equal(t, http.StatusOK, resp.StatusCode)
			assert.Equal(t, tc.contentType, resp.Header.Get("Content-Type"))
			assert.Equal(t, tc.doc, body)
			etag := resp.Header.Get("ETag")
			require.NotEmpty(t, etag)

			resp, body = get(t, srv.URL+tc.path, "If-None-Match", etag)
			assert.Equal(t, http.StatusNotModified, resp.StatusCode)
			assert.Empty(t, body)
		})
	}
}

// TestDocsPagesLoadOnlyTheirOwnAssets: every file a page names is served, with the
// right type, and nothing comes from another origin.
func TestDocsPagesLoadOnlyTheirOwnAssets(t *testing.T) {
	srv := docsServer(t)
	refs := regexp.MustCompile(`(?:src|href|spec-url)="([^"]+)"`)
	for _, page := range []string{"/docs", "/redoc"} {
		t.Run(page, func(t *testing.T) {
			resp, body := get(t, srv.URL+page)
			require.Equal(t, http.StatusOK, resp.StatusCode)
			assert.Equal(t, "text/html; charset=utf-8", resp.Header.Get("Content-Type"))
			assert.Contains(t, resp.Header.Get("Content-Security-Policy"), "default-src 'none'")
			assert.NotContains(t, string(body), "://", "a docs page must not name another origin")
			found := refs.FindAllStringSubmatch(string(body), -1)
			require.NotEmpty(t, found)
			for _, m := range found {
				resp, asset := get(t, srv.URL+"/"+m[1])
				if assert.Equal(t, http.StatusOK, resp.StatusCode, m[1]) {
					assert.NotEmpty(t, asset, m[1])
					assert.Equal(t, contentTypeOf(m[1]), resp.Header.Get("Content-Type"), m[1])
					assert.Equal(t, "nosniff", resp.Header.Get("X-Content-Type-Options"), m[1])
				}
			}
		})
	}
}

func TestDocsAssetRoutes(t *testing.T) {
	srv := docsServer(t)
	tests := []struct {
		path     string
		status   int
		location string
	}{
		{"/docs/swagger-initializer.js", http.StatusOK, ""},
		{"/redoc/redoc.standalone.js", http.StatusOK, ""},
		{"/docs/", http.StatusMovedPermanently, "/docs"},
		{"/redoc/", http.StatusMovedPermanently, "/redoc"},
		{"/docs/nope.js", http.StatusNotFound, ""},
		{"/docs/../api/doc.go", http.StatusNotFound, ""},
		{"/redoc/swagger-ui.css", http.StatusNotFound, ""},
	}
	for _, tc := range tests {
		t.Run(tc.path, func(t *testing.T) {
			resp, body := get(t, srv.URL+tc.path)
			assert.Equal(t, tc.status, resp.StatusCode)
			if tc.location != "" {
				assert.Equal(t, tc.location, resp.Header.Get("Location"))
			}
			if tc.status == http.StatusNotFound {
				assert.Contains(t, string(body), `"code":"not_found"`)
			}
		})
	}
}

// openAPIDoc is the part of api/openapi.json that the coverage checks read.
type openAPIDoc struct {
	Paths map[string]map[string]struct {
		Security   *[]map[string][]string `json:"security"`
		Parameters []struct {
			In string `json:"in"`
		} `json:"parameters"`
		RequestBody *struct{} `json:"requestBody"`
		Responses   map[string]struct {
			Content map[string]struct {
				Schema *struct {
					Ref  string `json:"$ref"`
					Type string `json:"type"`
				} `json:"schema"`
				Examples map[string]struct {
					Value struct {
						Code string `json:"code"`
					} `json:"value"`
				} `json:"examples"`
			} `json:"content"`
		} `json:"responses"`
	} `json:"paths"`
}

func loadDoc(t *testing.T) openAPIDoc {
	t.Helper()
	var doc openAPIDoc
	require.NoError(t, json.Unmarshal(api.Spec, &doc))
	require.NotEmpty(t, doc.Paths)
	return doc
}

// Routes that are not part of the API contract: the docs themselves and metrics.
var undocumentedRoutes = []string{"/openapi.json", "/openapi.yaml", "/docs", "/docs/*", "/redoc", "/redoc/*", "/metrics"}

// TestSpecDocumentsEveryRoute: the committed spec and routes.go name the same
// operations, so a new handler without annotations (or a stale api/) fails here.
func TestSpecDocumentsEveryRoute(t *testing.T) {
	doc := loadDoc(t)
	var inSpec []string
	for path, ops := range doc.Paths {
		for method := range ops {
			inSpec = append(inSpec, strings.ToUpper(method)+" "+path)
		}
	}
	routes, ok := NewHandler(Deps{Log: slog.New(slog.NewTextHandler(io.Discard, nil)), MetricsHandler: http.NotFoundHandler()}).(chi.Routes)
	require.True(t, ok)
	var routed []string
	require.NoError(t, chi.Walk(routes, func(method, route string, _ http.Handler, _ ...func(http.Handler) http.Handler) error {
		if !slices.Contains(undocumentedRoutes, route) {
			routed = append(routed, method+" "+route)
		}
		return nil
	}))
	slices.Sort(inSpec)
	slices.Sort(routed)
	assert.Equal(t, routed, inSpec, "routes.go and api/openapi.json differ: annotate the handler and run `make api`")
}

// TestSpecSecurityMatchesTheRoutes: every operation states its security requirement,
// and it is the truth: a Bearer operation answers 401 without a token, a public one
// does not.
func TestSpecSecurityMatchesTheRoutes(t *testing.T) {
	srv := docsServer(t)
	params := regexp.MustCompile(`\{[^}]+\}`)
	for path, ops := range loadDoc(t).Paths {
		for method, op := range ops {
			name := strings.ToUpper(method) + " " + path
			if !assert.NotNil(t, op.Security, "%s states no security requirement", name) {
				continue
			}
			req, err := http.NewRequest(strings.ToUpper(method), srv.URL+params.ReplaceAllString(path, "x"), nil)
			require.NoError(t, err)
			resp, err := http.DefaultClient.Do(req)
			require.NoError(t, err)
			resp.Body.Close()
			if len(*op.Security) > 0 {
				assert.Equal(t, []map[string][]string{{"Bearer": {}}}, *op.Security, name)
				assert.Equal(t, http.StatusUnauthorized, resp.StatusCode, "%s is documented as needing a bearer token", name)
			} else {
				assert.NotEqual(t, http.StatusUnauthorized, resp.StatusCode, "%s is documented as public", name)
			}
		}
	}
}

// TestSpecAnswersUseTheEnvelope: every error answer is an ErrorEnvelope with an example
// per code it may carry, every JSON success a DataEnvelope; bearer routes document 401,
// routes with input 422 (or 400).
func TestSpecAnswersUseTheEnvelope(t *testing.T) {
	for path, ops := range loadDoc(t).Paths {
		for method, op := range ops {
			name := strings.ToUpper(method) + " " + path
			for status, r := range op.Responses {
				media, hasJSON := r.Content["application/json"]
				switch {
				case status >= "400":
					if assert.True(t, hasJSON, "%s %s has no JSON body", name, status) && assert.NotNil(t, media.Schema) {
						assert.Equal(t, "#/components/schemas/ErrorEnvelope", media.Schema.Ref, "%s %s", name, status)
						assert.NotEmpty(t, media.Examples, "%s %s names no error code", name, status)
						for code, ex := range media.Examples {
							assert.Equal(t, code, ex.Value.Code, "%s %s", name, status)
						}
					}
				case status >= "200" && status < "300" && hasJSON && path != "/health":
					assert.True(t, strings.HasPrefix(media.Schema.Ref, "#/components/schemas/DataEnvelope-"), "%s %s: %s", name, status, media.Schema.Ref)
				}
			}
			if op.Security != nil && len(*op.Security) > 0 {
				assert.Contains(t, op.Responses, "401", "%s needs a bearer token, so it can answer 401", name)
			}
			if len(op.Parameters) > 0 || op.RequestBody != nil {
				_, has400 := op.Responses["400"]
				_, has422 := op.Responses["422"]
				assert.True(t, has400 || has422, "%s validates its input, so it can answer 422 (or 400)", name)
			}
		}
	}
}

// TestDocsAssetsStayInTheBinary: building the handler must not copy the ~3 MB of
// vendored UI files onto the heap (every replica would carry them, and every GC scan
// them); they are read from the embedded data when served.
func TestDocsAssetsStayInTheBinary(t *testing.T) {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	h := NewHandler(Deps{Log: slog.New(slog.NewTextHandler(io.Discard, nil)), MaxBodyBytes: 1 << 20})
	runtime.ReadMemStats(&after)
	require.NotNil(t, h)
	assert.Less(t, after.TotalAlloc-before.TotalAlloc, uint64(512<<10), "bytes allocated by NewHandler")
}
