//go:build linux

package otelbridge

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"

	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/sendfile-otel/sendfile-otel/bpf"
)

// Attribute sets of the metric points as attribute.Set.Encoded writes them.
const (
	aliceSet       = "process.real_user.id=1000,process.real_user.name=alice"
	aliceEAGAINSet = "error.type=EAGAIN,process.real_user.id=1000,process.real_user.name=alice"
	rootSet        = "process.real_user.id=0,process.real_user.name=root"
	nobodySet      = "process.real_user.id=2000"
	nobodyEPIPESet = "error.type=EPIPE,process.real_user.id=2000"
	nobodyRestart  = "error.type=ERESTARTSYS,process.real_user.id=2000"
)

func checkPoints(t *testing.T, metric string, got, want map[string]int64) {
	t.Helper()
	for set, w := range want {
		g, ok := got[set]
		if !ok {
			t.Errorf("%s{%s} missing, want %d", metric, set, w)
			continue
		}
		if g != w {
			t.Errorf("%s{%s} = %d, want %d", metric, set, g, w)
		}
	}
	for set, g := range got {
		if _, ok := want[set]; !ok {
			t.Errorf("unexpected point %s{%s} = %d", metric, set, g)
		}
	}
}

func TestMetricsTotalsGrowBetweenCollections(t *testing.T) {
	source := &fakeSource{}
	tb := newTestBridge(t, bridgeOptions{source: source, users: testUsers(t)})

	source.set([]bpf.UserTotal{
		{UID: 1000, Errno: 0, Calls: 10, Bytes: 655360},
		{UID: 1000, Errno: 11, Calls: 2, Bytes: 0},
		{UID: 2000, Errno: 0, Calls: 1, Bytes: 100},
	}, bpf.Counters{})
	first := tb.collect(t)
	checkPoints(t, "sendfile.calls", sumPoints(t, first["sendfile.calls"]), map[string]int64{
		aliceSet:       10,
		aliceEAGAINSet: 2,
		nobodySet:      1,
	})
	checkPoints(t, "sendfile.io", sumPoints(t, first["sendfile.io"]), map[string]int64{
		aliceSet:  655360,
		nobodySet: 100,
	})

	source.set([]bpf.UserTotal{
		{UID: 1000, Errno: 0, Calls: 15, Bytes: 983040},
		{UID: 1000, Errno: 11, Calls: 2, Bytes: 0},
		{UID: 2000, Errno: 0, Calls: 4, Bytes: 400},
		{UID: 2000, Errno: 32, Calls: 3, Bytes: 0},
		{UID: 2000, Errno: 512, Calls: 1, Bytes: 0},
		{UID: 0, Errno: 0, Calls: 1, Bytes: 1},
	}, bpf.Counters{})
	second := tb.collect(t)
	secondCalls := sumPoints(t, second["sendfile.calls"])
	secondIO := sumPoints(t, second["sendfile.io"])
	checkPoints(t, "sendfile.calls", secondCalls, map[string]int64{
		aliceSet:       15,
		aliceEAGAINSet: 2,
		nobodySet:      4,
		nobodyEPIPESet: 3,
		nobodyRestart:  1,
		rootSet:        1,
	})
	checkPoints(t, "sendfile.io", secondIO, map[string]int64{
		aliceSet:  983040,
		nobodySet: 400,
		rootSet:   1,
	})

	for name, before := range map[string]map[string]int64{
		"sendfile.calls": sumPoints(t, first["sendfile.calls"]),
		"sendfile.io":    sumPoints(t, first["sendfile.io"]),
	} {
		after := sumPoints(t, second[name])
		for set, v := range before {
			if after[set] < v {
				t.Errorf("%s{%s} went down from %d to %d", name, set, v, after[set])
			}
		}
	}

	for _, name := range []string{"sendfile.calls", "sendfile.io"} {
		if got := second[name].Unit; got != map[string]string{"sendfile.calls": "{call}", "sendfile.io": "By"}[name] {
			t.Errorf("%s unit = %q", name, got)
		}
	}
}

func TestMetricsIOSumsTheErrnosOfAUser(t *testing.T) {
	source := &fakeSource{}
	tb := newTestBridge(t, bridgeOptions{source: source})
	source.set([]bpf.UserTotal{
		{UID: 2000, Errno: 0, Calls: 3, Bytes: 300},
		{UID: 2000, Errno: 4, Calls: 1, Bytes: 20},
	}, bpf.Counters{})

	got := sumPoints(t, tb.collect(t)["sendfile.io"])
	checkPoints(t, "sendfile.io", got, map[string]int64{nobodySet: 320})
}

