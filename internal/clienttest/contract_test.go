package clienttest

import (
	"encoding/json"
	"go/ast"
	"go/parser"
	"go/token"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/oauth2"

	"github.com/auth-manager/auth-manager/api"
	"github.com/auth-manager/auth-manager/client"
	"github.com/auth-manager/auth-manager/internal/testenv"
)

func loadSpec(t *testing.T) *openapi3.T {
	t.Helper()
	doc, err := openapi3.NewLoader().LoadFromData(api.Spec)
	require.NoError(t, err)
	return doc
}

// TestTypesMatchTheOpenAPIDocument: every answer type of the client has exactly the
// properties of its schema in api/openapi.json, with matching types; a field is
// omitempty exactly when the schema does not require it. (The request bodies are
// checked against their schemas by TestRequestsMatchTheOpenAPIDocument.)
func TestTypesMatchTheOpenAPIDocument(t *testing.T) {
	schemas := loadSpec(t).Components.Schemas
	for schema, v := range map[string]any{
		"AccessTokenAnswer":       client.AccessToken{},
		"TokenMeta":               client.StoredToken{},
		"DeletionAnswer":          client.Deletion{},
		"SessionInfo":             client.Session{},
		"SessionRevocationAnswer": client.SessionRevocation{},
		"ValidateAnswer":          client.Validation{},
		"ConsentAnswer":           client.Consent{},
		"OfflineTokenAnswer":      client.OfflineToken{},
		"EventInfo":               client.Event{},
		"EventPage":               client.EventPage{},
	} {
		t.Run(schema, func(t *testing.T) {
			ref, ok := schemas[schema]
			require.True(t, ok, "no schema %s in the document", schema)
			s := ref.Value
			typ := reflect.TypeOf(v)
			var fields []string
			for i := range typ.NumField() {
				f := typ.Field(i)
				name, opts, _ := strings.Cut(f.Tag.Get("json"), ",")
				fields = append(fields, name)
				prop, ok := s.Properties[name]
				if !assert.True(t, ok, "%s.%s (%s) is not in the schema", typ.Name(), f.Name, name) {
					continue
				}
				assert.Equal(t, !slices.Contains(s.Required, name), opts == "omitempty", "%s: omitempty iff not required", name)
				assertGoType(t, name, f.Type, prop.Value)
			}
			var props []string
			for p := range s.Properties {
				props = append(props, p)
			}
			assert.ElementsMatch(t, props, fields, "%s and %s", typ.Name(), schema)
		})
	}
}

func assertGoType(t *testing.T, name string, gt reflect.Type, s *openapi3.Schema) {
	t.Helper()
	nullable := s.Nullable
	if gt.Kind() == reflect.Pointer {
		assert.True(t, nullable, "%s is a pointer but not nullable", name)
		gt = gt.Elem()
	} else if nullable {
		assert.Equal(t, reflect.Map, gt.Kind(), "%s is nullable: a pointer or a map", name)
	}
	want := map[string][]reflect.Kind{
		"string": {reflect.String}, "integer": {reflect.Int, reflect.Int64}, "boolean": {reflect.Bool},
		"array": {reflect.Slice}, "object": {reflect.Map, reflect.Struct},
	}
	switch {
	case s.Type.Is("string") && s.Format == "date-time":
		assert.Equal(t, reflect.TypeOf(time.Time{}), gt, "%s is a date-time", name)
	default:
		kinds := want[s.Type.Slice()[0]]
		assert.Contains(t, kinds, gt.Kind(), "%s: schema %v, Go %s", name, s.Type, gt)
		if gt.Kind() == reflect.Slice {
			assertGoType(t, name+"[]", gt.Elem(), s.Items.Value)
		}
	}
}

