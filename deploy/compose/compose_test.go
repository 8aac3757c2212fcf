package compose

import (
	"bufio"
	"encoding/json"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"

	"github.com/auth-manager/auth-manager/internal/config"
)

// composeFile is the part of docker-compose.yml these tests read.
type composeFile struct {
	Services map[string]struct {
		Command     []string          `yaml:"command"`
		EnvFile     []string          `yaml:"env_file"`
		Environment map[string]string `yaml:"environment"`
		Volumes     []string          `yaml:"volumes"`
		Ports       []string          `yaml:"ports"`
		Healthcheck struct {
			Test []string `yaml:"test"`
		} `yaml:"healthcheck"`
		DependsOn map[string]struct {
			Condition string `yaml:"condition"`
		} `yaml:"depends_on"`
	} `yaml:"services"`
}

func repoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}

func load(t *testing.T) composeFile {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repoRoot(), "docker-compose.yml"))
	require.NoError(t, err)
	var c composeFile
	require.NoError(t, yaml.Unmarshal(b, &c))
	return c
}

// environment is a service's environment as compose builds it: its env_files in order,
// then `environment`, which wins.
func environment(t *testing.T, c composeFile, service string) map[string]string {
	t.Helper()
	s, ok := c.Services[service]
	require.True(t, ok, "service %s", service)
	env := map[string]string{}
	for _, f := range s.EnvFile {
		fh, err := os.Open(filepath.Join(repoRoot(), f))
		require.NoError(t, err)
		sc := bufio.NewScanner(fh)
		for sc.Scan() {
			line := strings.TrimSpace(sc.Text())
			if line == "" || strings.HasPrefix(line, "#") {
				continue
			}
			k, v, ok := strings.Cut(line, "=")
			require.True(t, ok, "%s: %q is not KEY=VALUE", f, k)
			env[k] = v
		}
		require.NoError(t, sc.Err())
		fh.Close()
	}
	for k, v := range s.Environment {
		env[k] = v
	}
	return env
}

// loadConfig runs the real configuration loader on env and nothing else: no process
// environment, no .env.
func loadConfig(t *testing.T, env map[string]string) (config.Config, error) {
	t.Helper()
	return config.Load(config.MapEnv(env), "compose-test")
}

// TestServiceEnvironmentLoads: the auth-manager container's environment passes the
// real config loader, and its addresses are the compose network's (each host a
// service of this file) while the issuer is Keycloak's public name.
func TestServiceEnvironmentLoads(t *testing.T) {
	c := load(t)
	env := environment(t, c, "auth-manager")
	cfg, err := loadConfig(t, env)
	require.NoError(t, err)

	kcHost := c.Services["keycloak"].Environment["KC_HOSTNAME"]
	assert.Equal(t, "http://localhost:8080", kcHost, "Keycloak's public name is what the host's browser uses")
	assert.Equal(t, "true", c.Services["keycloak"].Environment["KC_HOSTNAME_BACKCHANNEL_DYNAMIC"])
	assert.Equal(t, kcHost+"/realms/auth-manager", cfg.Keycloak.IssuerURL(), "tokens carry KC_HOSTNAME's issuer")
	assertServiceURL(t, c, env["KEYCLOAK_URL"], "keycloak", "8080")
	assert.Equal(t, "http://keycloak:8080/realms/auth-manager", cfg.Keycloak.ConnectURL(), "the service connects inside the network")
	db, err := url.Parse(cfg.Database.URL.Reveal())
	require.NoError(t, err)
	assert.Equal(t, "postgres:5432", db.Host)
	assert.True(t, cfg.SkipMigrations, "the migrate service migrates")
	assert.Equal(t, 8000, cfg.Port)
	assert.Contains(t, c.Services["auth-manager"].Ports, "127.0.0.1:8000:8000")
	assert.True(t, strings.HasPrefix(cfg.Keycloak.ConsentRedirectURI, "http://localhost:8000/"),
		"the browser comes back through the published port: %s", cfg.Keycloak.ConsentRedirectURI)

	assert.Equal(t, []string{"CMD", "/auth-manager", "healthcheck"}, c.Services["auth-manager"].Healthcheck.Test)
	assert.Equal(t, "service_completed_successfully", c.Services["auth-manager"].DependsOn["migrate"].Condition)
	assert.Equal(t, []string{"migrate", "up"}, c.Services["migrate"].Command)
	mig, _, err := config.LoadDatabase(config.MapEnv(environment(t, c, "migrate")))
	require.NoError(t, err, "the migrate service's environment")
	assert.Equal(t, cfg.Database.URL.Reveal(), mig.URL.Reveal(), "migrate and serve use one database")

	for _, p := range c.Services["postgres"].Ports {
		assert.NotContains(t, p, ":5432:", "PostgreSQL must not take the dev stack's host port 5432")
	}
}

