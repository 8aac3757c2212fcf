package config

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// Error is one problem with the configuration: the variable (or the combination of
// variables) it is about, and what is wrong with a hint of the expected form. It never
// holds a variable's value.
type Error struct {
	Var     string // e.g. "DATABASE_URL", or "CORS_ORIGINS, CORS_ALLOW_CREDENTIALS"
	Problem string
}

func (e *Error) Error() string { return "config: " + e.Var + ": " + e.Problem }

// Errors returns the problems in err, one per variable, in the order they were found;
// nil when err holds none (a configuration error joins them with errors.Join).
func Errors(err error) []*Error {
	var out []*Error
	var walk func(error)
	walk = func(err error) {
		if j, ok := err.(interface{ Unwrap() []error }); ok {
			for _, e := range j.Unwrap() {
				walk(e)
			}
			return
		}
		var e *Error
		if errors.As(err, &e) {
			out = append(out, e)
		}
	}
	if err != nil {
		walk(err)
	}
	return out
}

func invalid(key, why string) error { return &Error{Var: key, Problem: why} }

// problems collects every problem found while loading, so that one start reports them
// all. A variable keeps its first problem only: a value that did not parse is not
// also reported as out of range, nor a secret whose NAME_FILE could not be read as
// missing.
type problems []error

func (p *problems) add(err error) {
	if err == nil {
		return
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		for _, e := range j.Unwrap() {
			p.add(e)
		}
		return
	}
	var e *Error
	if errors.As(err, &e) && p.has(e.Var) {
		return
	}
	*p = append(*p, err)
}

func (p problems) has(key string) bool {
	for _, err := range p {
		if e, ok := err.(*Error); ok && (e.Var == key || e.Var == key+fileSuffix) {
			return true
		}
	}
	return false
}

// err is nil when nothing was found, else every problem joined (one per line).
func (p problems) err() error { return errors.Join(p...) }

// duration is a length of time in the environment: a Go duration ("15s", "2m",
// "1h30m") or a whole number of seconds ("15"), the unit every duration variable had
// before units were accepted.
type duration time.Duration

const durationForm = "use a Go duration such as 15s, 2m or 1h, or a whole number of seconds"

// Decode implements envconfig.Decoder. An empty value is 0.
func (d *duration) Decode(s string) error {
	s = strings.TrimSpace(s)
	if s == "" {
		*d = 0
		return nil
	}
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		if n > math.MaxInt64/int64(time.Second) || n < math.MinInt64/int64(time.Second) {
			return errors.New("out of range")
		}
		*d = duration(time.Duration(n) * time.Second)
		return nil
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return err
	}
	*d = duration(v)
	return nil
}

// within checks that key's duration lies in [lo, hi]; hi 0 means no upper bound.
func within(key string, d duration, lo, hi time.Duration) error {
	v := time.Duration(d)
	switch {
	case hi == 0 && v < lo:
		return invalid(key, fmt.Sprintf("must be at least %s (%s)", short(lo), durationForm))
	case hi != 0 && (v < lo || v > hi):
		return invalid(key, fmt.Sprintf("must be between %s and %s (%s)", short(lo), short(hi), durationForm))
	}
	return nil
}

// short writes a duration without zero trailing units: 1h, not 1h0m0s.
func short(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}