// TestRequestsMatchTheOpenAPIDocument: each method sends a request the document
// describes (operation, query parameters, required ones present), and every v1
// operation a service or user calls has a method.
func TestRequestsMatchTheOpenAPIDocument(t *testing.T) {
	doc := loadSpec(t)
	var mu sync.Mutex
	seen := map[string]bool{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		defer mu.Unlock()
		route, op := findOperation(doc, r.Method, r.URL.Path)
		if !assert.NotNil(t, op, "%s %s is not in the document", r.Method, r.URL.Path) {
			return
		}
		seen[r.Method+" "+route] = true
		declared := map[string]bool{}
		for _, p := range op.Parameters {
			if p.Value.In == "query" {
				declared[p.Value.Name] = true
				if p.Value.Required {
					assert.True(t, r.URL.Query().Has(p.Value.Name), "%s %s: required %s missing", r.Method, route, p.Value.Name)
				}
			}
		}
		for q := range r.URL.Query() {
			assert.True(t, declared[q], "%s %s: query %s is not a documented parameter", r.Method, route, q)
		}
		if op.RequestBody != nil {
			var v any
			if assert.NoError(t, json.Unmarshal(body, &v), "%s %s sends a JSON body", r.Method, route) {
				schema := op.RequestBody.Value.Content.Get("application/json").Schema.Value
				assert.NoError(t, schema.VisitJSON(v), "%s %s: the body fits its schema", r.Method, route)
			}
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusNotFound)
		_, _ = io.WriteString(w, `{"error":"Token not found","code":"token_not_found","reason":null,"details":null}`)
	}))
	defer srv.Close()
	c, err := client.New(srv.URL, oauth2.StaticTokenSource(&oauth2.Token{AccessToken: "t"}))
	require.NoError(t, err)
	ctx := t.Context()
	id := "0b7f6c1e-3f1a-4d3c-9d4e-2a1b3c4d5e6f"
	_, _ = c.AccessToken(ctx, id, client.WithMinTTL(time.Minute), client.WithAudience("orders-api"), client.WithScope("phone", "email"))
	_, _ = c.StoreRefreshToken(ctx, "r")
	_, _ = c.RefreshStoredToken(ctx)
	_, _ = c.ValidateToken(ctx)
	_, _ = c.Tokens(ctx, id)
	_, _ = c.DeleteToken(ctx, id)
	_, _ = c.Sessions(ctx, id)
	_, _ = c.DeleteSession(ctx, "TqJvgiq-aeFLrP7yRgHbCMSe", "offline")
	_, _ = c.OfflineConsentURL(ctx)
	_, _ = c.ReissueOfflineToken(ctx)
	_, _ = c.DeleteOfflineToken(ctx, id)
	_, _ = c.TokenSource(ctx, id).Token()
	_, _ = c.Events(ctx, "1842", 50)

	// Called by the user's browser and by Keycloak, never by a service.
	notForCallers := []string{"GET /v1/offline-token/callback", "POST /v1/backchannel-logout"}
	for path, item := range doc.Paths.Map() {
		if !strings.HasPrefix(path, "/v1/") {
			continue
		}
		for method := range item.Operations() {
			name := method + " " + path
			if !slices.Contains(notForCallers, name) {
				assert.True(t, seen[name], "%s has no method in the client", name)
			}
		}
	}
}

// findOperation matches a request path against the document's path templates.
func findOperation(doc *openapi3.T, method, path string) (string, *openapi3.Operation) {
	for route, item := range doc.Paths.Map() {
		rs, ps := strings.Split(route, "/"), strings.Split(path, "/")
		if len(rs) != len(ps) {
			continue
		}
		match := true
		for i := range rs {
			if rs[i] != ps[i] && !strings.HasPrefix(rs[i], "{") {
				match = false
				break
			}
		}
		if match {
			if op := item.GetOperation(method); op != nil {
				return route, op
			}
		}
	}
	return "", nil
}

// TestErrorCodesMatchTheOpenAPIDocument: the client's Code* constants for the
// service's codes are exactly the enum of ErrorEnvelope.code, and the codes the client
// sets itself (no answer, wrong audience) are none of them. The envelope has the four
// fields Error decodes.
func TestErrorCodesMatchTheOpenAPIDocument(t *testing.T) {
	envelope := loadSpec(t).Components.Schemas["ErrorEnvelope"].Value
	require.NotNil(t, envelope)
	assert.ElementsMatch(t, []string{"error", "code", "reason", "details"}, slices.Collect(maps.Keys(envelope.Properties)))
	var enum []string
	for _, v := range envelope.Properties["code"].Value.Enum {
		enum = append(enum, v.(string))
	}
	require.NotEmpty(t, enum, "ErrorEnvelope.code is an enum")

	service, own := clientCodes(t)
	assert.ElementsMatch(t, enum, service, "client/codes.go's service codes and the document's enum")
	for _, c := range own {
		assert.NotContains(t, enum, c, "a client-side code is not a service code")
	}
	assert.ElementsMatch(t, []string{client.CodeUnreachable, client.CodeWrongAudience}, own)
}

// clientCodes reads client/codes.go: the values of the constants in its first const
// block (the service's codes) and in the others (the client's own).
func clientCodes(t *testing.T) (service, own []string) {
	t.Helper()
	f, err := parser.ParseFile(token.NewFileSet(), filepath.Join(testenv.RepoRoot(), "client", "codes.go"), nil, 0)
	require.NoError(t, err)
	block := 0
	for _, d := range f.Decls {
		g, ok := d.(*ast.GenDecl)
		if !ok || g.Tok != token.CONST {
			continue
		}
		block++
		for _, spec := range g.Specs {
			for _, v := range spec.(*ast.ValueSpec).Values {
				lit, ok := v.(*ast.BasicLit)
				require.True(t, ok && lit.Kind == token.STRING, "codes.go: every code is a string literal")
				c, err := strconv.Unquote(lit.Value)
				require.NoError(t, err)
				if block == 1 {
					service = append(service, c)
				} else {
					own = append(own, c)
				}
			}
		}
	}
	return service, own
}
