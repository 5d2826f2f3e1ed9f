// Package telemetry builds the OpenTelemetry SDK providers of the agent
// from the standard OTEL_* environment variables: which exporter each
// signal uses, where it sends, how traces are sampled, and the resource.
//
// Variables read here (the exporters read their own OTEL_EXPORTER_OTLP_*):
//
//	OTEL_TRACES_EXPORTER          otlp (default), console or none
//	OTEL_METRICS_EXPORTER         otlp (default), console or none
//	OTEL_TRACES_SAMPLER           always_on (default), always_off, traceidratio,
//	                              parentbased_always_on, parentbased_always_off,
//	                              parentbased_traceidratio (spans have no parent,
//	                              so the parentbased forms act as their root sampler)
//	OTEL_TRACES_SAMPLER_ARG       the ratio for traceidratio, in [0, 1] (default 1)
//	OTEL_METRIC_EXPORT_INTERVAL   milliseconds between metric exports (default 60000)
//	OTEL_BSP_MAX_QUEUE_SIZE, OTEL_BSP_MAX_EXPORT_BATCH_SIZE, OTEL_BSP_SCHEDULE_DELAY,
//	OTEL_BSP_EXPORT_TIMEOUT       the batch span processor; see BatchSpanFromEnv
//	OTEL_SERVICE_NAME             service.name (default sendfile-otel)
//	OTEL_RESOURCE_ATTRIBUTES      extra resource attributes, key=value,...
package telemetry

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlpmetric/otlpmetricgrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/exporters/stdout/stdoutmetric"
	"go.opentelemetry.io/otel/exporters/stdout/stdouttrace"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// Exporter kinds of OTEL_TRACES_EXPORTER and OTEL_METRICS_EXPORTER.
const (
	ExporterOTLP    = "otlp"
	ExporterConsole = "console"
	ExporterNone    = "none"
)

// DefaultServiceName is service.name when OTEL_SERVICE_NAME is unset.
const DefaultServiceName = "sendfile-otel"

// Sampling is the trace sampling decision taken in the kernel.
type Sampling struct {
	// Ratio is the share of calls that become spans, in [0, 1].
	Ratio float64
	// Sampler is the OTEL_TRACES_SAMPLER value it came from.
	Sampler string
}

// ExporterKind reads an exporter variable such as OTEL_TRACES_EXPORTER.
func ExporterKind(variable string) (string, error) {
	value := strings.TrimSpace(os.Getenv(variable))
	switch value {
	case "":
		return ExporterOTLP, nil
	case ExporterOTLP, ExporterConsole, ExporterNone:
		return value, nil
	}
	return "", fmt.Errorf("invalid %s %q: want otlp, console or none", variable, value)
}

// SamplingFromEnv reads OTEL_TRACES_SAMPLER and OTEL_TRACES_SAMPLER_ARG.
// The agent samples in the kernel, so an unsampled call costs no user-space
// work, and the SDK then keeps every span it is given.
func SamplingFromEnv() (Sampling, error) {
	sampler := strings.TrimSpace(os.Getenv("OTEL_TRACES_SAMPLER"))
	arg := strings.TrimSpace(os.Getenv("OTEL_TRACES_SAMPLER_ARG"))
	switch sampler {
	case "", "always_on", "parentbased_always_on":
		return Sampling{Ratio: 1, Sampler: orDefault(sampler, "always_on")}, nil
	case "always_off", "parentbased_always_off":
		return Sampling{Ratio: 0, Sampler: sampler}, nil
	case "traceidratio", "parentbased_traceidratio":
		ratio := 1.0
		if arg != "" {
			var err error
			ratio, err = strconv.ParseFloat(arg, 64)
			if err != nil || !(ratio >= 0 && ratio <= 1) { // NaN fails both comparisons
				return Sampling{}, fmt.Errorf("invalid OTEL_TRACES_SAMPLER_ARG %q: want a ratio in [0, 1]", arg)
			}
		}
		return Sampling{Ratio: ratio, Sampler: sampler}, nil
	}
	return Sampling{}, fmt.Errorf("invalid OTEL_TRACES_SAMPLER %q: want always_on, always_off, traceidratio or their parentbased_ forms", sampler)
}

func orDefault(value, fallback string) string {
	if value == "" {
		return fallback
	}
	return value
}

// BatchSpan sizes the batch span processor: how many spans wait for
// export, how many go in one export request, how long a partial batch
// waits, and how long one export may take.
type BatchSpan struct {
	MaxQueueSize       int
	MaxExportBatchSize int
	ScheduleDelay      time.Duration
	ExportTimeout      time.Duration
}

// DefaultBatchSpan sizes the agent's batch span processor where no
// OTEL_BSP_* variable is set. The agent's processor blocks when its queue
// is full, so a slow collector backs up into the kernel ring buffer, where
// every dropped event is counted, instead of being dropped uncounted.
//
// The queue is short because the ring buffer is the cheaper place to wait:
// a queued span holds several KiB of Go heap that the garbage collector
// scans, a waiting event 1.7 KiB of kernel memory. A batch of 1024 spans,
// under 1 KiB each without long paths and at most about 2.5 KiB with two,
// stays below the 4 MiB that gRPC servers, the OpenTelemetry Collector's
// included, accept per message by default. docs/benchmark-history.md has
// the measurements behind these sizes.
var DefaultBatchSpan = BatchSpan{
	MaxQueueSize:       2048,
	MaxExportBatchSize: 1024,
	ScheduleDelay:      time.Second,
	ExportTimeout:      30 * time.Second,
}

