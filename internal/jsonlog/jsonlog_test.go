package jsonlog

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"testing"
	"testing/slogtest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// both logs r through New and through slog.NewJSONHandler and returns the two lines.
func both(t testing.TB, with []slog.Attr, r slog.Record) (got, want string) {
	t.Helper()
	var g, w bytes.Buffer
	opts := &slog.HandlerOptions{Level: slog.LevelDebug}
	var gh, wh slog.Handler = New(&g, opts), slog.NewJSONHandler(&w, opts)
	if with != nil {
		gh, wh = gh.WithAttrs(with), wh.WithAttrs(with)
	}
	require.NoError(t, gh.Handle(context.Background(), r))
	require.NoError(t, wh.Handle(context.Background(), r))
	return g.String(), w.String()
}

type marshaler struct{}

func (marshaler) MarshalJSON() ([]byte, error) { return []byte(`{"m":1}`), nil }
func (marshaler) Error() string                { return "not this" }

type valuer struct{}

func (valuer) LogValue() slog.Value { return slog.StringValue("resolved") }

func TestSameLinesAsJSONHandler(t *testing.T) {
	at := time.Date(2026, 12, 2, 12, 41, 18, 123456789, time.UTC)
	cases := map[string][]slog.Attr{
		"access line": {slog.String("request_id", "0123456789abcdef0123456789abcdef"), slog.String("client_ip", "127.0.0.1"),
			slog.String("method", "POST"), slog.String("path", "/v1/access-token"), slog.Int("status", 200),
			slog.Int("bytes", 1320), slog.Float64("duration_ms", 0.123)},
		"escapes":    {slog.String("s", "a\"b\\c\n\r\t\x00\x1f\x7f<>&é\u2028\u2029\xff\xfe日本"), slog.String("k\"ey\n", "v")},
		"numbers":    {slog.Int64("min", math.MinInt64), slog.Uint64("max", math.MaxUint64), slog.Bool("t", true), slog.Bool("f", false)},
		"floats":     {slog.Float64("a", 0), slog.Float64("b", math.Copysign(0, -1)), slog.Float64("c", 1e-7), slog.Float64("d", 1e21), slog.Float64("e", 123456789.125), slog.Float64("f", 1e-6), slog.Float64("g", -2.5e-300), slog.Float64("h", 1e20)},
		"durations":  {slog.Duration("d", 1500*time.Millisecond), slog.Duration("neg", -time.Nanosecond)},
		"times":      {slog.Time("t", at), slog.Time("local", at.In(time.FixedZone("x", 5400))), slog.Time("zero", time.Time{})},
		"errors":     {slog.Any("err", errors.New("boom \"quoted\"")), slog.Any("wrapped", fmt.Errorf("ctx: %w", errors.New("inner")))},
		"empty attr": {{}, slog.String("", "empty key"), slog.Int("", 0)},
		// what the fast path hands to slog.JSONHandler
		"nan":       {slog.Float64("nan", math.NaN())},
		"inf":       {slog.Float64("inf", math.Inf(-1))},
		"marshaler": {slog.Any("m", marshaler{})},
		"any":       {slog.Any("map", map[string]int{"a": 1}), slog.Any("nil", nil)},
		"group":     {slog.Group("g", slog.String("a", "b"))},
		"valuer":    {slog.Any("v", valuer{})},
		"bad year":  {slog.Time("t", time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC))},
	}
	for name, attrs := range cases {
		t.Run(name, func(t *testing.T) {
			for _, level := range []slog.Level{slog.LevelInfo, slog.LevelError + 2, slog.LevelDebug - 1} {
				r := slog.NewRecord(at, level, "msg \"x\"\n", 0)
				r.AddAttrs(attrs...)
				got, want := both(t, nil, r)
				assert.Equal(t, want, got)
				got, want = both(t, attrs, r) // the same attributes through WithAttrs
				assert.Equal(t, want, got)
			}
			r := slog.NewRecord(time.Time{}, slog.LevelWarn, "no time", 0)
			r.AddAttrs(attrs...)
			got, want := both(t, nil, r)
			assert.Equal(t, want, got)
		})
	}
}

func TestGroupsAndLevels(t *testing.T) {
	var g, w bytes.Buffer
	gl := slog.New(New(&g, nil)).With("svc", "a").WithGroup("grp").With("k", 1)
	wl := slog.New(slog.NewJSONHandler(&w, nil)).With("svc", "a").WithGroup("grp").With("k", 1)
	gl.Info("x", "n", 2)
	wl.Info("x", "n", 2)
	gl.Debug("dropped")
	wl.Debug("dropped")
	assert.Equal(t, stripTime(t, w.String()), stripTime(t, g.String()))
	assert.Contains(t, g.String(), `"grp":{"k":1,"n":2}`)
}

// stripTime drops the time of each line: records from slog.Logger carry time.Now.
func stripTime(t *testing.T, lines string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for line := range bytes.Lines([]byte(lines)) {
		var m map[string]any
		require.NoError(t, json.Unmarshal(line, &m))
		delete(m, "time")
		out = append(out, m)
	}
	return out
}

