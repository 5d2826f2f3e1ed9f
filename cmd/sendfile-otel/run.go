//go:build linux

package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"runtime/debug"
	"strings"
	"syscall"
	"time"

	"github.com/go-logr/logr"
	"go.opentelemetry.io/otel"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/sendfile-otel/sendfile-otel/bpf"
	"github.com/sendfile-otel/sendfile-otel/internal/lograte"
	"github.com/sendfile-otel/sendfile-otel/internal/telemetry"
	"github.com/sendfile-otel/sendfile-otel/otelbridge"
	"github.com/sendfile-otel/sendfile-otel/semconv"
)

// defaultGCPercent is the agent's GOGC when the variable is unset. Garbage
// collection is a large share of the CPU time per span: 200 in place of
// Go's 100 cut the CPU time per span by about a tenth in
// BenchmarkSpanPipeline (otelbridge), and the short span queue keeps the
// heap small. GOMEMLIMIT still caps the heap.
const defaultGCPercent = 200

// readErrorBackoff is the pause after a ring buffer read fails.
const readErrorBackoff = 10 * time.Millisecond

// stopSignals end the agent with a flush. SIGHUP is among them because the
// agent has nothing to reload, and its default action would skip the flush.
var stopSignals = []os.Signal{syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP}

// run traces until a stop signal, then flushes within the shutdown timeout.
func run(cfg *config, logger *slog.Logger) error {
	// From the start, so that a signal during start-up stops the agent
	// cleanly once it is up, instead of killing it with programs attached.
	signals := make(chan os.Signal, 4)
	signal.Notify(signals, stopSignals...)
	defer signal.Stop(signals)
	// With the console exporters piped into a reader that exits, writes
	// fail with EPIPE and count as failed exports, instead of the signal
	// killing the agent.
	signal.Ignore(syscall.SIGPIPE)
	logger.Info("starting", "version", version)

	if err := telemetry.CheckEnv(); err != nil {
		return invalidConfig(err)
	}
	tracesKind, err := telemetry.ExporterKind("OTEL_TRACES_EXPORTER")
	if err != nil {
		return invalidConfig(err)
	}
	metricsKind, err := telemetry.ExporterKind("OTEL_METRICS_EXPORTER")
	if err != nil {
		return invalidConfig(err)
	}
	sampling, err := telemetry.SamplingFromEnv()
	if err != nil {
		return invalidConfig(err)
	}
	batch, err := telemetry.BatchSpanFromEnv(telemetry.DefaultBatchSpan)
	if err != nil {
		return invalidConfig(err)
	}
	if err := cfg.validate(); err != nil {
		return invalidConfig(err)
	}
	if _, set := os.LookupEnv("GOGC"); !set {
		debug.SetGCPercent(defaultGCPercent)
	}
	if tracesKind == telemetry.ExporterNone && cfg.spans {
		logger.Info("OTEL_TRACES_EXPORTER=none: span events are turned off in the kernel")
		cfg.spans = false
	}
	if ignored := cfg.ignoredSettings(); len(ignored) > 0 {
		logger.Warn("settings that only shape span events have no effect without them", "settings", strings.Join(ignored, ","))
	}
	if tracesKind == telemetry.ExporterNone && metricsKind == telemetry.ExporterNone {
		logger.Warn("OTEL_TRACES_EXPORTER and OTEL_METRICS_EXPORTER are both none: nothing is exported")
	}
	routeSDKLogs(logger)

	opts, err := cfg.probeOptions(sampling.Ratio, logger)
	if err != nil {
		return invalidConfig(err)
	}
	users := otelbridge.NewUsers(cfg.passwdFile, logger)
	probe, err := bpf.Open(opts)
	if err != nil {
		return fmt.Errorf("%w (run `sendfile-otel check` to see what this kernel offers)", err)
	}
	defer probe.Close()

	ctx := context.Background()
	res, err := telemetry.Resource(ctx, version, semconv.SendfileProbe(string(probe.Mode())))
	if err != nil {
		return err
	}

	var tracerProvider *sdktrace.TracerProvider
	var spanExporter sdktrace.SpanExporter
	if cfg.spans {
		if spanExporter, err = telemetry.SpanExporter(ctx, tracesKind); err != nil {
			return err
		}
		// Sampling already happened in the kernel: keep every span that arrives.
		tracerProvider = sdktrace.NewTracerProvider(
			sdktrace.WithResource(res),
			sdktrace.WithSampler(sdktrace.AlwaysSample()),
		)
	}

	var meterProvider *sdkmetric.MeterProvider
	if metricsKind != telemetry.ExporterNone {
		metricExporter, err := telemetry.MetricExporter(ctx, metricsKind)
		if err != nil {
			return err
		}
		meterProvider = sdkmetric.NewMeterProvider(
			sdkmetric.WithResource(res),
			sdkmetric.WithReader(sdkmetric.NewPeriodicReader(metricExporter)),
			sdkmetric.WithCardinalityLimit(cfg.maxUserSeries),
		)
	}

	bridgeConfig := otelbridge.Config{
		Source: probe,
		Users:  users,
		Logger: logger.With("component", "otelbridge"),
	}
	if cfg.enrich {
		bridgeConfig.Enricher = otelbridge.NewKernelEnricher(otelbridge.EnricherOptions{NoPaths: !cfg.capturePaths})
	}
	if tracerProvider != nil {
		bridgeConfig.TracerProvider = tracerProvider
	}
	if meterProvider != nil {
		bridgeConfig.MeterProvider = meterProvider
	}
	bridge, err := otelbridge.New(bridgeConfig)
	if err != nil {
		return err
	}
	defer bridge.Close()
	if tracerProvider != nil {
		tracerProvider.RegisterSpanProcessor(sdktrace.NewBatchSpanProcessor(
			otelbridge.CountingExporter(spanExporter, bridge),
			append(batch.Options(), sdktrace.WithBlocking())...,
		))
	}

	logger.Info("sendfile-otel running",
		"version", version,
		"mode", probe.Mode(),
		"compat", probe.Compat(),
		"spans", cfg.spans,
		"sampler", sampling.Sampler,
		"sample_ratio", sampling.Ratio,
		"traces_exporter", tracesKind,
		"span_queue_size", batch.MaxQueueSize,
		"span_batch_size", batch.MaxExportBatchSize,
		"metrics_exporter", metricsKind,
	)

	readerDone := make(chan struct{})
	go func() {
		defer close(readerDone)
		readEvents(probe, bridge, logger)
	}()

	sig := <-signals
	logger.Info("stopping", "signal", sig.String(), "timeout", cfg.shutdownTimeout)
	go func() {
		for sig := range signals {
			logger.Info("already stopping; the flush ends within the shutdown timeout", "signal", sig.String(), "timeout", cfg.shutdownTimeout)
		}
	}()

	shutdownCtx, cancel := context.WithTimeout(ctx, cfg.shutdownTimeout)
	defer cancel()
	return shutdown(shutdownCtx, probe, bridge, readerDone, tracerProvider, meterProvider, logger)
}

