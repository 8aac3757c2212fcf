package jsonlog

import (
	"context"
	"log/slog"
	"math"
	"strconv"
	"sync"
	"time"
)

// Line builds one log record field by field. It is for the records written on every
// request (the access line, the audit event): when the logger's handler is a *Handler
// the fields are appended straight to the output line, without building a slog.Record
// (whose attributes beyond five are a heap allocation), without a kind switch per
// field, and with a shallow stack; with any other handler (a test's, tracing's
// wrapper) the fields become a slog.Record handed to it, so the line is that
// handler's. A nil *Line (the level is disabled) ignores every call.
type Line struct {
	h   *Handler // the fast path, or nil
	b   []byte
	rec slog.Record // the other path
	log slog.Handler
}

var lines = sync.Pool{New: func() any { return &Line{b: make([]byte, 0, 1024)} }}

// Start begins a record of log at level with message msg and time t, or returns nil
// when log does not take level. End writes it.
func Start(ctx context.Context, log *slog.Logger, t time.Time, level slog.Level, msg string) *Line {
	h := log.Handler()
	if !h.Enabled(ctx, level) {
		return nil
	}
	l := lines.Get().(*Line)
	if fast, ok := h.(*Handler); ok {
		l.h = fast
		l.b = fast.appendHeader(l.b[:0], t, level, msg)
		return l
	}
	l.log, l.rec = h, slog.NewRecord(t, level, msg, 0)
	return l
}

// Str adds a string field.
func (l *Line) Str(key, value string) *Line {
	switch {
	case l == nil:
	case l.h != nil:
		l.b = appendString(append(appendString(append(l.b, ','), key), ':'), value)
	default:
		l.rec.AddAttrs(slog.String(key, value))
	}
	return l
}

// Concat adds a string field whose value is a followed by b, without building the
// string on the fast path.
func (l *Line) Concat(key, a, b string) *Line {
	switch {
	case l == nil:
	case l.h != nil:
		l.b = append(appendString(append(l.b, ','), key), ':', '"')
		l.b = append(appendStringBody(appendStringBody(l.b, a), b), '"')
	default:
		l.rec.AddAttrs(slog.String(key, a+b))
	}
	return l
}

// Int adds an integer field.
func (l *Line) Int(key string, value int64) *Line {
	switch {
	case l == nil:
	case l.h != nil:
		l.b = strconv.AppendInt(append(appendString(append(l.b, ','), key), ':'), value, 10)
	default:
		l.rec.AddAttrs(slog.Int64(key, value))
	}
	return l
}

// Float adds a number field, formatted as slog.JSONHandler formats one. The fields
// this is for are finite; on the fast path NaN and ±Inf are written as null.
func (l *Line) Float(key string, value float64) *Line {
	switch {
	case l == nil:
	case l.h != nil:
		l.b = append(appendString(append(l.b, ','), key), ':')
		if math.IsNaN(value) || math.IsInf(value, 0) {
			l.b = append(l.b, "null"...)
		} else {
			l.b = appendFloat(l.b, value)
		}
	default:
		l.rec.AddAttrs(slog.Float64(key, value))
	}
	return l
}

// End writes the record and recycles l, which must not be used again.
func (l *Line) End(ctx context.Context) error {
	if l == nil {
		return nil
	}
	var err error
	if l.h != nil {
		l.b = append(l.b, '}', '\n')
		_, err = l.h.out.Write(l.b)
	} else {
		err = l.log.Handle(ctx, l.rec)
	}
	if cap(l.b) > 16<<10 {
		l.b = make([]byte, 0, 1024)
	}
	l.h, l.log, l.rec = nil, nil, slog.Record{}
	lines.Put(l)
	return err
}