// Options returns the processor options that apply b.
func (b BatchSpan) Options() []sdktrace.BatchSpanProcessorOption {
	return []sdktrace.BatchSpanProcessorOption{
		sdktrace.WithMaxQueueSize(b.MaxQueueSize),
		sdktrace.WithMaxExportBatchSize(b.MaxExportBatchSize),
		sdktrace.WithBatchTimeout(b.ScheduleDelay),
		sdktrace.WithExportTimeout(b.ExportTimeout),
	}
}

// Upper bounds of the OTEL_BSP_* values. The SDK allocates the whole queue
// at start, and a larger delay would overflow time.Duration.
const (
	maxBatchSpanQueue  = 1 << 20             // spans, about 1 GiB of queued spans when full
	maxBatchSpanMillis = 24 * 60 * 60 * 1000 // one day
)

// BatchSpanFromEnv returns defaults with each field replaced by its
// OTEL_BSP_* variable when that is set: OTEL_BSP_MAX_QUEUE_SIZE,
// OTEL_BSP_MAX_EXPORT_BATCH_SIZE, and OTEL_BSP_SCHEDULE_DELAY and
// OTEL_BSP_EXPORT_TIMEOUT in milliseconds. A value that is not a positive
// integer, one past the bounds above, or a batch larger than the queue is
// an error.
func BatchSpanFromEnv(defaults BatchSpan) (BatchSpan, error) {
	b := defaults
	var errs []error
	bounded := func(variable string, dst *int, most int, unit string) {
		value := strings.TrimSpace(os.Getenv(variable))
		if value == "" {
			return
		}
		n, err := strconv.Atoi(value)
		if err != nil || n <= 0 || n > most {
			errs = append(errs, fmt.Errorf("invalid %s %q: want 1 to %d %s", variable, value, most, unit))
			return
		}
		*dst = n
	}
	milliseconds := func(variable string, dst *time.Duration) {
		ms := int(*dst / time.Millisecond)
		bounded(variable, &ms, maxBatchSpanMillis, "milliseconds")
		*dst = time.Duration(ms) * time.Millisecond
	}
	bounded("OTEL_BSP_MAX_QUEUE_SIZE", &b.MaxQueueSize, maxBatchSpanQueue, "spans")
	bounded("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", &b.MaxExportBatchSize, maxBatchSpanQueue, "spans")
	milliseconds("OTEL_BSP_SCHEDULE_DELAY", &b.ScheduleDelay)
	milliseconds("OTEL_BSP_EXPORT_TIMEOUT", &b.ExportTimeout)
	if len(errs) == 0 && b.MaxExportBatchSize > b.MaxQueueSize {
		errs = append(errs, fmt.Errorf("invalid span batch size %d: it exceeds the queue size %d; lower OTEL_BSP_MAX_EXPORT_BATCH_SIZE or raise OTEL_BSP_MAX_QUEUE_SIZE", b.MaxExportBatchSize, b.MaxQueueSize))
	}
	if len(errs) > 0 {
		return defaults, errors.Join(errs...)
	}
	return b, nil
}

// CheckEnv rejects malformed values that the SDK would otherwise ignore
// with no more than a log line.
func CheckEnv() error {
	var errs []error
	for _, variable := range []string{
		"OTEL_EXPORTER_OTLP_ENDPOINT",
		"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
		"OTEL_EXPORTER_OTLP_METRICS_ENDPOINT",
	} {
		value := os.Getenv(variable)
		if value == "" {
			continue
		}
		u, err := url.Parse(value)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			errs = append(errs, fmt.Errorf("invalid %s %q: want a URL such as http://collector:4317", variable, value))
			continue
		}
		if port := u.Port(); port != "" {
			if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
				errs = append(errs, fmt.Errorf("invalid %s %q: port %s is not in 1 to 65535", variable, value, port))
			}
		}
	}
	for _, variable := range []string{"OTEL_METRIC_EXPORT_INTERVAL", "OTEL_METRIC_EXPORT_TIMEOUT"} {
		value := os.Getenv(variable)
		if value == "" {
			continue
		}
		if ms, err := strconv.Atoi(value); err != nil || ms <= 0 || ms > maxBatchSpanMillis {
			errs = append(errs, fmt.Errorf("invalid %s %q: want 1 to %d milliseconds", variable, value, maxBatchSpanMillis))
		}
	}
	for _, signal := range []string{"", "TRACES_", "METRICS_"} {
		errs = append(errs, checkExporterEnv("OTEL_EXPORTER_OTLP_"+signal)...)
	}
	if value := os.Getenv("OTEL_RESOURCE_ATTRIBUTES"); strings.TrimSpace(value) != "" {
		for _, pair := range strings.Split(value, ",") {
			key, val, found := strings.Cut(pair, "=")
			_, valErr := url.PathUnescape(strings.TrimSpace(val))
			if !found || strings.TrimSpace(key) == "" || valErr != nil {
				errs = append(errs, fmt.Errorf("invalid OTEL_RESOURCE_ATTRIBUTES entry %q: want key=value pairs separated by commas, values URL-encoded", pair))
				break
			}
		}
	}
	if value := os.Getenv("OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE"); value != "" {
		switch strings.ToLower(value) {
		case "cumulative", "delta", "lowmemory":
		default:
			errs = append(errs, fmt.Errorf("invalid OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE %q: want cumulative, delta or lowmemory", value))
		}
	}
	return errors.Join(errs...)
}

