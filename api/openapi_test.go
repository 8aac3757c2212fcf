package api

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	// The runtime the generated client imports: required here so that go.mod keeps it
	// and TestGeneratedClientCompiles builds offline.
	_ "github.com/oapi-codegen/runtime"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"

	"github.com/auth-manager/auth-manager/internal/apispec"
)

func TestSpecIsValidOpenAPI3(t *testing.T) {
	require.NoError(t, apispec.Validate(context.Background(), Spec))
	doc, err := openapi3.NewLoader().LoadFromData(Spec)
	require.NoError(t, err)
	assert.Equal(t, "3.0.3", doc.OpenAPI)
	assert.Equal(t, "Auth Manager Service", doc.Info.Title)
	assert.NotZero(t, doc.Paths.Len())
}

// TestSpecNamesItsVersionAndOperations: info.version is the API's semantic version
// (major 1 for the /v1 paths; a minor version for each compatible addition), and every
// operation has its own operationId, which generated clients name their functions by.
func TestSpecNamesItsVersionAndOperations(t *testing.T) {
	doc, err := openapi3.NewLoader().LoadFromData(Spec)
	require.NoError(t, err)
	assert.Regexp(t, `^1\.\d+\.\d+$`, doc.Info.Version, "info.version is semver with major 1, matching the /v1 paths")
	ids := map[string]string{}
	for path, item := range doc.Paths.Map() {
		if m := versioned.FindString(path); m != "" {
			assert.Equal(t, "/v1/", m, "%s: another major version of the paths needs another major info.version", path)
		}
		for method, op := range item.Operations() {
			name := method + " " + path
			if assert.Regexp(t, `^[a-z][a-zA-Z]+$`, op.OperationID, "%s: operationId", name) {
				assert.NotContains(t, ids, op.OperationID, "%s: operationId %q is %s's too", name, op.OperationID, ids[op.OperationID])
				ids[op.OperationID] = name
			}
		}
	}
	assert.GreaterOrEqual(t, len(ids), 16)
}

var versioned = regexp.MustCompile(`^/v\d+/`)

// TestSpecYAMLIsTheSameDocument: the two served forms never drift apart.
func TestSpecYAMLIsTheSameDocument(t *testing.T) {
	var fromJSON, fromYAML any
	require.NoError(t, json.Unmarshal(Spec, &fromJSON))
	require.NoError(t, yaml.Unmarshal(SpecYAML, &fromYAML))
	b, err := json.Marshal(fromYAML) // yaml decodes numbers as int; JSON round trip makes both float64
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(b, &fromYAML))
	assert.Equal(t, fromJSON, fromYAML)
}

// TestGeneratedClientCompiles generates a Go client from openapi.json with oapi-codegen
// (the go.mod tool) and builds it inside this module through an overlay, so nothing is
// written into the tree.
func TestGeneratedClientCompiles(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the go tool chain (~15 s)")
	}
	tmp := t.TempDir()
	gen := filepath.Join(tmp, "client.gen.go")
	out, err := exec.Command("go", "tool", "oapi-codegen", "-generate", "types,client",
		"-package", "oapiclient", "-o", gen, "openapi.json").CombinedOutput()
	require.NoError(t, err, "oapi-codegen: %s", out)
	src, err := os.ReadFile(gen)
	require.NoError(t, err)
	assert.Contains(t, string(src), "func (c *Client) GetAccessToken(", "the client has a method per operation, named by its operationId")
	assert.Contains(t, string(src), "type ErrorEnvelope struct")

	wd, err := os.Getwd()
	require.NoError(t, err)
	overlay, err := json.Marshal(map[string]any{"Replace": map[string]string{
		filepath.Join(wd, "oapiclient", "client.gen.go"): gen,
	}})
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(tmp, "overlay.json"), overlay, 0o600))
	cmd := exec.Command("go", "build", "-o", os.DevNull, "-overlay", filepath.Join(tmp, "overlay.json"), "./oapiclient")
	out, err = cmd.CombinedOutput()
	require.NoError(t, err, "the generated client does not compile: %s", out)
}
