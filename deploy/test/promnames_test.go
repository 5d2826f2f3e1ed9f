package deploytest

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"
	"unicode"

	"github.com/open-telemetry/opentelemetry-collector-contrib/exporter/prometheusexporter"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/prometheus/otlptranslator"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/confmap"
	"go.opentelemetry.io/collector/exporter/exportertest"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"

	"github.com/sendfile-otel/sendfile-otel/semconv"
)

// metricKind is the kind of an OTel metric as far as its Prometheus name is
// concerned.
type metricKind int

const (
	gauge metricKind = iota
	monotonicCounter
	nonMonotonicCounter
	histogram
)

func (k metricKind) String() string {
	return [...]string{"gauge", "monotonic counter", "non-monotonic counter", "histogram"}[k]
}

// otelMetric is an OTel metric: name, UCUM unit and kind.
type otelMetric struct {
	Name string
	Unit string
	Kind metricKind
}

// agentMetrics are the metrics the agent exports, named by the semconv
// package; the kinds are those of the instruments otelbridge creates
// (observable counters and one explicit-bucket histogram).
var agentMetrics = []otelMetric{
	{semconv.MetricIO, semconv.UnitBytes, monotonicCounter},
	{semconv.MetricCalls, semconv.UnitCalls, monotonicCounter},
	{semconv.MetricDuration, semconv.UnitSeconds, histogram},
	{semconv.MetricEventsLost, semconv.UnitEvents, monotonicCounter},
	{semconv.MetricEventsExported, semconv.UnitEvents, monotonicCounter},
}

// unitWords spells out UCUM units as the Prometheus translation does
// (github.com/prometheus/otlptranslator, unitMap).
var unitWords = map[string]string{
	"d": "days", "h": "hours", "min": "minutes", "s": "seconds",
	"ms": "milliseconds", "us": "microseconds", "ns": "nanoseconds",
	"By": "bytes", "KiBy": "kibibytes", "MiBy": "mebibytes", "GiBy": "gibibytes",
	"TiBy": "tibibytes", "KBy": "kilobytes", "MBy": "megabytes", "GBy": "gigabytes",
	"TBy": "terabytes",
	"m":   "meters", "V": "volts", "A": "amperes", "J": "joules", "W": "watts", "g": "grams",
	"Cel": "celsius", "Hz": "hertz", "1": "", "%": "percent",
}

// perUnitWords spells out the denominator of a rate unit such as By/s.
var perUnitWords = map[string]string{
	"s": "second", "m": "minute", "h": "hour", "d": "day", "w": "week", "mo": "month", "y": "year",
}

// prometheusName returns the name that the collector's prometheus exporter
// gives an OTel metric with translation_strategy
// UnderscoreEscapingWithSuffixes, the strategy deploy/collector/*.yaml and
// deploy/kubernetes/collector.yaml set (it is also the exporter's default in
// contrib 0.165, where add_metric_suffixes defaults to true):
//
//   - the name is split at every character other than [a-zA-Z0-9:], and the
//     parts are joined with "_" (so "." becomes "_" and "__" collapses);
//   - the unit is appended as a word (By -> bytes, s -> seconds; "X/s" ->
//     "X_per_second") unless the name already has that word; units in
//     braces such as {call} and the unit "1" add nothing;
//   - monotonic counters end in "_total";
//   - gauges with unit "1" end in "_ratio";
//   - a name starting with a digit gets a leading "_".
//
// For a histogram this is the family name; its series add _bucket, _sum and
// _count (seriesNames).
func prometheusName(m otelMetric) string {
	isNameChar := func(r rune) bool {
		return r < unicode.MaxASCII && (unicode.IsLetter(r) || unicode.IsDigit(r) || r == ':')
	}
	tokens := strings.FieldsFunc(m.Name, func(r rune) bool { return !isNameChar(r) })

	cleanUnit := func(u string) string {
		u = strings.Map(func(r rune) rune {
			if isNameChar(r) {
				return r
			}
			return '_'
		}, u)
		for strings.Contains(u, "__") {
			u = strings.ReplaceAll(u, "__", "_")
		}
		return strings.TrimPrefix(u, "_")
	}
	word := func(u string, words map[string]string) string {
		u = strings.TrimSpace(u)
		if u == "" || strings.ContainsAny(u, "{}") {
			return ""
		}
		if w, ok := words[u]; ok {
			return w
		}
		return u
	}
	mainUnit, perUnit, _ := strings.Cut(m.Unit, "/")
	if w := cleanUnit(word(mainUnit, unitWords)); w != "" && !slices.Contains(tokens, w) {
		tokens = append(tokens, w)
	}
	if w := word(perUnit, perUnitWords); w != "" {
		tokens = append(tokens, "per", cleanUnit(w))
	}
	if m.Kind == monotonicCounter {
		tokens = append(slices.DeleteFunc(tokens, func(s string) bool { return s == "total" }), "total")
	}
	if m.Unit == "1" && m.Kind == gauge {
		tokens = append(slices.DeleteFunc(tokens, func(s string) bool { return s == "ratio" }), "ratio")
	}
	name := strings.Join(tokens, "_")
	if name != "" && unicode.IsDigit(rune(name[0])) {
		name = "_" + name
	}
	return name
}