func TestMetricsNeverDecrease(t *testing.T) {
	source := &fakeSource{}
	tb := newTestBridge(t, bridgeOptions{source: source})
	source.set([]bpf.UserTotal{{UID: 2000, Calls: 5, Bytes: 500}},
		bpf.Counters{RingBufferFull: 7, KprobeMissed: 9})
	tb.collect(t)

	// A failed totals read, and one kretprobe that could not be queried.
	source.set(nil, bpf.Counters{RingBufferFull: 7, KprobeMissed: 4})
	source.fail(errors.New("map iteration aborted"), nil)
	failed := tb.collect(t)
	checkPoints(t, "sendfile.calls", sumPoints(t, failed["sendfile.calls"]), map[string]int64{nobodySet: 5})
	checkPoints(t, "sendfile.io", sumPoints(t, failed["sendfile.io"]), map[string]int64{nobodySet: 500})
	lost := sumPoints(t, failed["sendfile_otel.events.lost"])
	if got := lost["reason=kprobe_missed"]; got != 9 {
		t.Errorf("kprobe_missed = %d after a lower read, want it held at 9", got)
	}
	if n := tb.logs.count("reading the per-user totals failed"); n != 1 {
		t.Errorf("%d logs of the failed read, want 1:\n%s", n, tb.logs)
	}

	// Failing counters keep their values; the next failure is not logged
	// again within a minute.
	source.fail(errors.New("map iteration aborted"), errors.New("lookup: bad file descriptor"))
	tb.collect(t)
	again := tb.collect(t)
	lost = sumPoints(t, again["sendfile_otel.events.lost"])
	if got := lost["reason=ring_buffer_full"]; got != 7 {
		t.Errorf("ring_buffer_full = %d after failed reads, want 7", got)
	}
	if n := tb.logs.count("reading the per-user totals failed"); n != 1 {
		t.Errorf("%d logs of the repeated failure, want 1 per minute", n)
	}
	if n := tb.logs.count("reading the kernel loss counters failed"); n != 1 {
		t.Errorf("%d logs of the failed counters, want 1", n)
	}

	source.fail(nil, nil)
	source.set([]bpf.UserTotal{{UID: 2000, Calls: 6, Bytes: 600}}, bpf.Counters{RingBufferFull: 8, KprobeMissed: 10})
	recovered := tb.collect(t)
	checkPoints(t, "sendfile.calls", sumPoints(t, recovered["sendfile.calls"]), map[string]int64{nobodySet: 6})
	lost = sumPoints(t, recovered["sendfile_otel.events.lost"])
	if lost["reason=ring_buffer_full"] != 8 || lost["reason=kprobe_missed"] != 10 {
		t.Errorf("lost after recovery = %v, want ring_buffer_full 8 and kprobe_missed 10", lost)
	}
}

func TestMetricsDuplicatePairKeepsLargest(t *testing.T) {
	source := &fakeSource{}
	tb := newTestBridge(t, bridgeOptions{source: source})
	// A map iteration that restarted returns a pair twice.
	source.set([]bpf.UserTotal{
		{UID: 2000, Calls: 5, Bytes: 500},
		{UID: 2000, Calls: 6, Bytes: 600},
	}, bpf.Counters{})

	got := tb.collect(t)
	checkPoints(t, "sendfile.calls", sumPoints(t, got["sendfile.calls"]), map[string]int64{nobodySet: 6})
	checkPoints(t, "sendfile.io", sumPoints(t, got["sendfile.io"]), map[string]int64{nobodySet: 600})
}

func TestMetricsLostPerReason(t *testing.T) {
	source := &fakeSource{}
	tb := newTestBridge(t, bridgeOptions{source: source})
	source.set(nil, bpf.Counters{
		RingBufferFull: 1,
		OrphanExits:    2,
		TotalsFull:     3,
		InflightFailed: 4,
		SpansOffered:   1000,
		KprobeMissed:   5,
	})
	tb.CountReadError()
	tb.CountReadError()
	tb.CountExportFailed(6)
	tb.CountExportFailed(0)
	tb.CountExportFailed(-4)

	metrics := tb.collect(t)
	lost := metrics["sendfile_otel.events.lost"]
	if lost.Unit != "{event}" {
		t.Errorf("unit = %q, want {event}", lost.Unit)
	}
	checkPoints(t, "sendfile_otel.events.lost", sumPoints(t, lost), map[string]int64{
		"reason=ring_buffer_full": 1,
		"reason=orphan_exit":      2,
		"reason=totals_full":      3,
		"reason=inflight_failed":  4,
		"reason=kprobe_missed":    5,
		"reason=read_error":       2,
		"reason=export_failed":    6,
	})
}

