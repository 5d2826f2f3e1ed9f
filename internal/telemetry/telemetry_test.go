package telemetry

import (
	"strings"
	"testing"
	"time"
)

var testDefaults = BatchSpan{
	MaxQueueSize:       100,
	MaxExportBatchSize: 10,
	ScheduleDelay:      time.Second,
	ExportTimeout:      5 * time.Second,
}

// bspVariables are the variables BatchSpanFromEnv reads; every case sets
// them all, so none leaks in from the environment the test runs in.
var bspVariables = []string{
	"OTEL_BSP_MAX_QUEUE_SIZE",
	"OTEL_BSP_MAX_EXPORT_BATCH_SIZE",
	"OTEL_BSP_SCHEDULE_DELAY",
	"OTEL_BSP_EXPORT_TIMEOUT",
}

func setBSP(t *testing.T, env map[string]string) {
	t.Helper()
	for _, variable := range bspVariables {
		t.Setenv(variable, env[variable])
	}
}

func TestBatchSpanFromEnvValues(t *testing.T) {
	cases := []struct {
		name string
		env  map[string]string
		want BatchSpan
	}{
		{"unset keeps defaults", nil, testDefaults},
		{"queue size", map[string]string{"OTEL_BSP_MAX_QUEUE_SIZE": "4096"},
			BatchSpan{4096, 10, time.Second, 5 * time.Second}},
		{"batch size", map[string]string{"OTEL_BSP_MAX_EXPORT_BATCH_SIZE": "100"},
			BatchSpan{100, 100, time.Second, 5 * time.Second}},
		{"delays in milliseconds", map[string]string{"OTEL_BSP_SCHEDULE_DELAY": "250", "OTEL_BSP_EXPORT_TIMEOUT": " 1500 "},
			BatchSpan{100, 10, 250 * time.Millisecond, 1500 * time.Millisecond}},
		{"all four", map[string]string{
			"OTEL_BSP_MAX_QUEUE_SIZE": "2048", "OTEL_BSP_MAX_EXPORT_BATCH_SIZE": "512",
			"OTEL_BSP_SCHEDULE_DELAY": "5000", "OTEL_BSP_EXPORT_TIMEOUT": "30000",
		}, BatchSpan{2048, 512, 5 * time.Second, 30 * time.Second}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			setBSP(t, c.env)
			got, err := BatchSpanFromEnv(testDefaults)
			if err != nil {
				t.Fatalf("BatchSpanFromEnv: %v", err)
			}
			if got != c.want {
				t.Errorf("got %+v, want %+v", got, c.want)
			}
		})
	}
}

func TestBatchSpanFromEnvRejectsBadValues(t *testing.T) {
	cases := []struct {
		name     string
		env      map[string]string
		mentions []string
	}{
		{"zero queue", map[string]string{"OTEL_BSP_MAX_QUEUE_SIZE": "0"}, []string{"OTEL_BSP_MAX_QUEUE_SIZE", `"0"`}},
		{"negative batch", map[string]string{"OTEL_BSP_MAX_EXPORT_BATCH_SIZE": "-1"}, []string{"OTEL_BSP_MAX_EXPORT_BATCH_SIZE"}},
		{"duration with unit", map[string]string{"OTEL_BSP_SCHEDULE_DELAY": "5s"}, []string{"OTEL_BSP_SCHEDULE_DELAY", "milliseconds"}},
		{"word", map[string]string{"OTEL_BSP_EXPORT_TIMEOUT": "never"}, []string{"OTEL_BSP_EXPORT_TIMEOUT"}},
		{"batch above queue", map[string]string{"OTEL_BSP_MAX_QUEUE_SIZE": "64", "OTEL_BSP_MAX_EXPORT_BATCH_SIZE": "65"}, []string{"65", "64"}},
		{"huge queue", map[string]string{"OTEL_BSP_MAX_QUEUE_SIZE": "4000000000"}, []string{"OTEL_BSP_MAX_QUEUE_SIZE", "1048576"}},
		{"delay past a day", map[string]string{"OTEL_BSP_SCHEDULE_DELAY": "10000000000000"}, []string{"OTEL_BSP_SCHEDULE_DELAY"}},
		{"timeout past a day", map[string]string{"OTEL_BSP_EXPORT_TIMEOUT": "86400001"}, []string{"OTEL_BSP_EXPORT_TIMEOUT"}},
		{"two bad values", map[string]string{"OTEL_BSP_MAX_QUEUE_SIZE": "x", "OTEL_BSP_SCHEDULE_DELAY": "y"}, []string{"OTEL_BSP_MAX_QUEUE_SIZE", "OTEL_BSP_SCHEDULE_DELAY"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			setBSP(t, c.env)
			got, err := BatchSpanFromEnv(testDefaults)
			if err == nil {
				t.Fatalf("BatchSpanFromEnv accepted %v and returned %+v", c.env, got)
			}
			for _, want := range c.mentions {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not mention %s", err, want)
				}
			}
		})
	}
}

