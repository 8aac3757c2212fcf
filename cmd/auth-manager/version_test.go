package main

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/auth-manager/auth-manager/internal/config"
	"github.com/auth-manager/auth-manager/internal/testenv"
)

// TestBuildFrom: stamped values win; otherwise the module version, the VCS revision
// and the Go version recorded in the binary.
func TestBuildFrom(t *testing.T) {
	vcs := &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "v1.4.0"},
		Settings: []debug.BuildSetting{{Key: "vcs.revision", Value: "0a1b2c3d"}, {Key: "vcs.modified", Value: "false"}}}
	for _, tc := range []struct {
		name            string
		version, commit string
		bi              *debug.BuildInfo
		want            build
	}{
		{"no build information", "", "", nil, build{Version: "dev", GoVersion: runtime.Version()}},
		{"stamped", "v2.0.0", "ffff", vcs, build{Version: "v2.0.0", Commit: "ffff", GoVersion: "go1.26.8"}},
		{"from the build information", "", "", vcs, build{Version: "v1.4.0", Commit: "0a1b2c3d", GoVersion: "go1.26.8"}},
		{"a local build", "", "", &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "(devel)"},
			Settings: []debug.BuildSetting{{Key: "vcs.revision", Value: "abc"}, {Key: "vcs.modified", Value: "true"}}},
			build{Version: "dev", Commit: "abc", Modified: true, GoVersion: "go1.26.8"}},
		{"pseudo-version", "", "", &debug.BuildInfo{GoVersion: "go1.26.8",
			Main: debug.Module{Version: "v0.0.0-20260101120000-0a1b2c3d4e5f+dirty"}},
			build{Version: "v0.0.0-20260101120000-0a1b2c3d4e5f+dirty", GoVersion: "go1.26.8"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, buildFrom(tc.version, tc.commit, tc.bi))
		})
	}
}

// TestVersionCommand prints the version, the commit and the Go version.
func TestVersionCommand(t *testing.T) {
	for _, args := range [][]string{{"version"}, {"--version"}, {"-v"}} {
		var out bytes.Buffer
		require.NoError(t, run(context.Background(), args, config.MapEnv(nil), &out, &out))
		lines := strings.Split(strings.TrimSpace(out.String()), "\n")
		require.Len(t, lines, 3, out.String())
		assert.True(t, strings.HasPrefix(lines[0], "auth-manager "), lines[0])
		assert.True(t, strings.HasPrefix(lines[1], "commit "), lines[1])
		assert.Equal(t, runtime.Version(), lines[2])
	}
}

// TestUnstampedBinaryReportsItsCommit builds the binary as `go build` does in a git
// checkout (VCS stamping on, no ldflags; in a clone, since the go command does not
// stamp from a git worktree): `version` prints the checkout's commit.
func TestUnstampedBinaryReportsItsCommit(t *testing.T) {
	testenv.Integration(t)
	head, err := exec.Command("git", "-C", testenv.RepoRoot(), "rev-parse", "HEAD").Output()
	require.NoError(t, err)
	dir := t.TempDir()
	clone := filepath.Join(dir, "src")
	out, err := exec.Command("git", "clone", "-q", testenv.RepoRoot(), clone).CombinedOutput()
	require.NoError(t, err, string(out))
	out, err = exec.Command("git", "-C", clone, "checkout", "-q", strings.TrimSpace(string(head))).CombinedOutput()
	require.NoError(t, err, string(out))
	bin := filepath.Join(dir, "auth-manager")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	build := exec.CommandContext(ctx, "go", "build", "-buildvcs=true", "-o", bin, "./cmd/auth-manager")
	build.Dir = clone
	out, err = build.CombinedOutput()
	require.NoError(t, err, string(out))
	out, err = exec.Command(bin, "version").Output()
	require.NoError(t, err)
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	require.Len(t, lines, 3, string(out))
	// v0.0.0-TIME-HASH with no release tag behind the commit, vX.Y.(Z+1)-0.TIME-HASH
	// after one (go help pseudo-version).
	assert.Regexp(t, `^auth-manager v\d+\.\d+\.\d+-(\S+\.)?\d{14}-`+strings.TrimSpace(string(head))[:12]+`$`, lines[0],
		"a pseudo-version of the commit")
	assert.Equal(t, "commit "+strings.TrimSpace(string(head)), lines[1])
	assert.Equal(t, runtime.Version(), lines[2])
}

// TestServedBuildCarriesTheCommit: the build's commit reaches the build_info metric
// and /version.
func TestServedBuildCarriesTheCommit(t *testing.T) {
	cfg := testenv.NewServiceConfig(t)
	port := testenv.FreePort(t)
	env := map[string]string{}
	for _, kv := range testenv.ProcessEnv(cfg, port) {
		k, v, _ := strings.Cut(kv, "=")
		env[k] = v
	}
	t.Chdir(t.TempDir())
	version, commit = "v9.9.9", "0a1b2c3d4e5f60718293a4b5c6d7e8f901234567"
	t.Cleanup(func() { version, commit = "", "" })

	ctx, cancel := context.WithCancel(context.Background())
	logs := &testenv.LogBuffer{}
	done := make(chan error, 1)
	go func() { done <- run(ctx, []string{"serve"}, config.MapEnv(env), logs, logs) }()
	defer func() {
		cancel()
		assert.NoError(t, <-done)
	}()
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	require.Eventually(t, func() bool {
		resp, err := http.Get(base + "/health/ready")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}, 60*time.Second, 100*time.Millisecond, "log:\n%s", logs)

	metrics := string(testenv.Do(t, "GET", base+"/metrics", "", nil).Body)
	assert.Regexp(t, `auth_manager_build_info\{commit="`+commit+`",goversion="`+runtime.Version()+`",version="v9\.9\.9"\} 1`, metrics)
	v := testenv.Do(t, "GET", base+"/version", "", nil).Data(t)
	assert.Equal(t, commit, v["commit_sha"])
	assert.Equal(t, "v9.9.9", v["app_version"])
}
