package deploytest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/open-telemetry/opentelemetry-collector-contrib/connector/spanmetricsconnector"
	"github.com/open-telemetry/opentelemetry-collector-contrib/exporter/prometheusexporter"
	"github.com/open-telemetry/opentelemetry-collector-contrib/processor/groupbyattrsprocessor"
	"github.com/open-telemetry/opentelemetry-collector-contrib/processor/k8sattributesprocessor"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/confmap"
	"go.opentelemetry.io/collector/confmap/provider/envprovider"
	"go.opentelemetry.io/collector/confmap/provider/fileprovider"
	"go.opentelemetry.io/collector/connector"
	"go.opentelemetry.io/collector/exporter"
	"go.opentelemetry.io/collector/exporter/otlpexporter"
	"go.opentelemetry.io/collector/extension"
	"go.opentelemetry.io/collector/otelcol"
	"go.opentelemetry.io/collector/pipeline"
	"go.opentelemetry.io/collector/processor"
	"go.opentelemetry.io/collector/processor/batchprocessor"
	"go.opentelemetry.io/collector/processor/memorylimiterprocessor"
	"go.opentelemetry.io/collector/receiver"
	"go.opentelemetry.io/collector/receiver/otlpreceiver"
	"go.opentelemetry.io/collector/service/telemetry/otelconftelemetry"
)

// collectorConfigs are the collector configurations of this repository
// with the environment each is loaded with (the env vars its deployment
// sets; the Kubernetes test takes them from the rendered DaemonSet instead).
var collectorConfigs = []struct {
	path []string
	env  map[string]string
}{
	{[]string{"deploy", "collector", "collector.yaml"}, nil},
	{[]string{"deploy", "collector", "collector-tempo.yaml"}, nil},
	{[]string{"deploy", "kubernetes", "collector.yaml"}, map[string]string{
		"OTLP_BACKEND_ENDPOINT": "otel-gateway.observability.svc:4317",
		"K8S_NODE_NAME":         "node-1",
	}},
}

// collectorFactories are the components the configurations may use, as the
// pinned otelcol-contrib release builds them. A component not listed here
// fails the test: add its factory (at the same collector release) when a
// configuration starts using it.
func collectorFactories(t testing.TB) otelcol.Factories {
	t.Helper()
	var errs []error
	must := func(err error) {
		if err != nil {
			errs = append(errs, err)
		}
	}
	var f otelcol.Factories
	var err error
	f.Receivers, err = otelcol.MakeFactoryMap[receiver.Factory](otlpreceiver.NewFactory())
	must(err)
	f.Processors, err = otelcol.MakeFactoryMap[processor.Factory](
		memorylimiterprocessor.NewFactory(),
		batchprocessor.NewFactory(),
		k8sattributesprocessor.NewFactory(),
		groupbyattrsprocessor.NewFactory(),
	)
	must(err)
	f.Exporters, err = otelcol.MakeFactoryMap[exporter.Factory](
		otlpexporter.NewFactory(),
		prometheusexporter.NewFactory(),
	)
	must(err)
	f.Connectors, err = otelcol.MakeFactoryMap[connector.Factory](spanmetricsconnector.NewFactory())
	must(err)
	f.Extensions, err = otelcol.MakeFactoryMap[extension.Factory]()
	must(err)
	f.Telemetry = otelconftelemetry.NewFactory()
	if len(errs) > 0 {
		t.Fatalf("building the collector factories: %v", errors.Join(errs...))
	}
	return f
}

// loadedCollector is a collector configuration loaded by the collector's
// own packages.
type loadedCollector struct {
	path string          // absolute path of the file
	conf *confmap.Conf   // the resolved map (env vars expanded)
	cfg  *otelcol.Config // the typed configuration, validated
}

// loadCollectorConfig loads a collector configuration file the way
// otelcol-contrib does and fails the test on any problem:
//
//  1. confmap resolves the file (file and env providers; env is set first);
//  2. each component's section is decoded into its factory's default
//     config struct; confmap rejects keys the struct does not have;
//  3. each component config's Validate runs (confmap.Validate, which
//     also validates nested structs);
//  4. otelcol's ConfigProvider builds the whole configuration, and its
//     Validate checks the service and that pipelines reference defined
//     components;
//  5. checkPipelines repeats the reference check with this file's name in
//     the message, and checks that every defined component is used and
//     every connector both ends a pipeline and starts another.
func loadCollectorConfig(t testing.TB, path string, env map[string]string) loadedCollector {
	t.Helper()
	return loadCollectorConfigNamed(t, path, rel(t, path), env)
}