// assertServiceURL checks that raw is http://SERVICE:PORT of a service in c.
func assertServiceURL(t *testing.T, c composeFile, raw, service, port string) {
	t.Helper()
	u, err := url.Parse(raw)
	require.NoError(t, err, raw)
	assert.Equal(t, service, u.Hostname(), raw)
	assert.Equal(t, port, u.Port(), raw)
	_, ok := c.Services[u.Hostname()]
	assert.True(t, ok, "%s names no service of docker-compose.yml", raw)
}

// TestRealmSendsLogoutIntoTheNetwork: the realm Keycloak imports in compose sends
// back-channel logouts to the auth-manager container (inside the Keycloak container
// 127.0.0.1 is Keycloak itself), and is otherwise the dev realm, so the two cannot
// drift apart.
func TestRealmSendsLogoutIntoTheNetwork(t *testing.T) {
	c := load(t)
	assert.Contains(t, c.Services["keycloak"].Volumes, "./deploy/compose/keycloak:/opt/keycloak/data/import:ro")
	compose := readRealm(t, filepath.Join(repoRoot(), "deploy", "compose", "keycloak", "auth-manager.json"))
	dev := readRealm(t, filepath.Join(repoRoot(), "deploy", "keycloak", "auth-manager.json"))

	const attr = "backchannel.logout.url"
	logout := clientAttr(t, compose, "auth-manager", attr)
	assertServiceURL(t, c, logout, "auth-manager", environment(t, c, "auth-manager")["PORT"])
	u, _ := url.Parse(logout)
	assert.Equal(t, "/v1/backchannel-logout", u.Path)

	setClientAttr(t, compose, "auth-manager", attr, clientAttr(t, dev, "auth-manager", attr))
	assert.Equal(t, dev, compose, "deploy/compose/keycloak/auth-manager.json must equal deploy/keycloak/auth-manager.json but for %s", attr)
}

func readRealm(t *testing.T, path string) map[string]any {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	var m map[string]any
	require.NoError(t, json.Unmarshal(b, &m), path)
	return m
}

func client(t *testing.T, realm map[string]any, id string) map[string]any {
	t.Helper()
	clients, _ := realm["clients"].([]any)
	for _, c := range clients {
		if m, _ := c.(map[string]any); m["clientId"] == id {
			attrs, _ := m["attributes"].(map[string]any)
			require.NotNil(t, attrs, "client %s has no attributes", id)
			return attrs
		}
	}
	t.Fatalf("realm has no client %s", id)
	return nil
}

func clientAttr(t *testing.T, realm map[string]any, id, attr string) string {
	t.Helper()
	v, _ := client(t, realm, id)[attr].(string)
	require.NotEmpty(t, v, "client %s attribute %s", id, attr)
	return v
}

func setClientAttr(t *testing.T, realm map[string]any, id, attr, v string) {
	t.Helper()
	client(t, realm, id)[attr] = v
}
