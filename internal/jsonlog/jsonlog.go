package jsonlog

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"math"
	"strconv"
	"sync"
	"time"
	"unicode/utf8"
)

// Handler is a slog.Handler; see the package comment. Handlers derived with
// WithAttrs share the writer and its lock with their parent, as slog's own do.
type Handler struct {
	out   *output
	level slog.Leveler
	pre   []byte       // the WithAttrs attributes, encoded, each with its leading comma
	slow  slog.Handler // slog.JSONHandler with the same attributes, for what Handle does not encode
}

// output serialises the writes of a handler and its derivations (and of their slow
// JSONHandlers): one Write per record, never interleaved.
type output struct {
	mu sync.Mutex
	w  io.Writer
}

func (o *output) Write(p []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.w.Write(p)
}

// New returns a handler writing to w. Options that change the line (ReplaceAttr,
// AddSource) are slog.JSONHandler's alone: with them, New returns one.
func New(w io.Writer, opts *slog.HandlerOptions) slog.Handler {
	if opts == nil {
		opts = &slog.HandlerOptions{}
	}
	if opts.ReplaceAttr != nil || opts.AddSource {
		return slog.NewJSONHandler(w, opts)
	}
	out := &output{w: w}
	level := opts.Level
	if level == nil {
		level = slog.LevelInfo
	}
	return &Handler{out: out, level: level, slow: slog.NewJSONHandler(out, opts)}
}

// Enabled reports whether l is at or above the handler's level.
func (h *Handler) Enabled(_ context.Context, l slog.Level) bool { return l >= h.level.Level() }

// WithAttrs returns a handler that adds attrs to every record. Attributes it cannot
// encode itself make the result slog.JSONHandler's.
func (h *Handler) WithAttrs(attrs []slog.Attr) slog.Handler {
	pre := append([]byte(nil), h.pre...)
	for _, a := range attrs {
		var ok bool
		if pre, ok = appendAttr(pre, a); !ok {
			return h.slow.WithAttrs(attrs)
		}
	}
	return &Handler{out: h.out, level: h.level, pre: pre, slow: h.slow.WithAttrs(attrs)}
}

// WithGroup returns slog.JSONHandler's: the service logs no groups.
func (h *Handler) WithGroup(name string) slog.Handler { return h.slow.WithGroup(name) }

var bufs = sync.Pool{New: func() any { b := make([]byte, 0, 1024); return &b }}

// Handle writes r as one line, or hands it to slog.JSONHandler when r holds a value
// this handler does not encode.
func (h *Handler) Handle(ctx context.Context, r slog.Record) error {
	bp := bufs.Get().(*[]byte)
	b, ok := h.appendRecord((*bp)[:0], r)
	if !ok {
		bufs.Put(bp)
		return h.slow.Handle(ctx, r)
	}
	_, err := h.out.Write(b)
	if cap(b) <= 16<<10 { // keep a rare huge line's buffer out of the pool
		*bp = b
		bufs.Put(bp)
	}
	return err
}

func (h *Handler) appendRecord(b []byte, r slog.Record) ([]byte, bool) {
	if y := r.Time.Year(); !r.Time.IsZero() && (y < 0 || y >= 10000) {
		return b, false
	}
	b = h.appendHeader(b, r.Time, r.Level, r.Message)
	ok := true
	r.Attrs(func(a slog.Attr) bool {
		b, ok = appendAttr(b, a)
		return ok
	})
	return append(b, '}', '\n'), ok
}

// appendHeader appends the line's start: time (unless zero), level, message and the
// WithAttrs attributes. A time outside years 0–9999 is the caller's to refuse.
func (h *Handler) appendHeader(b []byte, t time.Time, level slog.Level, msg string) []byte {
	b = append(b, '{')
	if !t.IsZero() {
		b = append(b, `"time":"`...)
		b = t.Round(0).AppendFormat(b, time.RFC3339Nano)
		b = append(b, `",`...)
	}
	b = append(b, `"level":`...)
	b = appendString(b, level.String())
	b = append(b, `,"msg":`...)
	b = appendString(b, msg)
	return append(b, h.pre...)
}

