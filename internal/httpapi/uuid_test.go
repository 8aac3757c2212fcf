package httpapi

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestParseUUID(t *testing.T) {
	const canonical = "0e7c5b43-5a3f-4d5c-9f67-4d1e1c2b3a4f"
	for in, want := range map[string]string{
		canonical:                                       canonical,
		"0E7C5B43-5A3F-4D5C-9F67-4D1E1C2B3A4F":          canonical,
		"0e7c5b435a3f4d5c9f674d1e1c2b3a4f":              canonical,
		"{0e7c5b43-5a3f-4d5c-9f67-4d1e1c2b3a4f}":        canonical,
		"urn:uuid:0e7c5b43-5a3f-4d5c-9f67-4d1e1c2b3a4f": canonical,
		"0e7c5b43-5a3f-4d5c-9f67-4d1e1c2b3a4g":          "",
		"0e7c5b43x5a3f-4d5c-9f67-4d1e1c2b3a4f":          "",
		"":                                              "",
	} {
		got, ok := parseUUID(in)
		assert.Equal(t, want, got, in)
		assert.Equal(t, want != "", ok, in)
	}
	assert.Zero(t, testing.AllocsPerRun(100, func() { _, _ = parseUUID(canonical) }), "a canonical id is returned as is")
}