// loadCollectorConfigNamed is loadCollectorConfig with the name that
// messages give the file.
func loadCollectorConfigNamed(t testing.TB, path, name string, env map[string]string) loadedCollector {
	t.Helper()
	for k, v := range env {
		if tt, ok := t.(*testing.T); ok {
			tt.Setenv(k, v)
		} else {
			t.Fatalf("loadCollectorConfig needs a *testing.T to set %s", k)
		}
	}
	ctx := context.Background()
	resolverSettings := confmap.ResolverSettings{
		URIs:              []string{"file:" + path},
		ProviderFactories: []confmap.ProviderFactory{fileprovider.NewFactory(), envprovider.NewFactory()},
		DefaultScheme:     "env",
	}
	resolver, err := confmap.NewResolver(resolverSettings)
	if err != nil {
		t.Fatalf("%s: creating the config resolver: %v", name, err)
	}
	conf, err := resolver.Resolve(ctx)
	if err != nil {
		t.Fatalf("%s: resolving the configuration: %v", name, err)
	}

	factories := collectorFactories(t)
	var errs []error
	errs = append(errs, decodeComponents(conf, "receivers", factories.Receivers)...)
	errs = append(errs, decodeComponents(conf, "processors", factories.Processors)...)
	errs = append(errs, decodeComponents(conf, "exporters", factories.Exporters)...)
	errs = append(errs, decodeComponents(conf, "connectors", factories.Connectors)...)
	errs = append(errs, decodeComponents(conf, "extensions", factories.Extensions)...)
	if len(errs) > 0 {
		t.Fatalf("%s: %v", name, errors.Join(errs...))
	}

	provider, err := otelcol.NewConfigProvider(otelcol.ConfigProviderSettings{ResolverSettings: resolverSettings})
	if err != nil {
		t.Fatalf("%s: creating the collector's config provider: %v", name, err)
	}
	cfg, err := provider.Get(ctx, factories)
	if err != nil {
		t.Fatalf("%s: the collector cannot load it: %v", name, err)
	}
	if err := confmap.Validate(cfg); err != nil {
		t.Fatalf("%s: the collector rejects it: %v", name, err)
	}
	if err := checkPipelines(cfg); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return loadedCollector{path: path, conf: conf, cfg: cfg}
}

// decodeComponents strictly decodes every component of one section
// (receivers, processors, ...) into its factory's config struct and
// validates it.
func decodeComponents[F component.Factory](conf *confmap.Conf, section string, factories map[component.Type]F) []error {
	if !conf.IsSet(section) {
		return nil
	}
	raw, ok := conf.Get(section).(map[string]any)
	if !ok {
		if conf.Get(section) == nil {
			return nil
		}
		return []error{fmt.Errorf("%s: not a map of components", section)}
	}
	var errs []error
	for _, key := range sortedKeys(raw) {
		var id component.ID
		if err := id.UnmarshalText([]byte(key)); err != nil {
			errs = append(errs, fmt.Errorf("%s::%s: invalid component id: %w", section, key, err))
			continue
		}
		factory, ok := factories[id.Type()]
		if !ok {
			known := make([]string, 0, len(factories))
			for typ, f := range factories {
				if f.Type() == typ { // not a deprecated alias
					known = append(known, typ.String())
				}
			}
			slices.Sort(known)
			errs = append(errs, fmt.Errorf("%s::%s: no %s factory of type %q among %v; add the component's factory to collectorFactories (at the pinned collector release) if the collector image has it",
				section, key, strings.TrimSuffix(section, "s"), id.Type(), known))
			continue
		}
		if factory.Type() != id.Type() {
			errs = append(errs, fmt.Errorf("%s::%s: %q is a deprecated alias of %q; use %q",
				section, key, id.Type(), factory.Type(), strings.Replace(key, id.Type().String(), factory.Type().String(), 1)))
			continue
		}
		cfg := factory.CreateDefaultConfig()
		sub, err := conf.Sub(section + "::" + key)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s::%s: %w", section, key, err))
			continue
		}
		if err := sub.Unmarshal(cfg); err != nil {
			errs = append(errs, fmt.Errorf("%s::%s: decoding into %T: %w", section, key, cfg, err))
			continue
		}
		if err := confmap.Validate(cfg); err != nil {
			errs = append(errs, fmt.Errorf("%s::%s: invalid: %w", section, key, err))
		}
	}
	return errs
}