// seriesNames returns the Prometheus series names of a metric: the family
// name, or for a histogram its _bucket, _sum and _count series.
func seriesNames(m otelMetric) []string {
	name := prometheusName(m)
	if m.Kind == histogram {
		return []string{name + "_bucket", name + "_sum", name + "_count"}
	}
	return []string{name}
}

// knownNames are OTel metrics and their Prometheus names under
// UnderscoreEscapingWithSuffixes: the agent's metrics, the span_metrics
// connector's, and examples of each rule.
var knownNames = []struct {
	metric otelMetric
	want   string
}{
	{otelMetric{"sendfile.io", "By", monotonicCounter}, "sendfile_io_bytes_total"},
	{otelMetric{"sendfile.calls", "{call}", monotonicCounter}, "sendfile_calls_total"},
	{otelMetric{"sendfile.duration", "s", histogram}, "sendfile_duration_seconds"},
	{otelMetric{"sendfile_otel.events.lost", "{event}", monotonicCounter}, "sendfile_otel_events_lost_total"},
	{otelMetric{"sendfile_otel.events.exported", "{event}", monotonicCounter}, "sendfile_otel_events_exported_total"},
	{otelMetric{"traces.span.metrics.calls", "", monotonicCounter}, "traces_span_metrics_calls_total"},
	{otelMetric{"traces.span.metrics.duration", "s", histogram}, "traces_span_metrics_duration_seconds"},
	{otelMetric{"traces.span.metrics.duration", "ms", histogram}, "traces_span_metrics_duration_milliseconds"},
	{otelMetric{"http.server.request.duration", "s", histogram}, "http_server_request_duration_seconds"},
	{otelMetric{"system.cpu.utilization", "1", gauge}, "system_cpu_utilization_ratio"},
	{otelMetric{"system.network.io", "By", monotonicCounter}, "system_network_io_bytes_total"},
	{otelMetric{"process.memory.usage", "By", nonMonotonicCounter}, "process_memory_usage_bytes"},
	{otelMetric{"queue.size.bytes", "By", gauge}, "queue_size_bytes"},
	{otelMetric{"requests.total", "{request}", monotonicCounter}, "requests_total"},
	{otelMetric{"throughput", "By/s", gauge}, "throughput_bytes_per_second"},
	{otelMetric{"temperature", "Cel", gauge}, "temperature_celsius"},
	{otelMetric{"double__underscore.name", "", gauge}, "double_underscore_name"},
	{otelMetric{"2xx.responses", "", monotonicCounter}, "_2xx_responses_total"},
}

// TestPrometheusNameKnownPairs checks prometheusName on known pairs.
func TestPrometheusNameKnownPairs(t *testing.T) {
	for _, tc := range knownNames {
		if got := prometheusName(tc.metric); got != tc.want {
			t.Errorf("prometheusName(%q, unit %q, %v) = %q, want %q", tc.metric.Name, tc.metric.Unit, tc.metric.Kind, got, tc.want)
		}
	}
}

// TestPrometheusNameMatchesOTLPTranslator checks prometheusName against
// github.com/prometheus/otlptranslator, the library the pinned collector's
// prometheus exporter names metrics with, configured as
// UnderscoreEscapingWithSuffixes configures it (suffixes on, UTF-8 escaped).
func TestPrometheusNameMatchesOTLPTranslator(t *testing.T) {
	namer := otlptranslator.MetricNamer{WithMetricSuffixes: true, UTF8Allowed: false}
	kinds := map[metricKind]otlptranslator.MetricType{
		gauge:               otlptranslator.MetricTypeGauge,
		monotonicCounter:    otlptranslator.MetricTypeMonotonicCounter,
		nonMonotonicCounter: otlptranslator.MetricTypeNonMonotonicCounter,
		histogram:           otlptranslator.MetricTypeHistogram,
	}
	metrics := slices.Clone(agentMetrics)
	for _, tc := range knownNames {
		metrics = append(metrics, tc.metric)
	}
	for _, m := range metrics {
		want, err := namer.Build(otlptranslator.Metric{Name: m.Name, Unit: m.Unit, Type: kinds[m.Kind]})
		if err != nil {
			t.Errorf("otlptranslator rejects %q: %v", m.Name, err)
			continue
		}
		if got := prometheusName(m); got != want {
			t.Errorf("prometheusName(%q, unit %q, %v) = %q, but otlptranslator says %q", m.Name, m.Unit, m.Kind, got, want)
		}
	}
}

