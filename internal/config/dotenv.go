package config

import (
	"bufio"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"slices"
	"strings"
	"sync"
)

// DotEnv is the KEY=VALUE lines of a .env file, answered behind the real environment.
// It remembers which of its keys were read, so that the service can say so (names
// only, never values).
type DotEnv struct {
	Path string
	vars map[string]string

	mu   sync.Mutex
	used map[string]bool
}

// ReadDotEnv reads the .env file at path. A missing file is not an error: it returns
// nil, and a nil *DotEnv adds nothing to the environment. Values may be single- or
// double-quoted; '#' starts a comment line. The parser is deliberately small: no
// interpolation, no multi-line values.
func ReadDotEnv(path string) (*DotEnv, error) {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("config: open %s: %w", path, err)
	}
	defer f.Close()
	d := &DotEnv{Path: path, vars: map[string]string{}, used: map[string]bool{}}
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		line = strings.TrimPrefix(line, "export ")
		key, value, ok := strings.Cut(line, "=")
		key = strings.TrimSpace(key)
		if !ok || key == "" {
			// The line may hold a secret: name only the position.
			return nil, fmt.Errorf("config: %s line %d: expected KEY=VALUE", path, n)
		}
		d.vars[key] = unquote(strings.TrimSpace(value))
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("config: read %s: %w", path, err)
	}
	return d, nil
}

// Over returns a Getenv that answers from getenv first and then from the file: real
// environment variables win, and the process environment is never modified.
func (d *DotEnv) Over(getenv Getenv) Getenv {
	if d == nil {
		return getenv
	}
	return func(k string) (string, bool) {
		if v, ok := getenv(k); ok {
			return v, true
		}
		v, ok := d.vars[k]
		if ok {
			d.mu.Lock()
			d.used[k] = true
			d.mu.Unlock()
		}
		return v, ok
	}
}

// Keys are the variables the file sets, sorted.
func (d *DotEnv) Keys() []string {
	if d == nil {
		return nil
	}
	return slices.Sorted(maps.Keys(d.vars))
}

// Used are the file's variables that were read from it so far (not found in the real
// environment first), sorted.
func (d *DotEnv) Used() []string { return d.filter(true) }

// Unused are the file's variables nothing read from it: the real environment set them,
// or no command reads them (a misspelt name shows here).
func (d *DotEnv) Unused() []string { return d.filter(false) }

func (d *DotEnv) filter(used bool) []string {
	if d == nil {
		return nil
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	var out []string
	for _, k := range d.Keys() {
		if d.used[k] == used {
			out = append(out, k)
		}
	}
	return out
}

// WithDotEnv returns a Getenv that answers from getenv first and then from the .env
// file at path (see ReadDotEnv and Over).
func WithDotEnv(path string, getenv Getenv) (Getenv, error) {
	d, err := ReadDotEnv(path)
	if err != nil {
		return nil, err
	}
	return d.Over(getenv), nil
}

func unquote(v string) string {
	if len(v) >= 2 && (v[0] == '"' || v[0] == '\'') && v[len(v)-1] == v[0] {
		return v[1 : len(v)-1]
	}
	return v
}