func TestSamplingFromEnv(t *testing.T) {
	cases := []struct {
		sampler, arg string
		want         float64
	}{
		{"", "", 1},
		{"always_on", "0.5", 1},
		{"parentbased_always_on", "", 1},
		{"always_off", "", 0},
		{"parentbased_always_off", "", 0},
		{"traceidratio", "", 1},
		{"traceidratio", "0.25", 0.25},
		{"parentbased_traceidratio", "0", 0},
		{"traceidratio", "1", 1},
	}
	for _, c := range cases {
		t.Setenv("OTEL_TRACES_SAMPLER", c.sampler)
		t.Setenv("OTEL_TRACES_SAMPLER_ARG", c.arg)
		got, err := SamplingFromEnv()
		if err != nil {
			t.Errorf("sampler %q arg %q: %v", c.sampler, c.arg, err)
			continue
		}
		if got.Ratio != c.want {
			t.Errorf("sampler %q arg %q: ratio %g, want %g", c.sampler, c.arg, got.Ratio, c.want)
		}
	}
}

func TestSamplingFromEnvRejectsBadValues(t *testing.T) {
	for _, c := range []struct{ sampler, arg string }{
		{"traceidratio", "1.5"},
		{"traceidratio", "-0.1"},
		{"traceidratio", "half"},
		{"traceidratio", "NaN"},
		{"jaeger_remote", ""},
	} {
		t.Setenv("OTEL_TRACES_SAMPLER", c.sampler)
		t.Setenv("OTEL_TRACES_SAMPLER_ARG", c.arg)
		if got, err := SamplingFromEnv(); err == nil {
			t.Errorf("sampler %q arg %q accepted as %+v", c.sampler, c.arg, got)
		}
	}
}

func TestExporterKind(t *testing.T) {
	for value, want := range map[string]string{"": "otlp", "otlp": "otlp", " console ": "console", "none": "none"} {
		t.Setenv("OTEL_TRACES_EXPORTER", value)
		got, err := ExporterKind("OTEL_TRACES_EXPORTER")
		if err != nil || got != want {
			t.Errorf("OTEL_TRACES_EXPORTER=%q: got %q, %v; want %q", value, got, err, want)
		}
	}
	t.Setenv("OTEL_TRACES_EXPORTER", "zipkin")
	if got, err := ExporterKind("OTEL_TRACES_EXPORTER"); err == nil {
		t.Errorf("OTEL_TRACES_EXPORTER=zipkin accepted as %q", got)
	}
}

func TestCheckEnvRejectsMalformedValues(t *testing.T) {
	cases := map[string]string{
		"OTEL_EXPORTER_OTLP_ENDPOINT":                       "collector:4317",
		"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT":                "ftp://collector:4317",
		"OTEL_METRIC_EXPORT_INTERVAL":                       "1m",
		"OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE": "gauge",
		"OTEL_EXPORTER_OTLP_INSECURE":                       "maybe",
		"OTEL_EXPORTER_OTLP_TRACES_INSECURE":                "yes",
		"OTEL_EXPORTER_OTLP_HEADERS":                        "novalue",
		"OTEL_EXPORTER_OTLP_METRICS_HEADERS":                "a=1,=2",
		"OTEL_EXPORTER_OTLP_COMPRESSION":                    "zstd",
		"OTEL_EXPORTER_OTLP_TRACES_TIMEOUT":                 "10s",
		"OTEL_EXPORTER_OTLP_METRICS_ENDPOINT":               "http://127.0.0.1:99999",
		"OTEL_EXPORTER_OTLP_CERTIFICATE":                    "/nonexistent/ca.pem",
		"OTEL_RESOURCE_ATTRIBUTES":                          "team=a,garbage",
		"OTEL_METRIC_EXPORT_TIMEOUT":                        "10000000000000",
	}
	for variable, value := range cases {
		t.Run(variable, func(t *testing.T) {
			t.Setenv(variable, value)
			err := CheckEnv()
			if err == nil || !strings.Contains(err.Error(), variable) {
				t.Errorf("%s=%q: error %v, want one naming the variable", variable, value, err)
			}
		})
	}
	t.Run("valid values", func(t *testing.T) {
		t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4317")
		t.Setenv("OTEL_METRIC_EXPORT_INTERVAL", "500")
		t.Setenv("OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE", "Delta")
		t.Setenv("OTEL_EXPORTER_OTLP_INSECURE", "TRUE")
		t.Setenv("OTEL_EXPORTER_OTLP_HEADERS", "api-key=secret%20value, tenant=a")
		t.Setenv("OTEL_EXPORTER_OTLP_COMPRESSION", "gzip")
		t.Setenv("OTEL_EXPORTER_OTLP_TIMEOUT", "10000")
		t.Setenv("OTEL_RESOURCE_ATTRIBUTES", "team=storage,region=eu%2Dwest")
		if err := CheckEnv(); err != nil {
			t.Errorf("CheckEnv: %v", err)
		}
	})
}
