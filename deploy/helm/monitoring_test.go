package helm

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/auth-manager/auth-manager/internal/metrics"
)

func repoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}

func chartFile(t *testing.T, rel string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repoRoot(), "deploy", "helm", "auth-manager", rel))
	require.NoError(t, err)
	return string(b)
}

// targetLabels are the labels Prometheus adds to every series it scrapes (the
// Prometheus Operator's ServiceMonitor adds the Kubernetes ones).
var targetLabels = []string{"job", "instance", "namespace", "pod", "service", "endpoint", "container"}

// register calls each of Metrics' Register methods the way the service's wiring does,
// and records one observation where a family has no series until something happens.
var register = map[string]func(t *testing.T, m *metrics.Metrics){
	"RegisterCache": func(_ *testing.T, m *metrics.Metrics) {
		m.RegisterCache(func() metrics.CacheStats { return metrics.CacheStats{Healthy: true} })
	},
	"RegisterPool": func(t *testing.T, m *metrics.Metrics) {
		// The pool connects lazily: its statistics need no server.
		pool, err := pgxpool.New(context.Background(), "postgres://nobody@127.0.0.1:1/none")
		require.NoError(t, err)
		t.Cleanup(pool.Close)
		m.RegisterPool(pool)
	},
	"RegisterVaultRows": func(_ *testing.T, m *metrics.Metrics) {
		m.RegisterVaultRows(func(context.Context) ([]metrics.RowCount, error) { return nil, nil }, nil).Refresh(context.Background())
	},
	"RegisterKeepAlive": func(_ *testing.T, m *metrics.Metrics) {
		m.RegisterKeepAlive(nil)(metrics.KeepAlivePass{Refreshed: 1})
	},
	"RegisterDoctor": func(_ *testing.T, m *metrics.Metrics) {
		m.RegisterDoctor()("config", true)
	},
	"RegisterWebhooks": func(_ *testing.T, m *metrics.Metrics) {
		m.RegisterWebhooks([]string{"billing"})
	},
}

// exported returns every series name the service exports (histograms as their
// _bucket, _sum and _count series) with the label names each carries.
func exported(t *testing.T) map[string][]string {
	t.Helper()
	m := metrics.New(metrics.BuildInfo{Version: "test", Commit: "test"})
	typ := reflect.TypeOf(m)
	for i := range typ.NumMethod() {
		name := typ.Method(i).Name
		if strings.HasPrefix(name, "Register") {
			require.Contains(t, register, name, "a new collector: add %s to this test's register table", name)
		}
	}
	for _, f := range register {
		f(t, m)
	}
	m.ObserveHTTP("/v1/access-token", "POST", 200, time.Millisecond)
	m.ObserveKeycloak("refresh", "ok", time.Millisecond)

	families, err := m.Registry().Gather()
	require.NoError(t, err)
	out := map[string][]string{}
	for _, f := range families {
		labels := slices.Clone(targetLabels)
		for _, s := range f.GetMetric() {
			for _, l := range s.GetLabel() {
				if !slices.Contains(labels, l.GetName()) {
					labels = append(labels, l.GetName())
				}
			}
		}
		name := f.GetName()
		switch f.GetType().String() {
		case "HISTOGRAM":
			out[name+"_bucket"] = append(slices.Clone(labels), "le")
			out[name+"_sum"], out[name+"_count"] = labels, labels
		case "SUMMARY":
			out[name] = append(slices.Clone(labels), "quantile")
			out[name+"_sum"], out[name+"_count"] = labels, labels
		default:
			out[name] = labels
		}
	}
	return out
}

var (
	// A series name of the service, optionally followed by the start of a selector.
	seriesRe  = regexp.MustCompile(`\b((?:auth_manager|go|process|promhttp)_[a-zA-Z0-9_]+)(\{[^{}]*)?`)
	matcherRe = regexp.MustCompile(`([a-zA-Z_][a-zA-Z0-9_]*)\s*(?:=~|!~|!=|=)\s*"`)
)

// checkExpr reports what in expr the service does not export, and whether expr names
// any series of the service at all.
func checkExpr(series map[string][]string, expr string) (problems []string, named bool) {
	for _, m := range seriesRe.FindAllStringSubmatch(expr, -1) {
		labels, ok := series[m[1]]
		if !ok {
			problems = append(problems, m[1]+" is not exported")
			continue
		}
		named = true
		for _, lm := range matcherRe.FindAllStringSubmatch(m[2], -1) {
			if !slices.Contains(labels, lm[1]) {
				problems = append(problems, m[1]+" has no label "+lm[1])
			}
		}
	}
	return problems, named
}

type dashboard struct {
	UID        string `json:"uid"`
	Title      string `json:"title"`
	Templating struct {
		List []struct {
			Name  string `json:"name"`
			Type  string `json:"type"`
			Query any    `json:"query"`
		} `json:"list"`
	} `json:"templating"`
	Panels []panel `json:"panels"`
}

type panel struct {
	ID         int    `json:"id"`
	Type       string `json:"type"`
	Title      string `json:"title"`
	Datasource *struct {
		UID string `json:"uid"`
	} `json:"datasource"`
	Targets []struct {
		Expr string `json:"expr"`
	} `json:"targets"`
	Panels []panel `json:"panels"` // a collapsed row's
}

