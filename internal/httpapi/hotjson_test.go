package httpapi

import (
	"encoding/json"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/auth-manager/auth-manager/api"
)

// tricky strings: everything encoding/json escapes, and what it passes through.
var trickyStrings = []string{
	"", "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiIxIn0.c2ln-_", `quote " backslash \ slash /`,
	"\b\f\n\r\t\x00\x01\x1f\x7f", "<script>&amp;</script>", "é ü 日本 🙂", "\u2028\u2029",
	"bad \xff utf8 \xc3", "\xed\xa0\x80 surrogate", "a\u2027b\u202ac",
}

func hotAnswers() (access []AccessTokenAnswer, validate []ValidateAnswer) {
	for i, s := range trickyStrings {
		access = append(access, AccessTokenAnswer{AccessToken: s, ExpiresIn: i*97 - 3, TokenType: s, Scope: s},
			AccessTokenAnswer{AccessToken: s + "x", ExpiresIn: 287})
		validate = append(validate, ValidateAnswer{Valid: i%2 == 0, Subject: s, SessionID: s, ExpiresAt: int64(i) << 40,
			Scope: s, ClientID: s, Username: s, ServiceCaller: i%3 == 0},
			ValidateAnswer{Subject: s + "y", ExpiresAt: -1})
	}
	return access, validate
}

// viaEncodingJSON and viaHotPath are the answers writeJSON and the hand-written
// encoder produce.
func viaEncodingJSON[T any](v T) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	encode(rec, http.StatusOK, v)
	return rec
}

func viaHotPath[T any](v T, appendData func([]byte, T) []byte) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	encodeWith(rec, http.StatusOK, v, appendData)
	return rec
}

func assertSameAnswer(t *testing.T, want, got *httptest.ResponseRecorder) {
	t.Helper()
	assert.Equal(t, want.Code, got.Code)
	assert.Equal(t, want.Header(), got.Header())
	assert.Equal(t, want.Body.String(), got.Body.String())
}

func TestHotAnswersMatchEncodingJSON(t *testing.T) {
	access, validate := hotAnswers()
	for _, a := range access {
		assertSameAnswer(t, viaEncodingJSON(a), viaHotPath(a, appendAccessToken))
	}
	for _, v := range validate {
		assertSameAnswer(t, viaEncodingJSON(v), viaHotPath(v, appendValidate))
	}
}

func FuzzHotAnswers(f *testing.F) {
	for i, s := range trickyStrings {
		f.Add(s, trickyStrings[(i+1)%len(trickyStrings)], int64(i), i%2 == 0)
	}
	f.Fuzz(func(t *testing.T, s1, s2 string, n int64, flag bool) {
		a := AccessTokenAnswer{AccessToken: s1, ExpiresIn: int(n), TokenType: s2, Scope: s1 + s2}
		assertSameAnswer(t, viaEncodingJSON(a), viaHotPath(a, appendAccessToken))
		v := ValidateAnswer{Valid: flag, Subject: s1, SessionID: s2, ExpiresAt: n, Scope: s2, ClientID: s1, Username: s2 + s1, ServiceCaller: !flag}
		assertSameAnswer(t, viaEncodingJSON(v), viaHotPath(v, appendValidate))
	})
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

func TestHotAnswersMatchTheSpec(t *testing.T) {
	access, validate := hotAnswers()
	req, props := specSchema(t, "AccessTokenAnswer")
	for _, a := range access {
		assertMatchesSchema(t, viaHotPath(a, appendAccessToken).Body.Bytes(), req, props)
	}
	req, props = specSchema(t, "ValidateAnswer")
	for _, v := range validate {
		assertMatchesSchema(t, viaHotPath(v, appendValidate).Body.Bytes(), req, props)
	}
}

// BenchmarkHotAnswer compares the hand-written encoder with encoding/json on an
// access-token answer of the dev realm's size.
func BenchmarkHotAnswer(b *testing.B) {
	a := AccessTokenAnswer{AccessToken: strings.Repeat("eyJhbGciOiJSUzI1NiJ9.", 60), ExpiresIn: 287,
		TokenType: "Bearer", Scope: "openid profile email"}
	w := &nullWriter{h: http.Header{}}
	b.Run("hand-written", func(b *testing.B) {
		b.ReportAllocs()
		for range b.N {
			encodeWith(w, http.StatusOK, a, appendAccessToken)
		}
	})
	b.Run("encoding-json", func(b *testing.B) {
		b.ReportAllocs()
		for range b.N {
			encode(w, http.StatusOK, a)
		}
	})
}

type nullWriter struct{ h http.Header }

func (n *nullWriter) Header() http.Header         { return n.h }
func (n *nullWriter) WriteHeader(int)             {}
func (n *nullWriter) Write(p []byte) (int, error) { return len(p), nil }