// routeSDKLogs sends what the OpenTelemetry SDK and exporters report, such
// as failed exports, to logger, so that --log-format applies to it too.
func routeSDKLogs(logger *slog.Logger) {
	sdkLogger := logger.With("component", "otel-sdk")
	limiter := &lograte.Limiter{Interval: sdkErrorInterval}
	otel.SetErrorHandler(otel.ErrorHandlerFunc(func(err error) {
		if suppressed, ok := limiter.Allow(time.Now()); ok {
			sdkLogger.Warn("OpenTelemetry SDK error", "error", shorten(err.Error(), maxSDKErrorBytes), "similar_errors_not_logged", suppressed)
		}
	}))
	// The SDK logs at logr verbosity 0 (info) and above for debugging only;
	// its errors come through the handler above.
	otel.SetLogger(logr.FromSlogHandler(sdkLogger.Handler()))
}

// sdkErrorInterval is the least time between two logged SDK errors: an
// exporter that keeps failing reports every batch, and each failed export
// is counted in sendfile_otel.events.lost anyway.
const sdkErrorInterval = 10 * time.Second

// maxSDKErrorBytes bounds a logged SDK error. The console exporter reports
// a failed write once per span of the batch.
const maxSDKErrorBytes = 1024

// shorten cuts s to at most n bytes, saying how much it left out.
func shorten(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return fmt.Sprintf("%s... (%d more bytes)", s[:n], len(s)-n)
}