func TestSlogtest(t *testing.T) {
	var buf bytes.Buffer
	results := func() []map[string]any {
		var ms []map[string]any
		for line := range bytes.Lines(buf.Bytes()) {
			var m map[string]any
			require.NoError(t, json.Unmarshal(line, &m))
			ms = append(ms, m)
		}
		return ms
	}
	require.NoError(t, slogtest.TestHandler(New(&buf, nil), results))
}

func FuzzSameLinesAsJSONHandler(f *testing.F) {
	f.Add("msg", "key", "value \u2028 \xff", int64(-7), 0.125, uint64(0))
	f.Add("", "", "", int64(0), 1e-9, uint64(1<<63))
	f.Fuzz(func(t *testing.T, msg, key, s string, i int64, x float64, nanos uint64) {
		r := slog.NewRecord(time.Unix(int64(nanos>>34), int64(nanos%1e9)), slog.Level(i%16), msg, 0)
		r.AddAttrs(slog.String(key, s), slog.Int64(s, i), slog.Float64(key, x), slog.Any("err", errors.New(s)),
			slog.Duration("d", time.Duration(i)))
		got, want := both(t, nil, r)
		if got != want {
			t.Fatalf("got  %s\nwant %s", got, want)
		}
	})
}

func BenchmarkAccessLine(b *testing.B) {
	at := time.Now()
	for _, impl := range []struct {
		name string
		h    slog.Handler
	}{{"jsonlog", New(discard{}, nil)}, {"slog.JSONHandler", slog.NewJSONHandler(discard{}, nil)}} {
		b.Run(impl.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				r := slog.NewRecord(at, slog.LevelInfo, "http request", 0)
				r.AddAttrs(slog.String("request_id", "0123456789abcdef0123456789abcdef"), slog.String("client_ip", "127.0.0.1"),
					slog.String("method", "POST"), slog.String("path", "/v1/access-token"), slog.String("route", "/v1/access-token"),
					slog.Int("status", 200), slog.Int("bytes", 1320), slog.Float64("duration_ms", 0.123))
				_ = impl.h.Handle(context.Background(), r)
			}
		})
	}
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }

// TestLineBothPaths writes the same Line through a *Handler (appended directly) and
// through slog.JSONHandler (as a record): the lines must be the same.
func TestLineBothPaths(t *testing.T) {
	at := time.Date(2026, 12, 2, 12, 41, 18, 5, time.FixedZone("", 3600))
	write := func(h slog.Handler) string {
		var buf bytes.Buffer
		switch h.(type) {
		case *Handler:
			h = New(&buf, nil).WithAttrs([]slog.Attr{slog.String("svc", "a")})
		default:
			h = slog.NewJSONHandler(&buf, nil).WithAttrs([]slog.Attr{slog.String("svc", "a")})
		}
		log := slog.New(h)
		ctx := context.Background()
		require.NoError(t, Start(ctx, log, at, slog.LevelInfo, "http request").
			Str("request_id", "abc").Str("path", "/v1/x\"\n\u2028\xff").Int("status", -200).Concat("actor", "service:", "x\"y").
			Float("duration_ms", 0.125).Float("tiny", 1e-7).End(ctx))
		require.NoError(t, Start(ctx, log, time.Time{}, slog.LevelWarn, "no time").End(ctx))
		assert.Nil(t, Start(ctx, log, at, slog.LevelDebug, "disabled").Str("k", "v"), "a disabled level gives a nil line")
		return buf.String()
	}
	fast, slow := write(&Handler{}), write(nil)
	assert.Equal(t, slow, fast)
	assert.Contains(t, fast, `"svc":"a","request_id":"abc"`)
}

func TestLineNonFinite(t *testing.T) {
	var buf bytes.Buffer
	ctx := context.Background()
	require.NoError(t, Start(ctx, slog.New(New(&buf, nil)), time.Time{}, slog.LevelInfo, "m").Float("x", math.NaN()).End(ctx))
	assert.Equal(t, `{"level":"INFO","msg":"m","x":null}`+"\n", buf.String())
}

func BenchmarkLine(b *testing.B) {
	log := slog.New(New(discard{}, nil))
	ctx := context.Background()
	at := time.Now()
	b.ReportAllocs()
	for b.Loop() {
		_ = Start(ctx, log, at, slog.LevelInfo, "http request").
			Str("request_id", "0123456789abcdef0123456789abcdef").Str("client_ip", "127.0.0.1").
			Str("method", "POST").Str("path", "/v1/access-token").Str("route", "/v1/access-token").
			Int("status", 200).Int("bytes", 1320).Float("duration_ms", 0.123).End(ctx)
	}
}

// TestHasSpecialByte checks the SWAR test against the byte table: every byte value at
// every position of a plain word, and next to another special byte.
func TestHasSpecialByte(t *testing.T) {
	for c := range 256 {
		for p := range 8 {
			for _, fill := range []byte{'a', 0x1f, 0x80} {
				var x uint64
				want := false
				for i := range 8 {
					b := fill
					if i == p {
						b = byte(c)
					}
					want = want || b >= 0x80 || b < 0x20 || b == '"' || b == '\\'
					x |= uint64(b) << (8 * i)
				}
				if got := hasSpecialByte(x); got != want {
					t.Fatalf("byte %#x at %d among %#x: got %v, want %v", c, p, fill, got, want)
				}
			}
		}
	}
}
