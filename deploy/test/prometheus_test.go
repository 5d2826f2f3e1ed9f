package deploytest

import (
	"testing"

	promconfig "github.com/prometheus/prometheus/config"
	"github.com/prometheus/prometheus/discovery"
)

// prometheusTargets loads deploy/prometheus/prometheus.yaml with
// Prometheus's own config loader (unknown keys are errors there) and
// returns the host:port of every static target.
func prometheusTargets(t *testing.T) []string {
	t.Helper()
	path := repoPath(t, "deploy", "prometheus", "prometheus.yaml")
	cfg, err := promconfig.LoadFile(path, false, nil)
	if err != nil {
		t.Fatalf("deploy/prometheus/prometheus.yaml: Prometheus rejects it: %v", err)
	}
	var targets []string
	for _, sc := range cfg.ScrapeConfigs {
		for _, sd := range sc.ServiceDiscoveryConfigs {
			static, ok := sd.(discovery.StaticConfig)
			if !ok {
				continue
			}
			for _, group := range static {
				for _, target := range group.Targets {
					targets = append(targets, string(target["__address__"]))
				}
			}
		}
	}
	if len(targets) == 0 {
		t.Fatalf("deploy/prometheus/prometheus.yaml: no static scrape targets")
	}
	return targets
}

// TestPrometheusConfigLoads loads the Prometheus configuration strictly and
// checks that it scrapes something.
func TestPrometheusConfigLoads(t *testing.T) {
	prometheusTargets(t)
}
