//go:build linux

package otelbridge

import (
	"context"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// countingExporter passes spans to the next exporter and counts the result
// in a Bridge.
type countingExporter struct {
	next   sdktrace.SpanExporter
	bridge *Bridge
}

var _ sdktrace.SpanExporter = (*countingExporter)(nil)

// CountingExporter wraps next so that b reports its results: the spans of a
// successful export in sendfile_otel.events.exported, those of a failed one
// in sendfile_otel.events.lost with reason export_failed.
//
// The Bridge needs the TracerProvider, and the provider's span processor
// needs this exporter, so register the processor after New:
//
//	tp := sdktrace.NewTracerProvider(sdktrace.WithResource(res))
//	b, err := otelbridge.New(otelbridge.Config{TracerProvider: tp, ...})
//	// handle err
//	tp.RegisterSpanProcessor(sdktrace.NewBatchSpanProcessor(otelbridge.CountingExporter(exp, b)))
func CountingExporter(next sdktrace.SpanExporter, b *Bridge) sdktrace.SpanExporter {
	return &countingExporter{next: next, bridge: b}
}

// ExportSpans exports spans with the next exporter and counts them.
func (e *countingExporter) ExportSpans(ctx context.Context, spans []sdktrace.ReadOnlySpan) error {
	err := e.next.ExportSpans(ctx, spans)
	if err != nil {
		e.bridge.CountExportFailed(len(spans))
		return err
	}
	e.bridge.countExported(len(spans))
	return nil
}

// Shutdown shuts the next exporter down.
func (e *countingExporter) Shutdown(ctx context.Context) error {
	return e.next.Shutdown(ctx)
}
