package config

import "log/slog"

// Secret is a string that must never reach a log line, an error or a response. Its
// String, GoString, LogValue and MarshalText forms are all redacted; call Reveal to get
// the value at the one place that needs it.
type Secret string

const redacted = "[redacted]"

// Reveal returns the secret's value. Call it only where the value is used, never to log.
func (s Secret) Reveal() string { return string(s) }

// String implements fmt.Stringer.
func (s Secret) String() string { return redacted }

// GoString implements fmt.GoStringer, so %#v is redacted too.
func (s Secret) GoString() string { return redacted }

// LogValue implements slog.LogValuer.
func (s Secret) LogValue() slog.Value { return slog.StringValue(redacted) }

// MarshalText keeps secrets out of JSON and other encodings.
func (s Secret) MarshalText() ([]byte, error) { return []byte(redacted), nil }
