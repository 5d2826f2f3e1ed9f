package deploytest

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/types"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql/parser"
	sigsyaml "sigs.k8s.io/yaml"
)

var dashboardPath = []string{"deploy", "grafana", "dashboards", "sendfile-otel.json"}

// dashboardQuery is one PromQL query of the dashboard.
type dashboardQuery struct {
	where      string // panel title and refId, or variable name
	expr       string
	datasource string // uid, "" if none given
	legend     string
}

// dashboardQueries returns every PromQL query of a dashboard: the targets of
// every panel (rows included) and the query variables.
func dashboardQueries(t *testing.T, dash map[string]any) []dashboardQuery {
	t.Helper()
	var out []dashboardQuery
	dsUID := func(v any) string {
		if m, ok := v.(map[string]any); ok {
			uid, _ := m["uid"].(string)
			return uid
		}
		return ""
	}
	var walk func(panels []any)
	walk = func(panels []any) {
		for _, p := range panels {
			panel, ok := p.(map[string]any)
			if !ok {
				continue
			}
			title, _ := panel["title"].(string)
			panelDS := dsUID(panel["datasource"])
			targets, _ := panel["targets"].([]any)
			for _, tg := range targets {
				target, _ := tg.(map[string]any)
				expr, _ := target["expr"].(string)
				refID, _ := target["refId"].(string)
				legend, _ := target["legendFormat"].(string)
				ds := dsUID(target["datasource"])
				if ds == "" {
					ds = panelDS
				}
				if expr == "" {
					t.Errorf("dashboard panel %q, query %s: no expr", title, refID)
					continue
				}
				out = append(out, dashboardQuery{fmt.Sprintf("panel %q, query %s", title, refID), expr, ds, legend})
			}
			if inner, ok := panel["panels"].([]any); ok {
				walk(inner)
			}
		}
	}
	panels, _ := dash["panels"].([]any)
	walk(panels)

	templating, _ := dash["templating"].(map[string]any)
	vars, _ := templating["list"].([]any)
	for _, v := range vars {
		variable, _ := v.(map[string]any)
		if variable["type"] != "query" {
			continue
		}
		name, _ := variable["name"].(string)
		var q string
		switch query := variable["query"].(type) {
		case string:
			q = query
		case map[string]any:
			q, _ = query["query"].(string)
		}
		out = append(out, dashboardQuery{fmt.Sprintf("variable %q", name), q, dsUID(variable["datasource"]), ""})
	}
	return out
}

var (
	grafanaBuiltin   = regexp.MustCompile(`\$\{?__[a-z_]+\}?`)
	grafanaVariable  = regexp.MustCompile(`\$\{([A-Za-z0-9_]+)(:[a-z]+)?\}|\$([A-Za-z0-9_]+)|\[\[([A-Za-z0-9_]+)\]\]`)
	labelValuesQuery = regexp.MustCompile(`^\s*label_values\(\s*(.*?)\s*,\s*([A-Za-z_][A-Za-z0-9_]*)\s*\)\s*$`)
	legendLabel      = regexp.MustCompile(`\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}`)
)

// toPromQL turns a Grafana query into PromQL the parser accepts: Grafana's
// interval variables become a duration and template variables a plain word.
// A label_values(SELECTOR, LABEL) variable query becomes
// "count by (LABEL) (SELECTOR)", which names the same metric and label.
func toPromQL(q string) string {
	q = grafanaBuiltin.ReplaceAllString(q, "5m")
	q = grafanaVariable.ReplaceAllStringFunc(q, func(s string) string {
		return "var_" + strings.Trim(s, "${}[]")
	})
	if m := labelValuesQuery.FindStringSubmatch(q); m != nil {
		q = fmt.Sprintf("count by (%s) (%s)", m[2], m[1])
	}
	return q
}

// queryNames returns the metric names and label names a PromQL query uses.
func queryNames(expr parser.Expr) (metrics, labelNames []string) {
	parser.Inspect(expr, func(node parser.Node, _ []parser.Node) error {
		switch n := node.(type) {
		case *parser.VectorSelector:
			name := n.Name
			for _, m := range n.LabelMatchers {
				if m.Name == labels.MetricName {
					if name == "" {
						name = m.Value
					}
					continue
				}
				labelNames = append(labelNames, m.Name)
			}
			metrics = append(metrics, name)
		case *parser.AggregateExpr:
			labelNames = append(labelNames, n.Grouping...)
		case *parser.BinaryExpr:
			if n.VectorMatching != nil {
				labelNames = append(labelNames, n.VectorMatching.MatchingLabels...)
				labelNames = append(labelNames, n.VectorMatching.Include...)
			}
		}
		return nil
	})
	return metrics, labelNames
}

