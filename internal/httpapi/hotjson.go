package httpapi

import (
	"net/http"
	"strconv"
	"sync"
	"unicode/utf8"
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
	b = appendJSONString(b, a.AccessToken)
	b = append(b, `,"expires_in":`...)
	b = strconv.AppendInt(b, int64(a.ExpiresIn), 10)
	if a.TokenType != "" {
		b = append(b, `,"token_type":`...)
		b = appendJSONString(b, a.TokenType)
	}
	if a.Scope != "" {
		b = append(b, `,"scope":`...)
		b = appendJSONString(b, a.Scope)
	}
	return append(b, '}')
}

func appendValidate(b []byte, v ValidateAnswer) []byte {
	b = append(b, `{"valid":`...)
	b = strconv.AppendBool(b, v.Valid)
	b = append(b, `,"sub":`...)
	b = appendJSONString(b, v.Subject)
	if v.SessionID != "" {
		b = append(b, `,"sid":`...)
		b = appendJSONString(b, v.SessionID)
	}
	b = append(b, `,"exp":`...)
	b = strconv.AppendInt(b, v.ExpiresAt, 10)
	b = append(b, `,"scope":`...)
	b = appendJSONString(b, v.Scope)
	b = append(b, `,"client_id":`...)
	b = appendJSONString(b, v.ClientID)
	if v.Username != "" {
		b = append(b, `,"username":`...)
		b = appendJSONString(b, v.Username)
	}
	b = append(b, `,"service_caller":`...)
	b = strconv.AppendBool(b, v.ServiceCaller)
	return append(b, '}')
}

// plain marks the ASCII bytes a JSON string holds as they are (encoding/json without
// HTML escaping): printable, and neither '"' nor '\\'.
var plain = func() (t [utf8.RuneSelf]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

const hexDigits = "0123456789abcdef"

const (
	lsb = 0x0101010101010101
	msb = 0x8080808080808080
)

// hasSpecialByte reports whether any byte of x needs more than a copy in a JSON
// string: below 0x20, '"', '\\' or non-ASCII (the classic SWAR zero-byte tests,
// exact for these constants).
func hasSpecialByte(x uint64) bool {
	q, bs := x^(lsb*'"'), x^(lsb*'\\')
	return ((x-lsb*0x20)&^x|(q-lsb)&^q|(bs-lsb)&^bs|x)&msb != 0
}

// appendJSONString appends s as a JSON string exactly as encoding/json does with
// SetEscapeHTML(false): short escapes for \" \\ \b \f \n \r \t, \u00XX for other
// control bytes, U+FFFD for invalid UTF-8, and \u2028 \u2029 escaped (JavaScript
// line terminators).
func appendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		// Eight plain bytes at a time (a token is all plain): none below 0x20, none
		// 0x80 or above, no '"' and no '\\'.
		for i+8 <= len(s) {
			t := s[i : i+8] // one bounds check; the loads below combine into one
			x := uint64(t[0]) | uint64(t[1])<<8 | uint64(t[2])<<16 | uint64(t[3])<<24 |
				uint64(t[4])<<32 | uint64(t[5])<<40 | uint64(t[6])<<48 | uint64(t[7])<<56
			if hasSpecialByte(x) {
				break
			}
			i += 8
		}
		if i >= len(s) {
			break
		}
		c := s[i]
		if c < utf8.RuneSelf {
			if plain[c] {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
