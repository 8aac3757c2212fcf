package api

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"io/fs"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestVendoredFilesMatchSources keeps api/ui exactly what `make api` took from the
// pinned npm packages: no file edited by hand, none added or lost.
func TestVendoredFilesMatchSources(t *testing.T) {
	src, err := fs.ReadFile(UI, "ui/SOURCES")
	require.NoError(t, err)
	listed := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(src))
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.Fields(line)
		require.Len(t, f, 3, "SOURCES line %q", line)
		listed["ui/"+f[1]] = f[2]
	}
	require.NotEmpty(t, listed)

	seen := map[string]bool{}
	err = fs.WalkDir(UI, "ui", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || path == "ui/SOURCES" {
			return err
		}
		seen[path] = true
		want, ok := listed[path]
		if !assert.True(t, ok, "%s is not listed in ui/SOURCES", path) {
			return nil
		}
		b, err := fs.ReadFile(UI, path)
		require.NoError(t, err)
		sum := sha256.Sum256(b)
		assert.Equal(t, want, hex.EncodeToString(sum[:]), "%s differs from what ui/SOURCES records", path)
		return nil
	})
	require.NoError(t, err)
	for path := range listed {
		assert.True(t, seen[path], "%s is listed in ui/SOURCES but missing", path)
	}
}