// TestPrometheusExporterNamesAgentMetrics runs the pinned collector's
// prometheus exporter, with the exporter settings of
// deploy/collector/collector.yaml, on a sample of the agent's metrics and
// scrapes it over loopback: the families it serves must be the names
// prometheusName predicts, with the labels the dashboard groups by.
func TestPrometheusExporterNamesAgentMetrics(t *testing.T) {
	col := loadCollectorConfig(t, repoPath(t, "deploy", "collector", "collector.yaml"), nil)
	var expCfg *prometheusexporter.Config
	for id, c := range col.cfg.Exporters {
		if id.Type().String() == "prometheus" {
			expCfg = c.(*prometheusexporter.Config)
		}
	}
	if expCfg == nil {
		t.Fatal("deploy/collector/collector.yaml has no prometheus exporter")
	}

	// Listen on a free loopback port instead of the configured one, and
	// export synchronously (no sending queue) so one scrape sees the data.
	addr := freeLoopbackAddr(t)
	factory := prometheusexporter.NewFactory()
	cfg := factory.CreateDefaultConfig().(*prometheusexporter.Config)
	raw := confmap.New()
	if err := raw.Marshal(expCfg); err != nil {
		t.Fatalf("marshalling the exporter config: %v", err)
	}
	if err := raw.Merge(confmap.NewFromStringMap(map[string]any{
		"endpoint":      addr,
		"sending_queue": map[string]any{"enabled": false},
	})); err != nil {
		t.Fatal(err)
	}
	if err := raw.Unmarshal(cfg); err != nil {
		t.Fatalf("unmarshalling the exporter config: %v", err)
	}

	ctx := context.Background()
	set := exportertest.NewNopSettings(component.MustNewType("prometheus"))
	exp, err := factory.CreateMetrics(ctx, set, cfg)
	if err != nil {
		t.Fatalf("creating the prometheus exporter: %v", err)
	}
	if err := exp.Start(ctx, componenttest.NewNopHost()); err != nil {
		t.Fatalf("starting the prometheus exporter on %s: %v", addr, err)
	}
	t.Cleanup(func() { _ = exp.Shutdown(context.Background()) })

	if err := exp.ConsumeMetrics(ctx, sampleAgentMetrics()); err != nil {
		t.Fatalf("exporting the sample metrics: %v", err)
	}
	families := scrape(t, "http://"+addr+"/metrics")
	t.Logf("the exporter serves: %v", sortedKeys(families))

	for _, m := range agentMetrics {
		name := prometheusName(m)
		fam, ok := families[name]
		if !ok {
			t.Errorf("OTel metric %q (unit %q, %v): the exporter serves no family %q; it serves %v",
				m.Name, m.Unit, m.Kind, name, sortedKeys(families))
			continue
		}
		wantLabels := map[string][]string{
			semconv.MetricIO:             {"process_real_user_id", "process_real_user_name"},
			semconv.MetricCalls:          {"process_real_user_id", "process_real_user_name", "error_type"},
			semconv.MetricDuration:       {"process_real_user_id", "process_real_user_name"},
			semconv.MetricEventsLost:     {"reason"},
			semconv.MetricEventsExported: {},
		}[m.Name]
		seen := map[string]bool{}
		for _, metric := range fam.GetMetric() {
			for _, l := range metric.GetLabel() {
				seen[l.GetName()] = true
			}
		}
		for _, l := range append(wantLabels, "job") {
			if !seen[l] {
				t.Errorf("family %q has no label %q; its labels: %v", name, l, sortedKeys(seen))
			}
		}
		if job := labelValue(fam, "job"); job != "sendfile-otel" {
			t.Errorf("family %q: job label %q, want %q (from service.name)", name, job, "sendfile-otel")
		}
	}
}

