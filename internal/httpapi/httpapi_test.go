package httpapi

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/auth-manager/auth-manager/internal/clientip"
)

func TestBearer(t *testing.T) {
	for h, want := range map[string]string{
		"Bearer abc": "abc", "bearer abc": "abc", "BEARER  abc ": "abc",
		"": "", "Bearer": "", "Bearer ": "", "Basic abc": "", "Token abc": "", "Bearerabc": "",
	} {
		got, ok := bearer(h)
		assert.Equal(t, want, got, h)
		assert.Equal(t, want != "", ok, h)
	}
}

func TestSaneRequestID(t *testing.T) {
	assert.True(t, saneRequestID("abc-123_x.y:z"))
	assert.False(t, saneRequestID(""))
	assert.False(t, saneRequestID(strings.Repeat("a", 129)))
	assert.False(t, saneRequestID("a b"))
	assert.False(t, saneRequestID("a\nb"))
	assert.False(t, saneRequestID("ä"))
}

type body struct {
	Token *string `json:"refresh_token"`
}

func TestDecode(t *testing.T) {
	cases := map[string]struct {
		body   string
		ctype  string
		status int
		field  string
	}{
		"ok":            {`{"refresh_token":"x"}`, "application/json", 0, ""},
		"empty":         {``, "application/json", 422, "body"},
		"malformed":     {`{"refresh_token":`, "application/json", 422, "body"},
		"wrong type":    {`{"refresh_token":5}`, "application/json", 422, "body.refresh_token"},
		"unknown field": {`{"x":1}`, "application/json", 422, "body"},
		"two objects":   {`{"refresh_token":"a"}{"refresh_token":"b"}`, "application/json", 422, "body"},
		"array":         {`[1]`, "application/json", 422, "body"},
		"form":          {`refresh_token=x`, "application/x-www-form-urlencoded", 422, "body"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(tc.body))
			r.Header.Set("Content-Type", tc.ctype)
			var b body
			err := decode(r, &b)
			if tc.status == 0 {
				require.NoError(t, err)
				return
			}
			var ae *apiError
			require.ErrorAs(t, err, &ae)
			assert.Equal(t, tc.status, ae.Status)
			assert.Contains(t, ae.Details, tc.field)
		})
	}
}

func newTestHandler(t *testing.T, logs io.Writer) http.Handler {
	t.Helper()
	log := slog.New(slog.NewJSONHandler(logs, nil))
	ew := errorWriter{log: log}
	return withRequestID(clientip.Resolver{})(recoverer(log, ew)(limitBody(1024, ew)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/panic" {
			panic("secret-looking panic value")
		}
		var b body
		if err := decode(r, &b); err != nil {
			ew.write(w, r, err)
			return
		}
		encode(w, http.StatusOK, "ok")
	}))))
}

func TestPanicBecomesEnvelope(t *testing.T) {
	var logs bytes.Buffer
	rec := httptest.NewRecorder()
	newTestHandler(t, &logs).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/panic", nil))
	assert.Equal(t, http.StatusInternalServerError, rec.Code)
	var env ErrorEnvelope
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &env))
	assert.Equal(t, "internal_error", env.Code)
	assert.NotContains(t, rec.Body.String(), "secret-looking", "the cause goes to the log, not the client")
	assert.Contains(t, logs.String(), "secret-looking")
	assert.NotEmpty(t, rec.Header().Get("X-Request-ID"))
}

func TestBodyLimit(t *testing.T) {
	h := newTestHandler(t, io.Discard)
	big := `{"refresh_token":"` + strings.Repeat("a", 2048) + `"}`
	for _, chunked := range []bool{false, true} {
		r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(big))
		if chunked {
			r.ContentLength = -1 // no declared length: the reader limit catches it
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		assert.Equal(t, http.StatusRequestEntityTooLarge, rec.Code, "chunked=%v", chunked)
		assert.Contains(t, rec.Body.String(), `"code":"validation_error"`)
	}
}

func FuzzDecode(f *testing.F) {
	f.Add([]byte(`{"refresh_token":"x"}`))
	f.Add([]byte(`{"refresh_token":null}`))
	f.Add([]byte("\xff\xfe"))
	f.Fuzz(func(t *testing.T, raw []byte) {
		r := httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(raw))
		var b body
		err := decode(r, &b)
		if err != nil {
			var ae *apiError
			require.ErrorAs(t, err, &ae, "every decode failure is an envelope error")
			require.Equal(t, "validation_error", ae.Code)
			for _, v := range ae.Details {
				if s, ok := v.(string); ok && len(raw) > 8 {
					require.NotContains(t, s, string(raw), "errors never echo the body")
				}
			}
		}
	})
}
