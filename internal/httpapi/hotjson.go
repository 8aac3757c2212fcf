package httpapi

import (
	"net/http"
	"strconv"
	"sync"

	"github.com/auth-manager/auth-manager/internal/jsonlog"
)

// The two hottest answers (an access token from the cache, a validated caller) are
// encoded by hand into a pooled buffer: encoding/json reflects over the struct and
// escapes a ~1.2 KB token byte by byte through its generic path on every request.
// The output is byte for byte what writeJSON produces (TestHotAnswersMatchEncodingJSON,
// FuzzHotAnswers) and matches the spec's schemas (TestHotAnswersMatchTheSpec).

// bufPool holds answer buffers; an access-token answer is about 1.3 KB.
var bufPool = sync.Pool{New: func() any { b := make([]byte, 0, 2048); return &b }}

// maxPooledBuf keeps an unusually large answer's buffer out of the pool.
const maxPooledBuf = 16 << 10

// encodeWith writes the success envelope of v, encoded by appendData, with the
// headers writeJSON sets.
func encodeWith[T any](w http.ResponseWriter, status int, v T, appendData func([]byte, T) []byte) {
	bp := bufPool.Get().(*[]byte)
	b := append((*bp)[:0], `{"data":`...)
	b = appendData(b, v)
	b = append(b, "}\n"...)
	h := w.Header()
	h["Content-Type"] = contentTypeJSON
	h["Cache-Control"] = cacheNoStore
	w.WriteHeader(status)
	_, _ = w.Write(b)
	if cap(b) <= maxPooledBuf {
		*bp = b
		bufPool.Put(bp)
	}
}

// Shared header values (never modified: http.Header.Set replaces the slice, Add
// copies it since its capacity is its length).
var (
	contentTypeJSON = []string{"application/json"}
	cacheNoStore    = []string{"no-store"}
)

func appendAccessToken(b []byte, a AccessTokenAnswer) []byte {
	b = append(b, `{"access_token":`...)
	b = jsonlog.AppendJSONString(b, a.AccessToken)
	b = append(b, `,"expires_in":`...)
	b = strconv.AppendInt(b, int64(a.ExpiresIn), 10)
	if a.TokenType != "" {
		b = append(b, `,"token_type":`...)
		b = jsonlog.AppendJSONString(b, a.TokenType)
	}
	if a.Scope != "" {
		b = append(b, `,"scope":`...)
		b = jsonlog.AppendJSONString(b, a.Scope)
	}
	return append(b, '}')
}

func appendValidate(b []byte, v ValidateAnswer) []byte {
	b = append(b, `{"valid":`...)
	b = strconv.AppendBool(b, v.Valid)
	b = append(b, `,"sub":`...)
	b = jsonlog.AppendJSONString(b, v.Subject)
	if v.SessionID != "" {
		b = append(b, `,"sid":`...)
		b = jsonlog.AppendJSONString(b, v.SessionID)
	}
	b = append(b, `,"exp":`...)
	b = strconv.AppendInt(b, v.ExpiresAt, 10)
	b = append(b, `,"scope":`...)
	b = jsonlog.AppendJSONString(b, v.Scope)
	b = append(b, `,"client_id":`...)
	b = jsonlog.AppendJSONString(b, v.ClientID)
	if v.Username != "" {
		b = append(b, `,"username":`...)
		b = jsonlog.AppendJSONString(b, v.Username)
	}
	b = append(b, `,"service_caller":`...)
	b = strconv.AppendBool(b, v.ServiceCaller)
	return append(b, '}')
}
