package apispec

import (
	"context"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestConvertReproducesTheCommittedDocument: api/openapi.{json,yaml} are what Convert
// makes of the committed api/swagger.json (the same guard as `make api-check`, without
// running swag).
func TestConvertReproducesTheCommittedDocument(t *testing.T) {
	in, err := os.ReadFile("../../api/swagger.json")
	require.NoError(t, err)
	j, y, err := Convert(context.Background(), in)
	require.NoError(t, err)
	wantJSON, err := os.ReadFile("../../api/openapi.json")
	require.NoError(t, err)
	wantYAML, err := os.ReadFile("../../api/openapi.yaml")
	require.NoError(t, err)
	assert.Equal(t, string(wantJSON), string(j), "api/openapi.json is stale: run `make api`")
	assert.Equal(t, string(wantYAML), string(y), "api/openapi.yaml is stale: run `make api`")
}

func TestConvertRefusesWhatItCannotDocument(t *testing.T) {
	// doc is a Swagger 2.0 document with the bearer scheme and the envelope, and paths.
	doc := func(paths string) string {
		return `{"swagger":"2.0","info":{"title":"t","version":"1"},` +
			`"securityDefinitions":{"Bearer":{"type":"apiKey","in":"header","name":"Authorization"}},` +
			`"definitions":{"ErrorEnvelope":{"type":"object","properties":{"code":{"type":"string"}}}},"paths":` + paths + `}`
	}
	for name, tc := range map[string]struct{ doc, want string }{
		"not JSON":             {`swagger: "2.0"`, "reading"},
		"no bearer":            {`{"swagger":"2.0","info":{"title":"t","version":"1"},"paths":{}}`, "security scheme"},
		"no envelope":          {`{"swagger":"2.0","info":{"title":"t","version":"1"},"securityDefinitions":{"Bearer":{"type":"apiKey","in":"header","name":"Authorization"}},"paths":{}}`, "ErrorEnvelope"},
		"unknown code":         {doc(`{"/x":{"get":{"operationId":"x","produces":["application/json"],"responses":{"418":{"description":"teapot","schema":{"type":"object"}}}}}}`), "no error code is known"},
		"error without a body": {doc(`{"/x":{"get":{"operationId":"x","responses":{"404":{"description":"gone"}}}}}`), "without a JSON body"},
		"no operationId":       {doc(`{"/x":{"get":{"responses":{"200":{"description":"ok"}}}}}`), "no operationId"},
		"same operationId":     {doc(`{"/x":{"get":{"operationId":"x","responses":{"200":{"description":"ok"}}}},"/y":{"get":{"operationId":"x","responses":{"200":{"description":"ok"}}}}}`), "same operationId"},
	} {
		t.Run(name, func(t *testing.T) {
			_, _, err := Convert(context.Background(), []byte(tc.doc))
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}

// TestVocabularyCoversTheHandlers: every error code the service writes is one the
// spec can document, with the status the code is written with. It reads the sources:
// `status: http.StatusX, code: "y"` literals and `New(http.StatusX, "y", …)` sentinels,
// wherever under internal/ they are.
func TestVocabularyCoversTheHandlers(t *testing.T) {
	literal := regexp.MustCompile(`(?:status:\s*|New\()(http\.Status\w+|\d{3}),\s*(?:code:\s*)?"([a-z_]+)"`)
	found := 0
	err := filepath.WalkDir("..", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") ||
			strings.HasPrefix(path, "../apispec/") || strings.HasPrefix(path, "../testenv/") {
			return err
		}
		src, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for _, m := range literal.FindAllStringSubmatch(string(src), -1) {
			found++
			c, ok := codes[m[2]]
			if !assert.True(t, ok, "%s writes code %q, which apispec's vocabulary (codes.go) lacks", path, m[2]) {
				continue
			}
			status, known := httpStatuses[m[1]]
			if !known {
				status, err = strconv.Atoi(m[1])
				require.NoError(t, err, "%s: status %s", path, m[1])
			}
			if m[2] != "validation_error" { // 422, and 413 for a body too large
				assert.Equal(t, c.status, status, "%s: code %q", path, m[2])
			}
		}
		return nil
	})
	require.NoError(t, err)
	assert.GreaterOrEqual(t, found, 10, "the scan found the service's error codes")
	for status, cs := range defaultCodes {
		for _, c := range cs {
			assert.Contains(t, codes, c)
			if c != "validation_error" {
				assert.Equal(t, status, codes[c].status, "default %s for %d", c, status)
			}
		}
	}
}

var httpStatuses = map[string]int{
	"http.StatusBadRequest": 400, "http.StatusUnauthorized": 401, "http.StatusForbidden": 403,
	"http.StatusNotFound": 404, "http.StatusMethodNotAllowed": 405, "http.StatusConflict": 409,
	"http.StatusRequestEntityTooLarge": 413, "http.StatusUnprocessableEntity": 422,
	"http.StatusTooManyRequests": 429, "http.StatusInternalServerError": 500,
	"http.StatusBadGateway": 502, "http.StatusServiceUnavailable": 503,
}

// TestTheEnvelopesCodeIsAnEnum: the committed document lists every code of the
// vocabulary, and only those, as the enum of ErrorEnvelope.code.
func TestTheEnvelopesCodeIsAnEnum(t *testing.T) {
	in, err := os.ReadFile("../../api/openapi.json")
	require.NoError(t, err)
	doc, err := openapi3.NewLoader().LoadFromData(in)
	require.NoError(t, err)
	var enum []string
	for _, v := range doc.Components.Schemas[errorEnvelope].Value.Properties["code"].Value.Enum {
		enum = append(enum, v.(string))
	}
	assert.Equal(t, slices.Sorted(maps.Keys(codes)), enum)
	for _, c := range []string{"too_many_tokens", "scope_not_granted", "audience_not_allowed", "rate_limited", "token_not_found"} {
		assert.Contains(t, enum, c)
	}
}

// TestMiddlewareFailuresOnEveryOperation: the answers the middleware gives on any route
// are documented on every operation: 500 internal_error and 413 validation_error
// (limitBody) everywhere, 429 rate_limited (requireCaller's failure limiter, with
// Retry-After) wherever the bearer token is asked for. An annotation's own text for
// such a status is kept.
func TestMiddlewareFailuresOnEveryOperation(t *testing.T) {
	in := `{"swagger":"2.0","info":{"title":"t","version":"1"},` +
		`"securityDefinitions":{"Bearer":{"type":"apiKey","in":"header","name":"Authorization"}},` +
		`"definitions":{"ErrorEnvelope":{"type":"object","properties":{"code":{"type":"string"}}}},"paths":{` +
		`"/secured":{"get":{"operationId":"secured","produces":["application/json"],"security":[{"Bearer":[]}],"responses":{"200":{"description":"ok"}}}},` +
		`"/public":{"post":{"operationId":"public","produces":["application/json"],"responses":{"200":{"description":"ok"},` +
		`"413":{"description":"validation_error: its own words","schema":{"$ref":"#/definitions/ErrorEnvelope"}}}}}}}`
	j, _, err := Convert(context.Background(), []byte(in))
	require.NoError(t, err)
	doc, err := openapi3.NewLoader().LoadFromData(j)
	require.NoError(t, err)

	secured := doc.Paths.Find("/secured").Get
	assertEnvelope(t, secured.Responses.Value("500"), "internal_error")
	assertEnvelope(t, secured.Responses.Value("413"), "validation_error")
	assertEnvelope(t, secured.Responses.Value("429"), "rate_limited")
	assert.Contains(t, secured.Responses.Value("429").Value.Headers, "Retry-After")

	public := doc.Paths.Find("/public").Post
	assertEnvelope(t, public.Responses.Value("500"), "internal_error")
	assert.Nil(t, public.Responses.Value("429"), "a public operation is not behind requireCaller")
	assert.Equal(t, "validation_error: its own words", *public.Responses.Value("413").Value.Description)
	assert.Equal(t, map[string]any{"body": "at most 65536 bytes"},
		public.Responses.Value("413").Value.Content.Get("application/json").Examples["validation_error"].Value.Value.(map[string]any)["details"])
}

// TestTheCommittedDocumentListsTheMiddlewareFailures: api/openapi.json has them on every
// operation, and readiness's 503 shows what its handler writes.
func TestTheCommittedDocumentListsTheMiddlewareFailures(t *testing.T) {
	in, err := os.ReadFile("../../api/openapi.json")
	require.NoError(t, err)
	doc, err := openapi3.NewLoader().LoadFromData(in)
	require.NoError(t, err)
	bearer := 0
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			name := method + " " + path
			assertEnvelope(t, op.Responses.Value("500"), "internal_error", name)
			assertEnvelope(t, op.Responses.Value("413"), "validation_error", name)
			if needsBearer(op) {
				bearer++
				assertEnvelope(t, op.Responses.Value("429"), "rate_limited", name)
			}
		}
	}
	assert.GreaterOrEqual(t, bearer, 12, "the /v1 routes behind requireCaller (internal/httpapi routes.go)")

	ready := doc.Paths.Find("/health/ready").Get.Responses.Value("503")
	require.NotNil(t, ready)
	examples := ready.Value.Content.Get("application/json").Examples
	require.Contains(t, examples, "service_unavailable")
	assert.Equal(t, map[string]any{"database": "disconnected"}, examples["service_unavailable"].Value.Value.(map[string]any)["details"],
		"internal/httpapi handleReady's answer when the database does not answer")
	assert.Contains(t, *ready.Value.Description, "shutting_down", "the draining answer is named")
}

// assertEnvelope: r is an ErrorEnvelope answer with an example of code.
func assertEnvelope(t *testing.T, r *openapi3.ResponseRef, code string, msgAndArgs ...any) {
	t.Helper()
	if !assert.NotNil(t, r, msgAndArgs...) {
		return
	}
	media := r.Value.Content.Get("application/json")
	if !assert.NotNil(t, media, msgAndArgs...) {
		return
	}
	assert.Equal(t, "#/components/schemas/"+errorEnvelope, media.Schema.Ref, msgAndArgs...)
	assert.Contains(t, media.Examples, code, msgAndArgs...)
	assert.Contains(t, r.Value.Headers, "X-Request-ID", msgAndArgs...)
}
