//go:build linux

package otelbridge

import (
	"context"
	"testing"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
)

// BenchmarkHandleEvent measures one span and one duration sample with an
// SDK provider whose exporter discards the spans synchronously.
func BenchmarkHandleEvent(b *testing.B) {
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(tracetest.NewNoopExporter()))
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewManualReader()))
	b.Cleanup(func() {
		_ = tp.Shutdown(context.Background())
		_ = mp.Shutdown(context.Background())
	})
	bridge, err := New(Config{
		TracerProvider: tp,
		MeterProvider:  mp,
		Source:         &fakeSource{},
		Users:          testUsers(b),
		Clock:          fixedClock(),
	})
	if err != nil {
		b.Fatalf("New: %v", err)
	}
	ev := nativeEvent()
	bridge.HandleEvent(&ev) // fills the caches

	b.ReportAllocs()
	for b.Loop() {
		bridge.HandleEvent(&ev)
	}
}

func TestHandleEventWithoutSpansAllocatesNothing(t *testing.T) {
	tb := newTestBridge(t, bridgeOptions{noSpans: true, users: testUsers(t)})
	ev := nativeEvent()
	tb.HandleEvent(&ev) // fills the caches

	allocs := testing.AllocsPerRun(100, func() { tb.HandleEvent(&ev) })
	if allocs != 0 {
		t.Errorf("HandleEvent without spans allocated %v times per event, want 0", allocs)
	}
}

func TestAppendSpanAttributesAllocatesNothing(t *testing.T) {
	tb := newTestBridge(t, bridgeOptions{})
	ev := nativeEvent()
	ev.Result = -11
	tb.attrs = tb.appendSpanAttributes(tb.attrs[:0], &ev, "alice", true)

	allocs := testing.AllocsPerRun(100, func() {
		tb.attrs = tb.appendSpanAttributes(tb.attrs[:0], &ev, "alice", true)
	})
	if allocs != 0 {
		t.Errorf("appendSpanAttributes allocated %v times per event, want 0", allocs)
	}
}
