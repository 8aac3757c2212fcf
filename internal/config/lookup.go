package config

import (
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"strconv"
	"strings"
)

// Getenv looks one variable up, with os.LookupEnv's shape: a variable set to "" is set
// (so CORS_ORIGINS= still means "no origins", not the default). run receives it as an
// argument, so tests hand the program a map instead of mutating the process
// environment.
type Getenv func(key string) (string, bool)

// MapEnv is a Getenv over a fixed map (tests, tools).
func MapEnv(m map[string]string) Getenv {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

// fileSuffix names the variant of a secret's variable that holds a path to a file
// with the value (DATABASE_URL_FILE for DATABASE_URL), as mounted Kubernetes and
// Docker secrets are.
const fileSuffix = "_FILE"

// maxSecretFile bounds what a *_FILE variable may make the service read.
const maxSecretFile = 64 << 10

// process fills spec's fields from getenv by their `envconfig`, `default` and
// `required` tags, for the fields whose variable keep accepts. It replaces
// envconfig.Process, which can only read the process environment; the tags keep
// envconfig's meaning, and fields whose type has a Decode method are decoded by it,
// as envconfig does. One addition: a Secret field's value may come from the file
// named by its *_FILE variable. Every problem is reported, not just the first; each
// names its variable and never echoes the value.
func process(getenv Getenv, spec any, keep func(key string) bool) error {
	var p problems
	v := reflect.ValueOf(spec).Elem()
	t := v.Type()
	for i := range t.NumField() {
		f := t.Field(i)
		key := f.Tag.Get("envconfig")
		if key == "" || !keep(key) {
			continue
		}
		raw, ok := getenv(key)
		if f.Type == secretType {
			fromFile, found, err := secretFile(getenv, key, ok)
			if err != nil {
				p.add(err)
				continue
			}
			if found {
				raw, ok = fromFile, true
			}
		}
		if !ok {
			if f.Tag.Get("required") == "true" {
				why := "required but not set"
				if f.Type == secretType {
					why += " (or set " + key + fileSuffix + " to a file holding it)"
				}
				p.add(invalid(key, why))
				continue
			}
			def, has := f.Tag.Lookup("default")
			if !has {
				continue
			}
			raw = def
		}
		if err := setField(v.Field(i), raw); err != nil {
			p.add(invalid(key, hint(v.Field(i))))
		}
	}
	return p.err()
}

var secretType = reflect.TypeFor[Secret]()

// secretFile reads key's value from the file named by key_FILE, when that is set.
// Setting both is refused: which one wins would be a guess.
func secretFile(getenv Getenv, key string, keySet bool) (value string, found bool, err error) {
	fileKey := key + fileSuffix
	path, ok := getenv(fileKey)
	if !ok || strings.TrimSpace(path) == "" {
		return "", false, nil
	}
	if keySet {
		return "", false, invalid(key, "set either "+key+" or "+fileKey+", not both")
	}
	f, err := os.Open(strings.TrimSpace(path))
	if err != nil {
		why := "cannot read the file"
		if cause := errors.Unwrap(err); cause != nil {
			why += ": " + cause.Error()
		}
		return "", false, invalid(fileKey, why)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxSecretFile+1))
	switch {
	case err != nil:
		return "", false, invalid(fileKey, "cannot read the file")
	case len(b) > maxSecretFile:
		return "", false, invalid(fileKey, fmt.Sprintf("the file is larger than %d bytes", maxSecretFile))
	}
	return strings.TrimRight(string(b), "\r\n"), true, nil
}

// decoder is envconfig.Decoder: a type that parses its own variable.
type decoder interface{ Decode(value string) error }

func setField(field reflect.Value, raw string) error {
	if d, ok := field.Addr().Interface().(decoder); ok {
		return d.Decode(raw)
	}
	switch field.Kind() {
	case reflect.String:
		field.SetString(raw)
	case reflect.Bool:
		b, err := strconv.ParseBool(strings.TrimSpace(raw))
		if err != nil {
			return err
		}
		field.SetBool(b)
	case reflect.Int, reflect.Int64:
		n, err := strconv.ParseInt(strings.TrimSpace(raw), 0, field.Type().Bits())
		if err != nil {
			return err
		}
		field.SetInt(n)
	default:
		return fmt.Errorf("unsupported kind %s", field.Kind())
	}
	return nil
}

// hint says what form a field's variable takes, for the error when it does not parse.
func hint(field reflect.Value) string {
	if field.Type() == reflect.TypeFor[duration]() {
		return "not a duration: " + durationForm
	}
	switch field.Kind() {
	case reflect.Bool:
		return "must be true or false"
	case reflect.Int, reflect.Int64:
		return "must be a whole number"
	}
	return "invalid value"
}

// all keeps every variable.
func all(string) bool { return true }