// checkPipelines checks the service's pipelines against the defined
// components: every reference is defined, every defined component is used,
// every connector is an exporter of one pipeline and a receiver of another.
func checkPipelines(cfg *otelcol.Config) error {
	var errs []error
	used := map[string]bool{}
	connIn, connOut := map[component.ID]bool{}, map[component.ID]bool{}
	if len(cfg.Service.Pipelines) == 0 {
		errs = append(errs, errors.New("service::pipelines: none defined"))
	}
	for pid, p := range cfg.Service.Pipelines {
		if len(p.Receivers) == 0 || len(p.Exporters) == 0 {
			errs = append(errs, fmt.Errorf("service::pipelines::%s: needs receivers and exporters", pid))
		}
		for _, id := range p.Receivers {
			_, isReceiver := cfg.Receivers[id]
			_, isConnector := cfg.Connectors[id]
			switch {
			case isReceiver:
				used["receivers::"+id.String()] = true
			case isConnector:
				used["connectors::"+id.String()] = true
				connOut[id] = true
			default:
				errs = append(errs, fmt.Errorf("service::pipelines::%s: receiver %q is not defined under receivers or connectors", pid, id))
			}
		}
		for _, id := range p.Processors {
			if _, ok := cfg.Processors[id]; !ok {
				errs = append(errs, fmt.Errorf("service::pipelines::%s: processor %q is not defined under processors", pid, id))
			}
			used["processors::"+id.String()] = true
		}
		if len(p.Processors) > 0 && p.Processors[0].Type().String() != "memory_limiter" {
			errs = append(errs, fmt.Errorf("service::pipelines::%s: the first processor is %q; memory_limiter must come first", pid, p.Processors[0]))
		}
		for _, id := range p.Exporters {
			_, isExporter := cfg.Exporters[id]
			_, isConnector := cfg.Connectors[id]
			switch {
			case isExporter:
				used["exporters::"+id.String()] = true
			case isConnector:
				used["connectors::"+id.String()] = true
				connIn[id] = true
			default:
				errs = append(errs, fmt.Errorf("service::pipelines::%s: exporter %q is not defined under exporters or connectors", pid, id))
			}
		}
	}
	for _, section := range []struct {
		name string
		ids  []component.ID
	}{
		{"receivers", mapKeys(cfg.Receivers)},
		{"processors", mapKeys(cfg.Processors)},
		{"exporters", mapKeys(cfg.Exporters)},
		{"connectors", mapKeys(cfg.Connectors)},
	} {
		for _, id := range section.ids {
			if !used[section.name+"::"+id.String()] {
				errs = append(errs, fmt.Errorf("%s::%s: defined but used in no pipeline", section.name, id))
			}
		}
	}
	for id := range cfg.Connectors {
		if connIn[id] != connOut[id] {
			errs = append(errs, fmt.Errorf("connectors::%s: must be an exporter of one pipeline and a receiver of another", id))
		}
	}
	return errors.Join(errs...)
}

func mapKeys[V any](m map[component.ID]V) []component.ID {
	ids := make([]component.ID, 0, len(m))
	for id := range m {
		ids = append(ids, id)
	}
	slices.SortFunc(ids, func(a, b component.ID) int { return strings.Compare(a.String(), b.String()) })
	return ids
}

// otlpGRPCEndpoint returns the gRPC endpoint of the collector's otlp
// receiver.
func (c loadedCollector) otlpGRPCEndpoint(t testing.TB) string {
	t.Helper()
	for id, rc := range c.cfg.Receivers {
		if id.Type().String() != "otlp" {
			continue
		}
		grpc := rc.(*otlpreceiver.Config).Protocols.GRPC
		if grpc.HasValue() {
			return grpc.Get().NetAddr.Endpoint
		}
	}
	t.Fatalf("%s: no otlp receiver with a grpc protocol", rel(t, c.path))
	return ""
}

