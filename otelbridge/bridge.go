//go:build linux

package otelbridge

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"

	"github.com/sendfile-otel/sendfile-otel/bpf"
	"github.com/sendfile-otel/sendfile-otel/semconv"
)

// ScopeName is the instrumentation scope of the tracer and the meter that a
// Bridge creates. Metric views can select the Bridge's instruments by it.
const ScopeName = "github.com/sendfile-otel/sendfile-otel/otelbridge"

// maxCachedEntries bounds each per-event cache (task names, per-user record
// options). A full cache is emptied and filled again.
const maxCachedEntries = 4096

// TotalsSource provides the kernel's cumulative per-user totals and loss
// counters. *bpf.Probe implements it.
type TotalsSource interface {
	// Totals appends the current totals to dst and returns it, one entry
	// per (uid, errno) pair.
	Totals(dst []bpf.UserTotal) ([]bpf.UserTotal, error)
	// Counters returns the current loss counters.
	Counters() (bpf.Counters, error)
}

var _ TotalsSource = (*bpf.Probe)(nil)

// Enricher adds attributes to the span of an event, such as container.id
// or the file and network attributes of its descriptors.
type Enricher interface {
	// Enrich appends the attributes of ev to dst and returns the result. It
	// runs on the event goroutine before the span starts, once per event,
	// so it must be fast. It must keep neither dst nor ev after returning.
	Enrich(dst []attribute.KeyValue, ev *bpf.Event) []attribute.KeyValue
}

// EnricherFunc adapts a function to the Enricher interface.
type EnricherFunc func(dst []attribute.KeyValue, ev *bpf.Event) []attribute.KeyValue

// Enrich calls f(dst, ev).
func (f EnricherFunc) Enrich(dst []attribute.KeyValue, ev *bpf.Event) []attribute.KeyValue {
	return f(dst, ev)
}

// Config configures New.
type Config struct {
	TracerProvider trace.TracerProvider // spans are created from it; nil disables spans
	MeterProvider  metric.MeterProvider // nil disables metrics
	Source         TotalsSource         // kernel totals and counters; nil: none registered
	Users          *Users               // nil: no user names
	Clock          *Clock               // nil: NewClock(time.Second)
	Logger         *slog.Logger         // nil: slog.Default()
	Enricher       Enricher             // nil: none
}

// Bridge turns sendfile events into spans and kernel totals into metrics.
// HandleEvent must be called from one goroutine at a time. The other
// methods are safe for concurrent use.
type Bridge struct {
	tracer   trace.Tracer // nil when spans are disabled
	clock    *Clock
	users    *Users
	logger   *slog.Logger
	enricher Enricher

	// spanKindOption is built once and reused for every span.
	spanKindOption trace.SpanStartOption

	// Per-event buffers and caches, owned by the HandleEvent goroutine.
	attrs         []attribute.KeyValue
	startOptions  []trace.SpanStartOption
	endOptions    []trace.SpanEndOption
	recordOptions []metric.RecordOption
	comms         map[[16]int8]string
	userOptions   map[uint32]userOption

	duration metric.Float64Histogram // nil when metrics are disabled
	observer *observer               // nil when metrics are disabled

	spansCreated atomic.Uint64
	readErrors   atomic.Uint64
	exportFailed atomic.Uint64
	exported     atomic.Uint64
	dropping     atomic.Bool   // set by DropSpans
	dropped      atomic.Uint64 // events counted by CountDropped or after DropSpans

	// settleMu orders SettleExports against the exporter's late results.
	settleMu sync.Mutex
	settled  bool // SettleExports ran: later export results are not counted

	closeOnce sync.Once
	closeErr  error
}

// userOption is the cached measurement option of one user's attributes.
type userOption struct {
	name   string
	named  bool
	option metric.MeasurementOption
}