// readEvents turns ring-buffer events into spans until the probe stops.
func readEvents(probe *bpf.Probe, bridge *otelbridge.Bridge, logger *slog.Logger) {
	var ev bpf.Event
	for {
		err := probe.ReadEvent(&ev)
		switch {
		case err == nil:
			bridge.HandleEvent(&ev)
		case errors.Is(err, bpf.ErrStopped), errors.Is(err, bpf.ErrClosed), errors.Is(err, bpf.ErrNoSpans):
			return
		default:
			// Transient: count it and read again after a pause, never spin.
			bridge.CountReadError()
			logger.Debug("reading an event failed", "error", err)
			time.Sleep(readErrorBackoff)
		}
	}
}

// shutdown detaches the probe, turns what is still buffered into spans and
// flushes both providers, all within ctx's deadline. Reading the buffered
// events may take a third of the time, exporting spans until two thirds
// have passed, and the last metric export the rest, so that a collector
// that never responds cannot leave the metrics no time.
func shutdown(ctx context.Context, probe *bpf.Probe, bridge *otelbridge.Bridge, readerDone <-chan struct{}, tp *sdktrace.TracerProvider, mp *sdkmetric.MeterProvider, logger *slog.Logger) error {
	readCtx, spanCtx := ctx, ctx
	if deadline, ok := ctx.Deadline(); ok {
		left := time.Until(deadline)
		var cancelRead, cancelSpans context.CancelFunc
		readCtx, cancelRead = context.WithTimeout(ctx, left/3)
		defer cancelRead()
		spanCtx, cancelSpans = context.WithTimeout(ctx, left*2/3)
		defer cancelSpans()
	}

	if err := probe.Stop(); err != nil {
		logger.Warn("detaching the programs", "error", err)
	}
	select {
	case <-readerDone:
	case <-readCtx.Done():
		// The reader is held up by a span export. The events still in the
		// ring buffer can no longer become spans in time: count them.
		bridge.DropSpans()
		if n := drainEvents(probe, bridge); n > 0 {
			logger.Warn("events still buffered at the shutdown timeout, counted as export_failed", "events", n)
		}
	}

	if tp != nil {
		if err := tp.Shutdown(spanCtx); err != nil {
			logger.Warn("flushing spans did not finish", "error", err)
		}
		// Spans still queued when the time ran out never reach the
		// exporter: count them as failed exports before the last metric export.
		if left := bridge.SettleExports(); left > 0 {
			logger.Warn("spans not exported before the shutdown timeout, counted as export_failed", "spans", left)
		}
	}
	if mp != nil {
		if err := mp.Shutdown(ctx); err != nil {
			logger.Warn("flushing metrics did not finish", "error", err)
		}
	}
	if err := probe.Close(); err != nil {
		logger.Warn("closing the probe", "error", err)
	}
	stats := bridge.Stats()
	logger.Info("stopped", "spans_created", stats.SpansCreated, "spans_exported", stats.SpansExported, "export_failed", stats.ExportFailed, "read_errors", stats.ReadErrors)
	return nil
}

// drainEvents counts the events left in the ring buffer of a stopped probe
// as dropped, and returns how many it counted. The reader goroutine may
// still read some of them: the probe hands each event to one reader only.
func drainEvents(probe *bpf.Probe, bridge *otelbridge.Bridge) int {
	var ev bpf.Event
	n := 0
	// Read errors are per record; the bound only guards against a reader
	// that fails for good.
	for failures := 0; failures < 1000; {
		err := probe.ReadEvent(&ev)
		switch {
		case err == nil:
			bridge.CountDropped()
			n++
		case errors.Is(err, bpf.ErrStopped), errors.Is(err, bpf.ErrClosed), errors.Is(err, bpf.ErrNoSpans):
			return n
		default:
			bridge.CountReadError()
			failures++
		}
	}
	return n
}