// exportedNames returns the Prometheus series names the collector's
// prometheus exporter serves and the label names they carry: the agent's
// metrics renamed by prometheusName, and the span_metrics connector's
// metrics as deploy/collector/collector.yaml configures them.
func exportedNames(t *testing.T) (names, labelNames map[string]bool) {
	t.Helper()
	names, labelNames = map[string]bool{}, map[string]bool{}
	for _, m := range agentMetrics {
		for _, s := range seriesNames(m) {
			names[s] = true
		}
	}
	col := loadCollectorConfig(t, repoPath(t, "deploy", "collector", "collector.yaml"), nil)
	sm := col.spanMetrics(t)
	for _, m := range []otelMetric{
		{sm.Namespace + ".calls", "", monotonicCounter},
		{sm.Namespace + ".duration", sm.Histogram.Unit.String(), histogram},
	} {
		for _, s := range seriesNames(m) {
			names[s] = true
		}
	}
	// Labels: the agent's data point attributes, the span metrics'
	// dimensions, and what the exporter adds (job and instance from the
	// resource, le on histogram buckets, otel_scope_* from the scope).
	toLabel := func(attr string) string { return strings.NewReplacer(".", "_", "-", "_", "/", "_").Replace(attr) }
	for _, attr := range []string{
		"process.real_user.id", "process.real_user.name", "error.type", "reason",
		"service.name", "span.name", "span.kind", "status.code",
		"job", "instance", "le", "otel_scope_name", "otel_scope_version",
	} {
		labelNames[toLabel(attr)] = true
	}
	for _, d := range sm.Dimensions {
		labelNames[toLabel(d.Name)] = true
	}
	return names, labelNames
}

// TestDashboardQueriesUseExportedNames parses every query of the Grafana
// dashboard as PromQL and checks that each metric it selects is one the
// collector's prometheus exporter serves (the agent's OTel metric names
// renamed by prometheusName, and the span metrics), and that each label it
// filters or groups by exists. Renaming an agent metric, or changing the
// exporter's translation, breaks this test until the dashboard follows.
func TestDashboardQueriesUseExportedNames(t *testing.T) {
	var dash map[string]any
	if err := json.Unmarshal(readRepoFile(t, dashboardPath...), &dash); err != nil {
		t.Fatalf("%s: not valid JSON: %v", filepath.Join(dashboardPath...), err)
	}
	names, labelNames := exportedNames(t)
	datasources := provisionedDatasources(t)
	queries := dashboardQueries(t, dash)
	if len(queries) == 0 {
		t.Fatalf("%s: no queries", filepath.Join(dashboardPath...))
	}
	promParser := parser.NewParser(parser.Options{})
	used := map[string]bool{}
	badDatasource := map[string][]string{} // problem -> where
	for _, q := range queries {
		if q.datasource == "" {
			badDatasource["no datasource uid"] = append(badDatasource["no datasource uid"], q.where)
		} else if typ, ok := datasources[q.datasource]; !ok {
			problem := fmt.Sprintf("datasource uid %q is not provisioned (have %v)", q.datasource, sortedKeys(datasources))
			badDatasource[problem] = append(badDatasource[problem], q.where)
		} else if typ != "prometheus" {
			problem := fmt.Sprintf("datasource %q is of type %s, not prometheus", q.datasource, typ)
			badDatasource[problem] = append(badDatasource[problem], q.where)
		}
		expr, err := promParser.ParseExpr(toPromQL(q.expr))
		if err != nil {
			t.Errorf("dashboard %s: not valid PromQL: %v\n  query: %s", q.where, err, q.expr)
			continue
		}
		metrics, lbls := queryNames(expr)
		if len(metrics) == 0 {
			t.Errorf("dashboard %s: selects no metric: %s", q.where, q.expr)
		}
		for _, m := range metrics {
			used[m] = true
			if !names[m] {
				t.Errorf("dashboard %s: metric %q is not a name the collector exports.\n  query: %s\n  exported names: %v",
					q.where, m, q.expr, sortedKeys(names))
			}
		}
		for _, l := range lbls {
			if !labelNames[l] {
				t.Errorf("dashboard %s: label %q is not a label of the exported metrics %v.\n  query: %s", q.where, l, sortedKeys(labelNames), q.expr)
			}
		}
		for _, m := range legendLabel.FindAllStringSubmatch(q.legend, -1) {
			if !labelNames[m[1]] {
				t.Errorf("dashboard %s: legend %q uses label %q, which the exported metrics do not have", q.where, q.legend, m[1])
			}
		}
	}
	for _, problem := range sortedKeys(badDatasource) {
		t.Errorf("dashboard: %s, in %d queries: %s", problem, len(badDatasource[problem]), strings.Join(badDatasource[problem], "; "))
	}
	// Every agent metric has a panel.
	for _, m := range agentMetrics {
		if !slices.ContainsFunc(seriesNames(m), func(s string) bool { return used[s] }) {
			t.Errorf("dashboard: no query uses %s (OTel %s)", prometheusName(m), m.Name)
		}
	}
}