// sampleAgentMetrics returns one data point of each agent metric, shaped as
// otelbridge exports them: cumulative monotonic sums, an explicit-bucket
// histogram, user attributes, error.type on a failed call.
func sampleAgentMetrics() pmetric.Metrics {
	md := pmetric.NewMetrics()
	rm := md.ResourceMetrics().AppendEmpty()
	rm.Resource().Attributes().PutStr("service.name", "sendfile-otel")
	rm.Resource().Attributes().PutStr("service.instance.id", "node-1")
	sm := rm.ScopeMetrics().AppendEmpty()
	sm.Scope().SetName("github.com/sendfile-otel/sendfile-otel/otelbridge")
	now := pcommon.NewTimestampFromTime(time.Now())
	start := pcommon.NewTimestampFromTime(time.Now().Add(-time.Minute))

	user := func(attrs pcommon.Map) {
		attrs.PutInt(string(semconv.ProcessRealUserIDKey), 101)
		attrs.PutStr(string(semconv.ProcessRealUserNameKey), "nginx")
	}
	sum := func(m otelMetric, points ...func(pmetric.NumberDataPoint)) {
		metric := sm.Metrics().AppendEmpty()
		metric.SetName(m.Name)
		metric.SetUnit(m.Unit)
		s := metric.SetEmptySum()
		s.SetIsMonotonic(true)
		s.SetAggregationTemporality(pmetric.AggregationTemporalityCumulative)
		for _, p := range points {
			dp := s.DataPoints().AppendEmpty()
			dp.SetStartTimestamp(start)
			dp.SetTimestamp(now)
			dp.SetIntValue(42)
			p(dp)
		}
	}
	for _, m := range agentMetrics {
		switch m.Name {
		case semconv.MetricIO:
			sum(m, func(dp pmetric.NumberDataPoint) { user(dp.Attributes()) })
		case semconv.MetricCalls:
			sum(m,
				func(dp pmetric.NumberDataPoint) { user(dp.Attributes()) },
				func(dp pmetric.NumberDataPoint) {
					user(dp.Attributes())
					dp.Attributes().PutStr(string(semconv.ErrorTypeKey), "EPIPE")
				})
		case semconv.MetricEventsLost:
			sum(m, func(dp pmetric.NumberDataPoint) {
				dp.Attributes().PutStr(string(semconv.ReasonKey), semconv.ReasonRingBufferFull)
			})
		case semconv.MetricEventsExported:
			sum(m, func(pmetric.NumberDataPoint) {})
		case semconv.MetricDuration:
			metric := sm.Metrics().AppendEmpty()
			metric.SetName(m.Name)
			metric.SetUnit(m.Unit)
			h := metric.SetEmptyHistogram()
			h.SetAggregationTemporality(pmetric.AggregationTemporalityCumulative)
			dp := h.DataPoints().AppendEmpty()
			dp.SetStartTimestamp(start)
			dp.SetTimestamp(now)
			user(dp.Attributes())
			dp.ExplicitBounds().FromRaw([]float64{1e-6, 1e-3, 1})
			dp.BucketCounts().FromRaw([]uint64{1, 2, 3, 4})
			dp.SetCount(10)
			dp.SetSum(1.5)
		default:
			panic("sampleAgentMetrics: no sample for " + m.Name)
		}
	}
	return md
}

// dtoFamily is a parsed Prometheus metric family.
type dtoFamily = dto.MetricFamily

// freeLoopbackAddr returns a 127.0.0.1 address with a port that was free a
// moment ago.
func freeLoopbackAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("finding a free loopback port: %v", err)
	}
	addr := l.Addr().String()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	return addr
}

// scrape fetches a Prometheus text exposition from a loopback URL, retrying
// a few times while the server starts, and parses it.
func scrape(t *testing.T, url string) map[string]*dtoFamily {
	t.Helper()
	client := &http.Client{Timeout: 2 * time.Second}
	var lastErr error
	for attempt := 0; attempt < 20; attempt++ {
		if attempt > 0 {
			time.Sleep(100 * time.Millisecond)
		}
		resp, err := client.Get(url)
		if err != nil {
			lastErr = err
			continue
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil || resp.StatusCode != http.StatusOK {
			lastErr = fmt.Errorf("status %s, read error %v", resp.Status, err)
			continue
		}
		parser := expfmt.NewTextParser(model.LegacyValidation)
		families, err := parser.TextToMetricFamilies(strings.NewReader(string(body)))
		if err != nil {
			t.Fatalf("parsing the exposition from %s: %v\n%s", url, err, body)
		}
		if len(families) == 0 {
			lastErr = fmt.Errorf("no metric families yet")
			continue
		}
		return families
	}
	t.Fatalf("scraping %s: %v", url, lastErr)
	return nil
}

func labelValue(fam *dtoFamily, name string) string {
	for _, m := range fam.GetMetric() {
		for _, l := range m.GetLabel() {
			if l.GetName() == name {
				return l.GetValue()
			}
		}
	}
	return ""
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