// checkExporterEnv checks the OTLP exporter variables that start with
// prefix, such as OTEL_EXPORTER_OTLP_ or OTEL_EXPORTER_OTLP_TRACES_.
func checkExporterEnv(prefix string) []error {
	var errs []error
	if value := os.Getenv(prefix + "INSECURE"); value != "" {
		if _, err := strconv.ParseBool(value); err != nil {
			errs = append(errs, fmt.Errorf("invalid %sINSECURE %q: want true or false", prefix, value))
		}
	}
	if value := os.Getenv(prefix + "COMPRESSION"); value != "" {
		if value != "gzip" && value != "none" {
			errs = append(errs, fmt.Errorf("invalid %sCOMPRESSION %q: want gzip or none", prefix, value))
		}
	}
	if value := os.Getenv(prefix + "TIMEOUT"); value != "" {
		if ms, err := strconv.Atoi(value); err != nil || ms <= 0 || ms > maxBatchSpanMillis {
			errs = append(errs, fmt.Errorf("invalid %sTIMEOUT %q: want 1 to %d milliseconds", prefix, value, maxBatchSpanMillis))
		}
	}
	for _, file := range []string{"CERTIFICATE", "CLIENT_CERTIFICATE", "CLIENT_KEY"} {
		if value := os.Getenv(prefix + file); value != "" {
			if f, err := os.Open(value); err != nil {
				errs = append(errs, fmt.Errorf("invalid %s%s: %w", prefix, file, err))
			} else {
				f.Close()
			}
		}
	}
	if value := os.Getenv(prefix + "HEADERS"); value != "" {
		for _, pair := range strings.Split(value, ",") {
			key, val, found := strings.Cut(pair, "=")
			_, keyErr := url.PathUnescape(strings.TrimSpace(key))
			_, valErr := url.PathUnescape(strings.TrimSpace(val))
			if !found || strings.TrimSpace(key) == "" || keyErr != nil || valErr != nil {
				errs = append(errs, fmt.Errorf("invalid %sHEADERS entry %q: want key=value pairs separated by commas, values URL-encoded", prefix, pair))
				break
			}
		}
	}
	return errs
}

// Resource describes the agent: service, host, OS, the attach mode in use,
// then OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES, which win.
func Resource(ctx context.Context, version string, extra ...attribute.KeyValue) (*resource.Resource, error) {
	attrs := append([]attribute.KeyValue{
		attribute.String("service.name", DefaultServiceName),
		attribute.String("service.version", version),
		// GOARCH values match the host.arch convention for amd64 and arm64.
		attribute.String("host.arch", runtime.GOARCH),
	}, extra...)
	res, err := resource.New(ctx,
		resource.WithAttributes(attrs...),
		resource.WithHost(),
		resource.WithOSType(),
		resource.WithTelemetrySDK(),
		resource.WithFromEnv(),
	)
	if err != nil {
		return nil, fmt.Errorf("building the resource: %w", err)
	}
	return res, nil
}

// SpanExporter builds the span exporter that kind names, or nil for none.
func SpanExporter(ctx context.Context, kind string) (sdktrace.SpanExporter, error) {
	switch kind {
	case ExporterOTLP:
		exp, err := otlptracegrpc.New(ctx)
		if err != nil {
			return nil, fmt.Errorf("creating the OTLP span exporter: %w", err)
		}
		return exp, nil
	case ExporterConsole:
		exp, err := stdouttrace.New(stdouttrace.WithPrettyPrint())
		if err != nil {
			return nil, fmt.Errorf("creating the console span exporter: %w", err)
		}
		return exp, nil
	}
	return nil, nil
}

// MetricExporter builds the metric exporter that kind names, or nil for none.
func MetricExporter(ctx context.Context, kind string) (sdkmetric.Exporter, error) {
	switch kind {
	case ExporterOTLP:
		exp, err := otlpmetricgrpc.New(ctx)
		if err != nil {
			return nil, fmt.Errorf("creating the OTLP metric exporter: %w", err)
		}
		return exp, nil
	case ExporterConsole:
		exp, err := stdoutmetric.New(stdoutmetric.WithPrettyPrint())
		if err != nil {
			return nil, fmt.Errorf("creating the console metric exporter: %w", err)
		}
		return exp, nil
	}
	return nil, nil
}