// provisionedDatasources returns the uid -> type of every data source that
// deploy/grafana/provisioning provisions.
func provisionedDatasources(t *testing.T) map[string]string {
	t.Helper()
	var file struct {
		APIVersion  int `json:"apiVersion"`
		Datasources []struct {
			Name string `json:"name"`
			UID  string `json:"uid"`
			Type string `json:"type"`
			URL  string `json:"url"`
		} `json:"datasources"`
	}
	if err := sigsyaml.Unmarshal(readRepoFile(t, "deploy", "grafana", "provisioning", "datasources", "datasources.yaml"), &file); err != nil {
		t.Fatalf("deploy/grafana/provisioning/datasources/datasources.yaml: %v", err)
	}
	out := map[string]string{}
	for _, ds := range file.Datasources {
		if ds.UID == "" {
			t.Errorf("datasources.yaml: data source %q has no uid; the dashboard refers to data sources by uid", ds.Name)
		}
		out[ds.UID] = ds.Type
	}
	return out
}

// TestGrafanaProvisioningPaths: the dashboard provider reads the directory
// compose mounts the dashboards into, and the home dashboard is one of them.
func TestGrafanaProvisioningPaths(t *testing.T) {
	var prov struct {
		Providers []struct {
			Name    string `json:"name"`
			Type    string `json:"type"`
			Options struct {
				Path string `json:"path"`
			} `json:"options"`
		} `json:"providers"`
	}
	if err := sigsyaml.Unmarshal(readRepoFile(t, "deploy", "grafana", "provisioning", "dashboards", "dashboards.yaml"), &prov); err != nil {
		t.Fatalf("deploy/grafana/provisioning/dashboards/dashboards.yaml: %v", err)
	}
	grafana, ok := allServices(t)["grafana"]
	if !ok {
		t.Fatal("docker-compose.yaml has no grafana service")
	}
	dashboardsDir := repoPath(t, "deploy", "grafana", "dashboards")
	provisioningDir := repoPath(t, "deploy", "grafana", "provisioning")
	mounts := map[string]types.ServiceVolumeConfig{}
	for _, v := range grafana.Volumes {
		mounts[filepath.Clean(v.Source)] = v
	}
	if v, ok := mounts[provisioningDir]; !ok || v.Target != "/etc/grafana/provisioning" {
		t.Errorf("grafana: deploy/grafana/provisioning must be mounted at /etc/grafana/provisioning")
	}
	target := mounts[dashboardsDir].Target
	if target == "" {
		t.Fatalf("grafana: deploy/grafana/dashboards is not mounted")
	}
	if len(prov.Providers) == 0 || prov.Providers[0].Options.Path != target {
		t.Errorf("dashboards.yaml reads %+v, but compose mounts the dashboards at %s", prov.Providers, target)
	}
	if home := grafana.Environment["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"]; home == nil || *home != target+"/"+dashboardPath[len(dashboardPath)-1] {
		t.Errorf("grafana: GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH should be %s/%s", target, dashboardPath[len(dashboardPath)-1])
	}
}
