package clienttest

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/auth-manager/auth-manager/internal/testenv"
)

// pythonStore is what `testdata/use_python_client.py store` prints.
type pythonStore struct {
	Validate struct {
		Valid         bool   `json:"valid"`
		Sub           string `json:"sub"`
		ServiceCaller bool   `json:"service_caller"`
	} `json:"validate"`
	StoredID    string `json:"stored_id"`
	AccessToken struct {
		AccessToken string `json:"access_token"`
		ExpiresIn   int    `json:"expires_in"`
	} `json:"access_token"`
	Tokens []struct {
		ID        string `json:"id"`
		Type      string `json:"type"`
		Status    string `json:"status"`
		CreatedAt string `json:"created_at"`
	} `json:"tokens"`
	Sessions []struct {
		ID             string   `json:"id"`
		Type           string   `json:"type"`
		StoredTokenIDs []string `json:"stored_token_ids"`
	} `json:"sessions"`
}

// pythonDelete is what `testdata/use_python_client.py delete ID` prints.
type pythonDelete struct {
	Deleted struct {
		ID           string `json:"id"`
		TokenDeleted bool   `json:"token_deleted"`
	} `json:"deleted"`
	AfterDelete struct {
		Status     int    `json:"status"`
		Code       string `json:"code"`
		CodeIsEnum bool   `json:"code_is_enum"`
		Error      string `json:"error"`
		RequestID  string `json:"request_id"`
	} `json:"after_delete"`
}

// TestGeneratedPythonClient: a Python client generated from api/openapi.json by
// openapi-python-client (pinned in scripts/python-client.sh, installed from PyPI into
// a cached venv) works against the service on the real PostgreSQL and Keycloak: it
// validates alice's token, stores her refresh token, gets an access token for it as a
// service caller (Keycloak says it is active and hers), lists her tokens and sessions,
// deletes the token, and parses the 404 envelope of the deleted id into its typed code.
// It fails, never skips, when python3 or the generator cannot be had (except under
// -short, like every integration test).
func TestGeneratedPythonClient(t *testing.T) {
	testenv.Integration(t)
	script := filepath.Join(testenv.RepoRoot(), "scripts", "python-client.sh")
	python := strings.TrimSpace(run(t, exec.Command(script, "venv")))
	dir := strings.TrimSpace(run(t, exec.Command(script, "generate", t.TempDir())))
	require.DirExists(t, filepath.Join(dir, "auth_manager_client"))

	svc := testenv.StartService(t, serviceCallers(testenv.NewServiceConfig(t)))
	alice := testenv.Login(t, testenv.Alice)
	service := testenv.ClientToken(t, testenv.Realm, testenv.ServiceCallerClient, testenv.ServiceCallerSecret)
	py := func(args ...string) []byte {
		cmd := exec.CommandContext(t.Context(), python, append([]string{filepath.Join("testdata", "use_python_client.py")}, args...)...)
		// Tokens go through the environment, never the command line.
		cmd.Env = append(os.Environ(), "PYTHONPATH="+dir, "PYTHONDONTWRITEBYTECODE=1", "AUTH_MANAGER_URL="+svc.URL,
			"ALICE_ACCESS_TOKEN="+alice.AccessToken, "ALICE_REFRESH_TOKEN="+alice.RefreshToken,
			"SERVICE_TOKEN="+service.AccessToken)
		return []byte(run(t, cmd))
	}
	var got pythonStore
	require.NoError(t, json.Unmarshal(py("store"), &got))

	aliceClaims := testenv.Claims(t, alice.AccessToken)
	assert.True(t, got.Validate.Valid)
	assert.Equal(t, aliceClaims["sub"], got.Validate.Sub)
	assert.False(t, got.Validate.ServiceCaller)

	_, err := uuid.Parse(got.StoredID)
	require.NoError(t, err, "persistent_token_id %q", got.StoredID)
	assert.Positive(t, got.AccessToken.ExpiresIn)
	assert.GreaterOrEqual(t, got.AccessToken.ExpiresIn, 10, "min_ttl=10 was asked for")
	in := testenv.Introspect(t, testenv.Realm, got.AccessToken.AccessToken, "access_token")
	assert.Equal(t, true, in["active"], "Keycloak reports the access token active")
	assert.Equal(t, aliceClaims["sub"], in["sub"], "the access token is alice's")

	require.Len(t, got.Tokens, 1)
	assert.Equal(t, got.StoredID, got.Tokens[0].ID)
	assert.Equal(t, "refresh", got.Tokens[0].Type)
	assert.Equal(t, "active", got.Tokens[0].Status)
	created, err := time.Parse(time.RFC3339Nano, got.Tokens[0].CreatedAt)
	require.NoError(t, err, "created_at is parsed into a datetime")
	assert.WithinDuration(t, time.Now(), created, time.Minute)

	var bound bool
	for _, s := range got.Sessions {
		if s.ID == aliceClaims["sid"] && s.Type == "online" {
			bound = assert.Contains(t, s.StoredTokenIDs, got.StoredID)
		}
	}
	assert.True(t, bound, "alice's session is listed with her stored token: %+v", got.Sessions)

	var del pythonDelete
	require.NoError(t, json.Unmarshal(py("delete", got.StoredID), &del))
	assert.Equal(t, got.StoredID, del.Deleted.ID)
	assert.True(t, del.Deleted.TokenDeleted)
	assert.Equal(t, 404, del.AfterDelete.Status)
	assert.Equal(t, "token_not_found", del.AfterDelete.Code)
	assert.True(t, del.AfterDelete.CodeIsEnum, "the code parses into ErrorEnvelopeCode.TOKEN_NOT_FOUND")
	assert.NotEmpty(t, del.AfterDelete.Error)
	assert.NotEmpty(t, del.AfterDelete.RequestID)
}

// run runs cmd and returns its stdout; a failure fails the test with its stderr.
func run(t *testing.T, cmd *exec.Cmd) string {
	t.Helper()
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	require.NoError(t, err, "%s: %s", strings.Join(cmd.Args, " "), stderr.String())
	return stdout.String()
}