// New returns a Bridge that creates spans from cfg.TracerProvider and
// registers its instruments and callbacks with cfg.MeterProvider.
func New(cfg Config) (*Bridge, error) {
	if cfg.Clock == nil {
		cfg.Clock = NewClock(time.Second)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	b := &Bridge{
		clock:          cfg.Clock,
		users:          cfg.Users,
		logger:         cfg.Logger,
		enricher:       cfg.Enricher,
		spanKindOption: trace.WithSpanKind(trace.SpanKindInternal),
		attrs:          make([]attribute.KeyValue, 0, 32),
		startOptions:   make([]trace.SpanStartOption, 0, 4),
		endOptions:     make([]trace.SpanEndOption, 0, 1),
		recordOptions:  make([]metric.RecordOption, 0, 1),
		comms:          make(map[[16]int8]string),
		userOptions:    make(map[uint32]userOption),
	}
	if cfg.TracerProvider != nil {
		b.tracer = cfg.TracerProvider.Tracer(ScopeName, trace.WithSchemaURL(semconv.SchemaURL))
	}
	if cfg.MeterProvider != nil {
		if err := b.registerMetrics(cfg.MeterProvider, cfg.Source); err != nil {
			return nil, err
		}
	}
	return b, nil
}

// HandleEvent creates the span of ev and records its duration. It must not
// be called from more than one goroutine at a time.
func (b *Bridge) HandleEvent(ev *bpf.Event) {
	if b.dropping.Load() {
		b.CountDropped()
		return
	}
	var name string
	var named bool
	if b.users != nil {
		name, named = b.users.Name(ev.Uid)
	}
	if b.tracer != nil {
		b.emitSpan(ev, name, named)
	}
	if b.duration != nil {
		b.recordDuration(ev, name, named)
	}
}

func (b *Bridge) emitSpan(ev *bpf.Event, userName string, named bool) {
	b.spansCreated.Add(1)
	start, end := b.clock.wallPair(ev.EnterNs, ev.ExitNs)

	b.attrs = b.appendSpanAttributes(b.attrs[:0], ev, userName, named)
	if b.enricher != nil {
		b.attrs = b.enricher.Enrich(b.attrs, ev)
	}

	// The SDK copies the attributes into the span, so b.attrs can be
	// reused by the next event. The background context carries no parent
	// span, so every span starts a new trace. trace.WithNewRoot would do
	// the same at the cost of two allocations.
	b.startOptions = append(b.startOptions[:0],
		b.spanKindOption,
		trace.WithTimestamp(start),
		trace.WithAttributes(b.attrs...),
	)
	_, span := b.tracer.Start(context.Background(), ev.Name(), b.startOptions...)
	if ev.Result < 0 {
		span.SetStatus(codes.Error, ErrnoName(errnoOfResult(ev.Result)))
	}
	b.endOptions = append(b.endOptions[:0], trace.WithTimestamp(end))
	span.End(b.endOptions...)
}

func (b *Bridge) recordDuration(ev *bpf.Event, userName string, named bool) {
	var seconds float64
	if ev.ExitNs > ev.EnterNs {
		seconds = float64(ev.ExitNs-ev.EnterNs) / float64(time.Second)
	}
	b.recordOptions = append(b.recordOptions[:0], b.userOption(ev.Uid, userName, named))
	b.duration.Record(context.Background(), seconds, b.recordOptions...)
}

// userOption returns the measurement option carrying the user attributes
// of uid, built once per user and rebuilt when the user's name changes.
func (b *Bridge) userOption(uid uint32, name string, named bool) metric.MeasurementOption {
	if cached, ok := b.userOptions[uid]; ok && cached.named == named && cached.name == name {
		return cached.option
	}
	if len(b.userOptions) >= maxCachedEntries {
		clear(b.userOptions)
	}
	option := metric.WithAttributeSet(userAttributeSet(uid, name, named, 0))
	b.userOptions[uid] = userOption{name: name, named: named, option: option}
	return option
}

// DropSpans makes HandleEvent count every later event with CountDropped
// instead of creating its span. It is for a shutdown that has no time left
// to export more spans. HandleEvent may then run beside CountDropped.
func (b *Bridge) DropSpans() { b.dropping.Store(true) }

// CountDropped counts one event that will never become a span, reported as
// lost with reason export_failed. It is safe for concurrent use.
func (b *Bridge) CountDropped() {
	b.dropped.Add(1)
	b.exportFailed.Add(1)
}

// CountReadError counts one ring buffer record that could not be read or
// decoded, reported as lost with reason read_error.
func (b *Bridge) CountReadError() { b.readErrors.Add(1) }

// CountExportFailed counts n spans the exporter failed to export, reported
// as lost with reason export_failed. Values of n below 1 are ignored, and
// so is every call after SettleExports.
func (b *Bridge) CountExportFailed(n int) {
	b.settleMu.Lock()
	defer b.settleMu.Unlock()
	if n > 0 && !b.settled {
		b.exportFailed.Add(uint64(n))
	}
}

// countExported counts n spans exported successfully, unless
// SettleExports already counted them as failed.
func (b *Bridge) countExported(n int) {
	b.settleMu.Lock()
	defer b.settleMu.Unlock()
	if n > 0 && !b.settled {
		b.exported.Add(uint64(n))
	}
}

// SettleExports counts every span created but neither exported nor
// failed yet as failed, and returns how many that was. It is for the end
// of a shutdown whose span flush ran out of time: an export still under way
// then reports nothing, so that no span is counted twice.
func (b *Bridge) SettleExports() int64 {
	b.settleMu.Lock()
	defer b.settleMu.Unlock()
	b.settled = true
	spanFailures := int64(b.exportFailed.Load()) - int64(b.dropped.Load())
	left := int64(b.spansCreated.Load()) - int64(b.exported.Load()) - spanFailures
	if left <= 0 {
		return 0
	}
	b.exportFailed.Add(uint64(left))
	return left
}

// Stats are the bridge's own counts since New.
type Stats struct {
	SpansCreated  uint64 // spans handed to the SDK
	SpansExported uint64 // spans the exporter accepted
	ExportFailed  uint64 // spans and dropped events counted as lost with reason export_failed
	ReadErrors    uint64 // records counted as lost with reason read_error
	Dropped       uint64 // events counted by CountDropped, included in ExportFailed
}

// Stats returns the bridge's own counts.
func (b *Bridge) Stats() Stats {
	return Stats{
		SpansCreated:  b.spansCreated.Load(),
		SpansExported: b.exported.Load(),
		ExportFailed:  b.exportFailed.Load(),
		ReadErrors:    b.readErrors.Load(),
		Dropped:       b.dropped.Load(),
	}
}

// Close unregisters the metric callbacks, so the totals and counters are no
// longer reported. HandleEvent keeps working. Closing again does nothing.
func (b *Bridge) Close() error {
	b.closeOnce.Do(func() {
		if b.observer == nil || b.observer.registration == nil {
			return
		}
		if err := b.observer.registration.Unregister(); err != nil {
			b.closeErr = fmt.Errorf("unregistering the metric callbacks: %w", err)
		}
	})
	return b.closeErr
}