func TestDashboardNamesOnlyExportedMetrics(t *testing.T) {
	series := exported(t)
	var d dashboard
	require.NoError(t, json.Unmarshal([]byte(chartFile(t, "dashboards/auth-manager.json")), &d), "the dashboard is valid JSON")
	assert.NotEmpty(t, d.UID)
	assert.NotEmpty(t, d.Title)

	var vars []string
	for _, v := range d.Templating.List {
		vars = append(vars, v.Name)
		if v.Type != "query" {
			continue
		}
		q, _ := json.Marshal(v.Query)
		problems, named := checkExpr(series, string(q))
		assert.Empty(t, problems, "variable %s", v.Name)
		assert.True(t, named, "variable %s queries no series of the service", v.Name)
	}
	assert.Subset(t, vars, []string{"datasource", "namespace", "job"})

	ids := map[int]bool{}
	var walk func([]panel)
	queries := 0
	walk = func(ps []panel) {
		for _, p := range ps {
			assert.False(t, ids[p.ID], "panel id %d used twice", p.ID)
			ids[p.ID] = true
			walk(p.Panels)
			if p.Type == "row" {
				continue
			}
			if assert.NotNil(t, p.Datasource, p.Title) {
				assert.Equal(t, "${datasource}", p.Datasource.UID, "%s: the data source is the dashboard's variable", p.Title)
			}
			assert.NotEmpty(t, p.Targets, "%s has no query", p.Title)
			for _, tg := range p.Targets {
				queries++
				problems, named := checkExpr(series, tg.Expr)
				assert.Empty(t, problems, "%s: %s", p.Title, tg.Expr)
				assert.True(t, named, "%s: %s names no series of the service", p.Title, tg.Expr)
				assert.Contains(t, tg.Expr, `job="$job"`, "%s: every query follows the job variable", p.Title)
			}
		}
	}
	walk(d.Panels)
	assert.Greater(t, queries, 10)
}

var (
	alertRe   = regexp.MustCompile(`(?m)^\s*- alert: (\S+)$`)
	runbookRe = regexp.MustCompile(`(?m)^\s*runbook_url: \{\{ \$runbook \}\}(\S+)$`)
	headingRe = regexp.MustCompile(`(?m)^#{1,6} (.+)$`)
)

// anchor is the fragment GitHub gives a Markdown heading.
func anchor(heading string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(strings.TrimSpace(heading)) {
		switch {
		case r == ' ':
			b.WriteByte('-')
		case r == '-' || r == '_' || ('a' <= r && r <= 'z') || ('0' <= r && r <= '9'):
			b.WriteRune(r)
		}
	}
	return b.String()
}

func TestAlertRulesNameOnlyExportedMetricsAndHaveRunbooks(t *testing.T) {
	series := exported(t)
	rules := chartFile(t, "templates/prometheusrule.yaml")
	problems, named := checkExpr(series, rules)
	assert.Empty(t, problems)
	assert.True(t, named)

	alerts := alertRe.FindAllStringSubmatch(rules, -1)
	runbooks := runbookRe.FindAllStringSubmatch(rules, -1)
	require.NotEmpty(t, alerts)
	require.Len(t, runbooks, len(alerts), "one runbook_url per alert")

	doc, err := os.ReadFile(filepath.Join(repoRoot(), "docs", "observability.md"))
	require.NoError(t, err)
	anchors := map[string]bool{}
	for _, h := range headingRe.FindAllStringSubmatch(string(doc), -1) {
		anchors[anchor(h[1])] = true
	}
	for i, a := range alerts {
		name, link := a[1], runbooks[i][1]
		assert.Equal(t, anchor(name), link, "%s links its own runbook", name)
		assert.True(t, anchors[link], "docs/observability.md has no heading for %s (#%s)", name, link)
	}
	// And the other way: every alert heading in the runbook section is a rule.
	for _, h := range regexp.MustCompile(`(?m)^### (AuthManager\S+)$`).FindAllStringSubmatch(string(doc), -1) {
		assert.True(t, slices.ContainsFunc(alerts, func(a []string) bool { return a[1] == h[1] }), "docs describe %s, which no rule defines", h[1])
	}
}

func TestCheckExprCatchesMistakes(t *testing.T) {
	series := map[string][]string{"auth_manager_x_total": {"job", "outcome"}}
	for _, c := range []struct {
		expr     string
		problems int
		named    bool
	}{
		{`rate(auth_manager_x_total{outcome="ok",job="$job"}[5m])`, 0, true},
		{`rate(auth_manager_y_total[5m])`, 1, false},
		{`auth_manager_x_total{op="refresh"}`, 1, true},
		{`up{job="x"}`, 0, false},
	} {
		problems, named := checkExpr(series, c.expr)
		assert.Len(t, problems, c.problems, c.expr)
		assert.Equal(t, c.named, named, c.expr)
	}
	assert.Equal(t, "authmanagerhigherrorrate", anchor("AuthManagerHighErrorRate"))
	assert.Equal(t, "key-rotation-runbook", anchor("Key rotation (runbook)"))
}
