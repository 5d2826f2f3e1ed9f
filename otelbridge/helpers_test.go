//go:build linux

package otelbridge

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/sendfile-otel/sendfile-otel/bpf"
)

// Fixed time sources of the test bridges: the boot clock always reads
// testBootNs and the wall clock testWall, so every span time is
// testWall + (boot - testBootNs).
const testBootNs uint64 = 5_000_000_000_000 // 5000 s after boot

var testWall = time.Date(2025, 3, 14, 15, 9, 26, 535897932, time.UTC)

// expectedWall converts a boot time the way the contract states, by plain
// nanosecond arithmetic on the fixed sources.
func expectedWall(bootNs uint64) time.Time {
	return time.Unix(0, testWall.UnixNano()+int64(bootNs)-int64(testBootNs)).UTC()
}

func fixedClock() *Clock {
	return newClockWithSources(time.Hour,
		func() (uint64, error) { return testBootNs, nil },
		func() time.Time { return testWall })
}

// testBridge is a Bridge wired to in-memory span and metric readers.
type testBridge struct {
	*Bridge
	spans  *tracetest.InMemoryExporter
	reader *sdkmetric.ManualReader
	logs   *logBuffer
}

type bridgeOptions struct {
	source   TotalsSource
	users    *Users
	enricher Enricher
	noSpans  bool
	noMetric bool
}

func newTestBridge(t testing.TB, opts bridgeOptions) *testBridge {
	t.Helper()
	tb := &testBridge{
		spans:  tracetest.NewInMemoryExporter(),
		reader: sdkmetric.NewManualReader(),
		logs:   &logBuffer{},
	}
	cfg := Config{
		Source:   opts.source,
		Users:    opts.users,
		Clock:    fixedClock(),
		Logger:   tb.logs.logger(),
		Enricher: opts.enricher,
	}
	if !opts.noSpans {
		tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(tb.spans))
		t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
		cfg.TracerProvider = tp
	}
	if !opts.noMetric {
		mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(tb.reader))
		t.Cleanup(func() { _ = mp.Shutdown(context.Background()) })
		cfg.MeterProvider = mp
	}
	b, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { _ = b.Close() })
	tb.Bridge = b
	return tb
}

// collect returns the metrics of one collection by name.
func (tb *testBridge) collect(t testing.TB) map[string]metricdata.Metrics {
	t.Helper()
	var rm metricdata.ResourceMetrics
	if err := tb.reader.Collect(context.Background(), &rm); err != nil {
		t.Fatalf("Collect: %v", err)
	}
	byName := make(map[string]metricdata.Metrics)
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			byName[m.Name] = m
		}
	}
	return byName
}

// sumPoints returns the data points of a cumulative monotonic int64 sum,
// keyed by the attribute set in "key=value,key=value" form.
func sumPoints(t testing.TB, m metricdata.Metrics) map[string]int64 {
	t.Helper()
	sum, ok := m.Data.(metricdata.Sum[int64])
	if !ok {
		t.Fatalf("metric %s has data %T, want metricdata.Sum[int64]", m.Name, m.Data)
	}
	if !sum.IsMonotonic {
		t.Errorf("metric %s is not monotonic", m.Name)
	}
	if sum.Temporality != metricdata.CumulativeTemporality {
		t.Errorf("metric %s has temporality %v, want cumulative", m.Name, sum.Temporality)
	}
	points := make(map[string]int64)
	for _, dp := range sum.DataPoints {
		points[dp.Attributes.Encoded(attribute.DefaultEncoder())] = dp.Value
	}
	return points
}

// spanAttributes returns the attributes of a span by key.
func spanAttributes(span sdktrace.ReadOnlySpan) map[attribute.Key]attribute.Value {
	attrs := make(map[attribute.Key]attribute.Value)
	for _, kv := range span.Attributes() {
		attrs[kv.Key] = kv.Value
	}
	return attrs
}

// commOf returns s as a bpf.Event task name.
func commOf(s string) [16]int8 {
	var comm [16]int8
	for i := 0; i < len(s) && i < 15; i++ {
		comm[i] = int8(s[i])
	}
	return comm
}

// fakeSource is a TotalsSource whose values the test sets between
// collections.
type fakeSource struct {
	mu          sync.Mutex
	totals      []bpf.UserTotal
	counters    bpf.Counters
	totalsErr   error
	countersErr error
}

func (s *fakeSource) Totals(dst []bpf.UserTotal) ([]bpf.UserTotal, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.totalsErr != nil {
		return dst, s.totalsErr
	}
	return append(dst, s.totals...), nil
}

func (s *fakeSource) Counters() (bpf.Counters, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.counters, s.countersErr
}

func (s *fakeSource) set(totals []bpf.UserTotal, counters bpf.Counters) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.totals = totals
	s.counters = counters
}

func (s *fakeSource) fail(totalsErr, countersErr error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.totalsErr = totalsErr
	s.countersErr = countersErr
}

// fakeExporter records the spans it is given and returns err.
type fakeExporter struct {
	err      error
	exported int
	shutdown bool
}

func (e *fakeExporter) ExportSpans(_ context.Context, spans []sdktrace.ReadOnlySpan) error {
	if e.err != nil {
		return e.err
	}
	e.exported += len(spans)
	return nil
}

func (e *fakeExporter) Shutdown(context.Context) error {
	e.shutdown = true
	return nil
}

var errExport = errors.New("collector unreachable")

// logBuffer collects log records as text for the tests to inspect.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logBuffer) logger() *slog.Logger {
	return slog.New(slog.NewTextHandler(l, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// count returns how many records contain substr.
func (l *logBuffer) count(substr string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for line := range strings.Lines(l.buf.String()) {
		if strings.Contains(line, substr) {
			n++
		}
	}
	return n
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}