// appendAttr appends ,"key":value, or nothing for an empty attribute (as slog does).
// ok is false for a value it leaves to slog.JSONHandler.
func appendAttr(b []byte, a slog.Attr) ([]byte, bool) {
	v := a.Value
	if v.Kind() == slog.KindAny && a.Key == "" && v.Any() == nil {
		return b, true // slog.Attr{}: slog drops it
	}
	b = append(b, ',')
	b = appendString(b, a.Key)
	b = append(b, ':')
	switch v.Kind() {
	case slog.KindString:
		b = appendString(b, v.String())
	case slog.KindInt64:
		b = strconv.AppendInt(b, v.Int64(), 10)
	case slog.KindUint64:
		b = strconv.AppendUint(b, v.Uint64(), 10)
	case slog.KindBool:
		b = strconv.AppendBool(b, v.Bool())
	case slog.KindDuration:
		b = strconv.AppendInt(b, int64(v.Duration()), 10)
	case slog.KindFloat64:
		f := v.Float64()
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return b, false
		}
		b = appendFloat(b, f)
	case slog.KindTime:
		t := v.Time()
		if y := t.Year(); y < 0 || y >= 10000 {
			return b, false
		}
		b = append(b, '"')
		b = t.AppendFormat(b, time.RFC3339Nano)
		b = append(b, '"')
	case slog.KindAny:
		// An error that is not a json.Marshaler is its message, as slog writes it.
		x := v.Any()
		if _, jm := x.(json.Marshaler); jm {
			return b, false
		}
		err, isErr := x.(error)
		if !isErr {
			return b, false
		}
		b = appendString(b, err.Error())
	default: // groups, LogValuers
		return b, false
	}
	return b, true
}

// appendFloat formats f as encoding/json does (which slog.JSONHandler calls): the
// shortest representation, in exponent form below 1e-6 and from 1e21, with the
// exponent's leading zero dropped.
func appendFloat(b []byte, f float64) []byte {
	format := byte('f')
	if abs := math.Abs(f); abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	b = strconv.AppendFloat(b, f, format, -1, 64)
	if format == 'e' {
		// clean up e-09 to e-9
		if n := len(b); n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			b[n-2] = b[n-1]
			b = b[:n-1]
		}
	}
	return b
}

const (
	hex = "0123456789abcdef"
	lsb = 0x0101010101010101
	msb = 0x8080808080808080
)

// appendString appends s quoted as slog.JSONHandler quotes it: encoding/json's escapes
// without the HTML ones, invalid UTF-8 as U+FFFD, U+2028 and U+2029 escaped.
func appendString(b []byte, s string) []byte {
	return append(appendStringBody(append(b, '"'), s), '"')
}

// appendStringBody is appendString without the quotes.
func appendStringBody(b []byte, s string) []byte { return appendEscaped(b, s, false) }

// AppendJSONString appends s as a JSON string exactly as encoding/json does with
// SetEscapeHTML(false). It differs from slog's quoting in \b and \f only, which
// encoding/json writes short; the HTTP layer's hand-written answers use it.
func AppendJSONString(b []byte, s string) []byte {
	return append(appendEscaped(append(b, '"'), s, true), '"')
}

// hasSpecialByte reports whether any byte of x needs more than a copy in a JSON
// string: below 0x20, '"', '\\' or non-ASCII (the classic SWAR zero-byte tests,
// exact for these constants).
func hasSpecialByte(x uint64) bool {
	q, bs := x^(lsb*'"'), x^(lsb*'\\')
	return ((x-lsb*0x20)&^x|(q-lsb)&^q|(bs-lsb)&^bs|x)&msb != 0
}

// appendEscaped appends the body of s as a JSON string: '"' and '\\' escaped, \n \r \t
// (and \b \f when shortBF) short, other control bytes as \u00XX, invalid UTF-8 as
// U+FFFD, U+2028 and U+2029 escaped.
func appendEscaped(b []byte, s string, shortBF bool) []byte {
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
		if c := s[i]; c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch {
			case c == '\\' || c == '"':
				b = append(b, '\\', c)
			case c == '\n':
				b = append(b, '\\', 'n')
			case c == '\r':
				b = append(b, '\\', 'r')
			case c == '\t':
				b = append(b, '\\', 't')
			case c == '\b' && shortBF:
				b = append(b, '\\', 'b')
			case c == '\f' && shortBF:
				b = append(b, '\\', 'f')
			default:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hex[r&0xF])
		default:
			i += size
			continue
		}
		i += size
		start = i
	}
	return append(b, s[start:]...)
}
