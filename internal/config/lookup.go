package config

import (
	"fmt"
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

// process fills spec's fields from getenv by their `envconfig`, `default` and
// `required` tags, for the fields whose variable keep accepts. It replaces
// envconfig.Process, which can only read the process environment; the tags keep
// envconfig's meaning. Errors name the variable and never echo its value.
func process(getenv Getenv, spec any, keep func(key string) bool) error {
	v := reflect.ValueOf(spec).Elem()
	t := v.Type()
	for i := range t.NumField() {
		f := t.Field(i)
		key := f.Tag.Get("envconfig")
		if key == "" || !keep(key) {
			continue
		}
		raw, ok := getenv(key)
		if !ok {
			if f.Tag.Get("required") == "true" {
				return fmt.Errorf("config: %s: required but not set", key)
			}
			def, has := f.Tag.Lookup("default")
			if !has {
				continue
			}
			raw = def
		}
		if err := setField(v.Field(i), raw); err != nil {
			return fmt.Errorf("config: %s: invalid %s value", key, f.Type.Kind())
		}
	}
	return nil
}

func setField(field reflect.Value, raw string) error {
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

// all keeps every variable.
func all(string) bool { return true }