func TestMetricsWithoutSource(t *testing.T) {
	tb := newTestBridge(t, bridgeOptions{})
	tb.CountReadError()

	metrics := tb.collect(t)
	for _, name := range []string{"sendfile.io", "sendfile.calls"} {
		if _, ok := metrics[name]; ok {
			t.Errorf("%s reported without a TotalsSource", name)
		}
	}
	checkPoints(t, "sendfile_otel.events.lost", sumPoints(t, metrics["sendfile_otel.events.lost"]), map[string]int64{
		"reason=read_error":    1,
		"reason=export_failed": 0,
	})
	checkPoints(t, "sendfile_otel.events.exported", sumPoints(t, metrics["sendfile_otel.events.exported"]), map[string]int64{
		"": 0,
	})
}

func TestMetricsUserNameChange(t *testing.T) {
	source := &fakeSource{}
	users := testUsers(t)
	tb := newTestBridge(t, bridgeOptions{source: source, users: users})
	source.set([]bpf.UserTotal{{UID: 1000, Calls: 1, Bytes: 10}}, bpf.Counters{})
	tb.collect(t)

	users.mu.Lock()
	users.names = map[uint32]string{1000: "alicia"}
	users.checkedAt = users.now() // no file check during the test
	users.mu.Unlock()

	got := sumPoints(t, tb.collect(t)["sendfile.calls"])
	checkPoints(t, "sendfile.calls", got, map[string]int64{
		"process.real_user.id=1000,process.real_user.name=alicia": 1,
	})
}

func TestDurationHistogram(t *testing.T) {
	tb := newTestBridge(t, bridgeOptions{users: testUsers(t)})
	durations := []struct {
		uid uint32
		ns  uint64
	}{
		{1000, 500},           // 0.5 µs, first bucket
		{1000, 3_000},         // 3 µs, (2.5 µs, 5 µs]
		{1000, 3_000_000_000}, // 3 s, (2.5 s, 5 s]
		{1000, 60_000_000_000},
		{2000, 1_000_000}, // 1 ms, (0.5 ms, 1 ms]
	}
	for _, d := range durations {
		ev := nativeEvent()
		ev.Uid = d.uid
		ev.ExitNs = ev.EnterNs + d.ns
		tb.HandleEvent(&ev)
	}
	// An exit before the enter is recorded as 0 s.
	ev := nativeEvent()
	ev.Uid = 2000
	ev.ExitNs = ev.EnterNs - 1
	tb.HandleEvent(&ev)

	m := tb.collect(t)["sendfile.duration"]
	if m.Unit != "s" {
		t.Errorf("unit = %q, want s", m.Unit)
	}
	hist, ok := m.Data.(metricdata.Histogram[float64])
	if !ok {
		t.Fatalf("data = %T, want metricdata.Histogram[float64]", m.Data)
	}
	wantBounds := []float64{
		0.000001, 0.0000025, 0.000005, 0.00001, 0.000025, 0.00005,
		0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005,
		0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
	}
	type wantPoint struct {
		count   uint64
		sum     float64
		buckets map[int]uint64 // index in BucketCounts -> count; others 0
	}
	want := map[string]wantPoint{
		aliceSet:  {count: 4, sum: 0.0000005 + 0.000003 + 3 + 60, buckets: map[int]uint64{0: 1, 2: 1, 20: 1, 22: 1}},
		nobodySet: {count: 2, sum: 0.001, buckets: map[int]uint64{0: 1, 9: 1}},
	}
	if len(hist.DataPoints) != len(want) {
		t.Errorf("got %d data points, want %d", len(hist.DataPoints), len(want))
	}
	for _, dp := range hist.DataPoints {
		set := dp.Attributes.Encoded(attribute.DefaultEncoder())
		w, ok := want[set]
		if !ok {
			t.Errorf("unexpected data point {%s}", set)
			continue
		}
		if !slices.Equal(dp.Bounds, wantBounds) {
			t.Errorf("{%s} bounds = %v, want %v", set, dp.Bounds, wantBounds)
		}
		if dp.Count != w.count {
			t.Errorf("{%s} count = %d, want %d", set, dp.Count, w.count)
		}
		if diff := dp.Sum - w.sum; diff > 1e-9 || diff < -1e-9 {
			t.Errorf("{%s} sum = %v, want %v", set, dp.Sum, w.sum)
		}
		for i, got := range dp.BucketCounts {
			if got != w.buckets[i] {
				t.Errorf("{%s} bucket %d = %d, want %d", set, i, got, w.buckets[i])
			}
		}
	}
	if got := DurationBoundaries(); !slices.Equal(got, wantBounds) {
		t.Errorf("DurationBoundaries() = %v, want %v", got, wantBounds)
	}
}

