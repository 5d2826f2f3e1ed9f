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
			if err != nil || ratio < 0 || ratio > 1 {
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
		}
	}
	for _, variable := range []string{"OTEL_METRIC_EXPORT_INTERVAL", "OTEL_METRIC_EXPORT_TIMEOUT"} {
		value := os.Getenv(variable)
		if value == "" {
			continue
		}
		if ms, err := strconv.Atoi(value); err != nil || ms <= 0 {
			errs = append(errs, fmt.Errorf("invalid %s %q: want a positive number of milliseconds", variable, value))
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