// prometheusEndpoint returns the endpoint of the collector's prometheus
// exporter.
func (c loadedCollector) prometheusEndpoint(t testing.TB) string {
	t.Helper()
	for id, ec := range c.cfg.Exporters {
		if id.Type().String() == "prometheus" {
			return ec.(*prometheusexporter.Config).ServerConfig.NetAddr.Endpoint
		}
	}
	t.Fatalf("%s: no prometheus exporter", rel(t, c.path))
	return ""
}

// spanMetrics returns the span_metrics connector's config.
func (c loadedCollector) spanMetrics(t testing.TB) *spanmetricsconnector.Config {
	t.Helper()
	for id, cc := range c.cfg.Connectors {
		if id.Type().String() == "span_metrics" {
			return cc.(*spanmetricsconnector.Config)
		}
	}
	t.Fatalf("%s: no span_metrics connector", rel(t, c.path))
	return nil
}

// pipelinesOf returns the pipelines of one signal.
func (c loadedCollector) pipelinesOf(signal pipeline.Signal) []pipeline.ID {
	var ids []pipeline.ID
	for id := range c.cfg.Service.Pipelines {
		if id.Signal() == signal {
			ids = append(ids, id)
		}
	}
	return ids
}

func portOf(t testing.TB, endpoint string) string {
	t.Helper()
	_, port, err := net.SplitHostPort(endpoint)
	if err != nil {
		t.Fatalf("endpoint %q: %v", endpoint, err)
	}
	return port
}

// TestCollectorConfigsLoad loads and validates every collector
// configuration with the collector's own packages.
func TestCollectorConfigsLoad(t *testing.T) {
	for _, c := range collectorConfigs {
		t.Run(strings.Join(c.path, "/"), func(t *testing.T) {
			col := loadCollectorConfig(t, repoPath(t, c.path...), c.env)

			// The pieces the deployment relies on.
			if port := portOf(t, col.otlpGRPCEndpoint(t)); port != "4317" {
				t.Errorf("otlp receiver listens for gRPC on port %s; the agents send to 4317", port)
			}
			if port := portOf(t, col.prometheusEndpoint(t)); port != "8889" {
				t.Errorf("prometheus exporter listens on port %s; Prometheus scrapes 8889", port)
			}
			for id, ec := range col.cfg.Exporters {
				if pc, ok := ec.(*prometheusexporter.Config); ok && pc.TranslationStrategy != "UnderscoreEscapingWithSuffixes" {
					t.Errorf("exporters::%s: translation_strategy %q; the dashboard's metric names assume UnderscoreEscapingWithSuffixes", id, pc.TranslationStrategy)
				}
			}
			sm := col.spanMetrics(t)
			if sm.Histogram.Unit.String() != "s" {
				t.Errorf("span_metrics histogram unit %q; the dashboard assumes seconds", sm.Histogram.Unit.String())
			}
			if len(col.pipelinesOf(pipeline.SignalTraces)) == 0 || len(col.pipelinesOf(pipeline.SignalMetrics)) == 0 {
				t.Errorf("needs a traces and a metrics pipeline")
			}
		})
	}
}

// TestCollectorConfigsListed makes sure no collector configuration escapes
// TestCollectorConfigsLoad: every YAML file under deploy/collector and the
// Kubernetes collector.yaml must be in collectorConfigs.
func TestCollectorConfigsListed(t *testing.T) {
	listed := map[string]bool{}
	for _, c := range collectorConfigs {
		listed[strings.Join(c.path, "/")] = true
	}
	entries, err := os.ReadDir(repoPath(t, "deploy", "collector"))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".yaml") || strings.HasSuffix(e.Name(), ".yml") {
			if p := "deploy/collector/" + e.Name(); !listed[p] {
				t.Errorf("%s is not in collectorConfigs, so no test loads it", p)
			}
		}
	}
}

// otlpExporterEndpoint returns the endpoint of an otlp_grpc exporter's
// config.
func otlpExporterEndpoint(cfg component.Config) string {
	if c, ok := cfg.(*otlpexporter.Config); ok {
		return c.ClientConfig.Endpoint
	}
	return ""
}