func TestCloseUnregistersCallbacks(t *testing.T) {
	source := &fakeSource{}
	source.set([]bpf.UserTotal{{UID: 2000, Calls: 1, Bytes: 1}}, bpf.Counters{})
	tb := newTestBridge(t, bridgeOptions{source: source})
	if _, ok := tb.collect(t)["sendfile.calls"]; !ok {
		t.Fatal("sendfile.calls missing before Close")
	}

	if err := tb.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := tb.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	after := tb.collect(t)
	for _, name := range []string{"sendfile.io", "sendfile.calls", "sendfile_otel.events.lost", "sendfile_otel.events.exported"} {
		if _, ok := after[name]; ok {
			t.Errorf("%s still reported after Close", name)
		}
	}
}

func TestCountingExporter(t *testing.T) {
	spans := tracetest.SpanStubs{{Name: "a"}, {Name: "b"}, {Name: "c"}}.Snapshots()

	tests := []struct {
		name         string
		err          error
		wantExported int64
		wantFailed   int64
	}{
		{"succeeding exporter", nil, 3, 0},
		{"failing exporter", errExport, 0, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tb := newTestBridge(t, bridgeOptions{})
			next := &fakeExporter{err: tt.err}
			exporter := CountingExporter(next, tb.Bridge)

			err := exporter.ExportSpans(context.Background(), spans)
			if !errors.Is(err, tt.err) {
				t.Errorf("ExportSpans error = %v, want %v", err, tt.err)
			}
			metrics := tb.collect(t)
			exported := sumPoints(t, metrics["sendfile_otel.events.exported"])
			if exported[""] != tt.wantExported {
				t.Errorf("exported = %d, want %d", exported[""], tt.wantExported)
			}
			lost := sumPoints(t, metrics["sendfile_otel.events.lost"])
			if lost["reason=export_failed"] != tt.wantFailed {
				t.Errorf("export_failed = %d, want %d", lost["reason=export_failed"], tt.wantFailed)
			}

			if err := exporter.Shutdown(context.Background()); err != nil {
				t.Errorf("Shutdown: %v", err)
			}
			if !next.shutdown {
				t.Error("Shutdown did not reach the wrapped exporter")
			}
		})
	}
}

func TestCountingExporterOnProvider(t *testing.T) {
	// Wire the exporter as the CountingExporter documentation shows: the
	// span processor is registered after New.
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	tp := sdktrace.NewTracerProvider()
	t.Cleanup(func() {
		_ = tp.Shutdown(context.Background())
		_ = mp.Shutdown(context.Background())
	})
	b, err := New(Config{TracerProvider: tp, MeterProvider: mp, Clock: fixedClock()})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	next := &fakeExporter{}
	tp.RegisterSpanProcessor(sdktrace.NewSimpleSpanProcessor(CountingExporter(next, b)))

	ev := nativeEvent()
	b.HandleEvent(&ev)
	b.HandleEvent(&ev)

	tb := &testBridge{Bridge: b, reader: reader}
	exported := sumPoints(t, tb.collect(t)["sendfile_otel.events.exported"])
	if exported[""] != 2 {
		t.Errorf("exported = %d, want 2", exported[""])
	}
	if next.exported != 2 {
		t.Errorf("the wrapped exporter got %d spans, want 2", next.exported)
	}
}

func TestConcurrentUse(t *testing.T) {
	source := &fakeSource{}
	tb := newTestBridge(t, bridgeOptions{source: source, users: testUsers(t)})
	var wg sync.WaitGroup
	wg.Go(func() {
		for i := range 200 {
			ev := nativeEvent()
			ev.Uid = uint32(i % 3)
			tb.HandleEvent(&ev)
		}
	})
	wg.Go(func() {
		for i := range 200 {
			tb.CountReadError()
			tb.CountExportFailed(1)
			source.set([]bpf.UserTotal{{UID: 1000, Calls: uint64(i), Bytes: uint64(i)}}, bpf.Counters{})
		}
	})
	wg.Go(func() {
		for range 20 {
			tb.collect(t)
		}
	})
	wg.Wait()

	lost := sumPoints(t, tb.collect(t)["sendfile_otel.events.lost"])
	if lost["reason=read_error"] != 200 || lost["reason=export_failed"] != 200 {
		t.Errorf("read_error %d, export_failed %d; want 200 each", lost["reason=read_error"], lost["reason=export_failed"])
	}
}
