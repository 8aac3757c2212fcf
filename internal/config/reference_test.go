package config

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var update = flag.Bool("update", false, "rewrite docs/configuration.md from the config struct")

const referencePath = "../../docs/configuration.md"

// TestConfigurationReference keeps docs/configuration.md what the config struct and
// reference.go generate (`make config-docs` rewrites it), and the reference complete:
// every variable the service reads is documented once, with a description.
func TestConfigurationReference(t *testing.T) {
	seen := map[string]int{}
	for _, g := range reference {
		for _, v := range g.vars {
			seen[v.name]++
			assert.NotEmpty(t, v.desc, "%s has no description", v.name)
		}
	}
	for key := range envFields() {
		assert.Equal(t, 1, seen[key], "%s must be documented once in reference.go", key)
	}
	var b bytes.Buffer
	require.NoError(t, writeReference(&b))
	if *update {
		require.NoError(t, os.WriteFile(filepath.FromSlash(referencePath), b.Bytes(), 0o644))
	}
	committed, err := os.ReadFile(filepath.FromSlash(referencePath))
	require.NoError(t, err)
	assert.Equal(t, b.String(), string(committed), "docs/configuration.md is out of date: run `make config-docs`")
}

// TestDotEnvRecordsWhatItAnswered: a .env file's variables are answered behind the
// real environment, and the file says which of its keys were read from it.
func TestDotEnvRecordsWhatItAnswered(t *testing.T) {
	path := filepath.Join(t.TempDir(), ".env")
	require.NoError(t, os.WriteFile(path, []byte("APP_NAME=from-file\nPORT=9000\nHTTP_READ_TIMOUT=20s\n"), 0o600))
	d, err := ReadDotEnv(path)
	require.NoError(t, err)
	getenv := d.Over(MapEnv(with(map[string]string{"PORT": "8001"})))
	c, err := Load(getenv, "dev")
	require.NoError(t, err)
	assert.Equal(t, "from-file", c.AppName)
	assert.Equal(t, 8001, c.Port, "the real environment wins")
	assert.Equal(t, []string{"APP_NAME", "HTTP_READ_TIMOUT", "PORT"}, d.Keys())
	assert.Equal(t, []string{"APP_NAME"}, d.Used())
	assert.Equal(t, []string{"HTTP_READ_TIMOUT", "PORT"}, d.Unused(), "overridden and misspelt keys")

	missing, err := ReadDotEnv(filepath.Join(t.TempDir(), ".env"))
	require.NoError(t, err)
	assert.Nil(t, missing)
	assert.Nil(t, missing.Keys())
	_, ok := missing.Over(MapEnv(nil))("APP_NAME")
	assert.False(t, ok)
}
