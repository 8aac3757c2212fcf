package httpapi

import (
	"encoding/json"
	"math"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/auth-manager/auth-manager/api"
)

// trickyStrings: everything encoding/json escapes, and what it passes through.
var trickyStrings = []string{
	"", "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiIxIn0.c2ln-_", `quote " backslash \ slash /`,
	"\b\f\n\r\t\x00\x01\x1f\x7f", "<script>&amp;</script>", "é ü 日本 🙂", "\u2028\u2029",
	"bad \xff utf8 \xc3", "\xed\xa0\x80 surrogate", "a\u2027b\u202ac",
}

// answers are access-token and validate answers with every field set and with the
// optional ones empty.
func answers() (access []AccessTokenAnswer, validate []ValidateAnswer) {
	for i, s := range trickyStrings {
		access = append(access, AccessTokenAnswer{AccessToken: s, ExpiresIn: i*97 - 3, TokenType: s, Scope: s},
			AccessTokenAnswer{AccessToken: s + "x", ExpiresIn: 287})
		validate = append(validate, ValidateAnswer{Valid: i%2 == 0, Subject: s, SessionID: s, ExpiresAt: int64(i) << 40,
			Scope: s, ClientID: s, Username: s, ServiceCaller: i%3 == 0},
			ValidateAnswer{Subject: s + "y", ExpiresAt: -1})
	}
	return access, validate
}

func encoded[T any](v T) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	encode(rec, http.StatusOK, v)
	return rec
}

// specSchema finds a named object schema in the committed spec (Swagger 2's
// definitions or OpenAPI 3's components.schemas).
func specSchema(t *testing.T, name string) (required []string, props map[string]string) {
	t.Helper()
	type schema struct {
		Required   []string `json:"required"`
		Properties map[string]struct {
			Type string `json:"type"`
		} `json:"properties"`
	}
	var doc struct {
		Definitions map[string]schema `json:"definitions"`
		Components  struct {
			Schemas map[string]schema `json:"schemas"`
		} `json:"components"`
	}
	require.NoError(t, json.Unmarshal(api.Spec, &doc))
	s, ok := doc.Definitions[name]
	if !ok {
		s, ok = doc.Components.Schemas[name]
	}
	require.True(t, ok, "the spec has no schema %s", name)
	props = map[string]string{}
	for k, p := range s.Properties {
		props[k] = p.Type
	}
	return s.Required, props
}

// assertMatchesSchema decodes an envelope's data and checks it against the schema:
// required properties present, no property the schema lacks, JSON types as declared.
func assertMatchesSchema(t *testing.T, body []byte, required []string, props map[string]string) {
	t.Helper()
	var env struct {
		Data map[string]any `json:"data"`
	}
	require.NoError(t, json.Unmarshal(body, &env), "%s", body)
	for _, k := range required {
		assert.Contains(t, env.Data, k, "required by the spec")
	}
	for k, v := range env.Data {
		typ, ok := props[k]
		if !assert.True(t, ok, "%s is not in the spec", k) {
			continue
		}
		switch v := v.(type) {
		case string:
			assert.Equal(t, "string", typ, k)
		case bool:
			assert.Equal(t, "boolean", typ, k)
		case float64:
			assert.Contains(t, []string{"integer", "number"}, typ, k)
			if typ == "integer" {
				assert.Equal(t, math.Trunc(v), v, "%s must be an integer", k)
			}
		default:
			t.Errorf("%s: unexpected JSON value %T", k, v)
		}
	}
}

// TestAnswersMatchTheSpec: the two answers every cached request gets decode as the
// spec's schemas say, with the headers every JSON answer carries.
func TestAnswersMatchTheSpec(t *testing.T) {
	access, validate := answers()
	req, props := specSchema(t, "AccessTokenAnswer")
	for _, a := range access {
		rec := encoded(a)
		assert.Equal(t, "application/json", rec.Header().Get("Content-Type"))
		assert.Equal(t, "no-store", rec.Header().Get("Cache-Control"))
		assertMatchesSchema(t, rec.Body.Bytes(), req, props)
	}
	req, props = specSchema(t, "ValidateAnswer")
	for _, v := range validate {
		assertMatchesSchema(t, encoded(v).Body.Bytes(), req, props)
	}
}
