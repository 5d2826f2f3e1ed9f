//go:build linux

package otelbridge

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"go.opentelemetry.io/otel/metric"

	"github.com/sendfile-otel/sendfile-otel/bpf"
	"github.com/sendfile-otel/sendfile-otel/internal/lograte"
	"github.com/sendfile-otel/sendfile-otel/semconv"
)

// durationBoundaries are the bucket bounds of sendfile.duration in seconds:
// 1, 2.5 and 5 times each power of ten from 1 µs to 10 s. A sendfile call
// from the page cache to a socket buffer takes microseconds, one that
// waits for a slow peer or a disk takes milliseconds to seconds.
var durationBoundaries = []float64{
	1e-6, 2.5e-6, 5e-6,
	1e-5, 2.5e-5, 5e-5,
	1e-4, 2.5e-4, 5e-4,
	1e-3, 2.5e-3, 5e-3,
	1e-2, 2.5e-2, 5e-2,
	0.1, 0.25, 0.5,
	1, 2.5, 5,
	10,
}

// DurationBoundaries returns the explicit bucket bounds, in seconds, that
// the sendfile.duration histogram requests. A metric view that sets its own
// aggregation on the instrument replaces them.
func DurationBoundaries() []float64 { return slices.Clone(durationBoundaries) }

// errorLogInterval is the minimum time between two logs of the same failing
// read in the metric callback.
const errorLogInterval = time.Minute

// observer reports the cumulative counters at each metric collection.
type observer struct {
	bridge *Bridge
	source TotalsSource // nil: only the agent's own counters
	users  *Users
	logger *slog.Logger

	io, calls, lost, exported metric.Int64ObservableCounter
	registration              metric.Registration

	reasonOptions map[string]metric.MeasurementOption

	mu sync.Mutex // guards the fields below, used by the callback
	// buffer is reused by every Totals read.
	buffer []bpf.UserTotal
	// totals and kernel hold the largest value read so far for each series,
	// so that a failed or partial read never makes a counter go down.
	totals      map[totalsKey]totalsValue
	kernel      bpf.Counters
	bytesByUser map[uint32]uint64
	callsSets   map[totalsKey]userOption
	ioSets      map[uint32]userOption
	totalsLog   errorLog
	countersLog errorLog
}

type totalsKey struct {
	uid   uint32
	errno uint32
}

type totalsValue struct {
	calls uint64
	bytes uint64
}

// registerMetrics creates the instruments and registers the callback that
// observes the counters.
func (b *Bridge) registerMetrics(provider metric.MeterProvider, source TotalsSource) error {
	meter := provider.Meter(ScopeName, metric.WithSchemaURL(semconv.SchemaURL))

	duration, err := meter.Float64Histogram(semconv.MetricDuration,
		metric.WithUnit(semconv.UnitSeconds),
		metric.WithDescription("Time from enter to exit of each traced sendfile call."),
		metric.WithExplicitBucketBoundaries(durationBoundaries...))
	if err != nil {
		return fmt.Errorf("creating the %s histogram: %w", semconv.MetricDuration, err)
	}
	b.duration = duration

	o := &observer{
		bridge:        b,
		source:        source,
		users:         b.users,
		logger:        b.logger,
		totals:        make(map[totalsKey]totalsValue),
		bytesByUser:   make(map[uint32]uint64),
		callsSets:     make(map[totalsKey]userOption),
		ioSets:        make(map[uint32]userOption),
		reasonOptions: make(map[string]metric.MeasurementOption),
		totalsLog:     errorLog{lograte.Limiter{Interval: errorLogInterval}},
		countersLog:   errorLog{lograte.Limiter{Interval: errorLogInterval}},
	}
	for _, reason := range []string{
		semconv.ReasonRingBufferFull, semconv.ReasonOrphanExit, semconv.ReasonInflightFailed,
		semconv.ReasonKprobeMissed, semconv.ReasonTotalsFull, semconv.ReasonReadError,
		semconv.ReasonExportFailed,
	} {
		o.reasonOptions[reason] = metric.WithAttributes(semconv.Reason(reason))
	}

	var instruments []metric.Observable
	if source != nil {
		if o.io, err = meter.Int64ObservableCounter(semconv.MetricIO,
			metric.WithUnit(semconv.UnitBytes),
			metric.WithDescription("Bytes copied by sendfile calls, per user.")); err != nil {
			return fmt.Errorf("creating the %s counter: %w", semconv.MetricIO, err)
		}
		if o.calls, err = meter.Int64ObservableCounter(semconv.MetricCalls,
			metric.WithUnit(semconv.UnitCalls),
			metric.WithDescription("Sendfile calls, per user and error.")); err != nil {
			return fmt.Errorf("creating the %s counter: %w", semconv.MetricCalls, err)
		}
		instruments = append(instruments, o.io, o.calls)
	}
	if o.lost, err = meter.Int64ObservableCounter(semconv.MetricEventsLost,
		metric.WithUnit(semconv.UnitEvents),
		metric.WithDescription("Sendfile calls missing from the spans or the totals, per reason.")); err != nil {
		return fmt.Errorf("creating the %s counter: %w", semconv.MetricEventsLost, err)
	}
	if o.exported, err = meter.Int64ObservableCounter(semconv.MetricEventsExported,
		metric.WithUnit(semconv.UnitEvents),
		metric.WithDescription("Spans the exporter accepted.")); err != nil {
		return fmt.Errorf("creating the %s counter: %w", semconv.MetricEventsExported, err)
	}
	instruments = append(instruments, o.lost, o.exported)

	registration, err := meter.RegisterCallback(o.observe, instruments...)
	if err != nil {
		return fmt.Errorf("registering the metric callback: %w", err)
	}
	o.registration = registration
	b.observer = o
	return nil
}

// observe is the metric callback. It reads the kernel's totals and counters
// fresh and reports every counter. A failed read is logged and its series
// keep their previous values.
func (o *observer) observe(ctx context.Context, obs metric.Observer) error {
	o.mu.Lock()
	defer o.mu.Unlock()

	if o.source != nil {
		o.readTotals()
		o.readCounters()
		o.observeTotals(obs)
		o.observeReason(obs, semconv.ReasonRingBufferFull, o.kernel.RingBufferFull)
		o.observeReason(obs, semconv.ReasonOrphanExit, o.kernel.OrphanExits)
		o.observeReason(obs, semconv.ReasonInflightFailed, o.kernel.InflightFailed)
		o.observeReason(obs, semconv.ReasonKprobeMissed, o.kernel.KprobeMissed)
		o.observeReason(obs, semconv.ReasonTotalsFull, o.kernel.TotalsFull)
	}
	o.observeReason(obs, semconv.ReasonReadError, o.bridge.readErrors.Load())
	o.observeReason(obs, semconv.ReasonExportFailed, o.bridge.exportFailed.Load())
	obs.ObserveInt64(o.exported, clampToInt64(o.bridge.exported.Load()))
	return nil
}

// readTotals merges a fresh read of the per-user totals into o.totals. The
// kernel sums only grow, so taking the maximum changes nothing on a good
// read, and it also absorbs a pair that a map iteration returned twice.
func (o *observer) readTotals() {
	var err error
	o.buffer, err = o.source.Totals(o.buffer[:0])
	if err != nil {
		// The partial result is still valid: every value in it is a
		// cumulative sum read just now.
		o.totalsLog.warn(o.logger, "reading the per-user totals failed, so sendfile.io and sendfile.calls keep their previous values", err)
	}
	for _, t := range o.buffer {
		key := totalsKey{uid: t.UID, errno: t.Errno}
		v := o.totals[key]
		v.calls = max(v.calls, t.Calls)
		v.bytes = max(v.bytes, t.Bytes)
		o.totals[key] = v
	}
}

// readCounters merges a fresh read of the kernel's loss counters into
// o.kernel by field-wise maximum. KprobeMissed can read low for a moment
// when one of the kretprobes cannot be queried.
func (o *observer) readCounters() {
	c, err := o.source.Counters()
	if err != nil {
		o.countersLog.warn(o.logger, "reading the kernel loss counters failed, so "+semconv.MetricEventsLost+" keeps its previous values", err)
		return
	}
	o.kernel.RingBufferFull = max(o.kernel.RingBufferFull, c.RingBufferFull)
	o.kernel.OrphanExits = max(o.kernel.OrphanExits, c.OrphanExits)
	o.kernel.TotalsFull = max(o.kernel.TotalsFull, c.TotalsFull)
	o.kernel.InflightFailed = max(o.kernel.InflightFailed, c.InflightFailed)
	o.kernel.SpansOffered = max(o.kernel.SpansOffered, c.SpansOffered)
	o.kernel.KprobeMissed = max(o.kernel.KprobeMissed, c.KprobeMissed)
}

// observeTotals reports sendfile.calls per (uid, errno) and sendfile.io per
// uid, summed over the uid's errnos.
func (o *observer) observeTotals(obs metric.Observer) {
	clear(o.bytesByUser)
	for key, v := range o.totals {
		name, named := o.userName(key.uid)
		obs.ObserveInt64(o.calls, clampToInt64(v.calls), o.callsOption(key, name, named))
		o.bytesByUser[key.uid] += v.bytes
	}
	for uid, bytes := range o.bytesByUser {
		name, named := o.userName(uid)
		obs.ObserveInt64(o.io, clampToInt64(bytes), o.ioOption(uid, name, named))
	}
}

func (o *observer) observeReason(obs metric.Observer, reason string, value uint64) {
	obs.ObserveInt64(o.lost, clampToInt64(value), o.reasonOptions[reason])
}

func (o *observer) userName(uid uint32) (string, bool) {
	if o.users == nil {
		return "", false
	}
	return o.users.Name(uid)
}

// callsOption returns the cached attribute option of a (uid, errno) series,
// rebuilt when the user's name changes. The cache holds one entry per pair
// in o.totals, which the kernel's totals map bounds.
func (o *observer) callsOption(key totalsKey, name string, named bool) metric.MeasurementOption {
	if cached, ok := o.callsSets[key]; ok && cached.named == named && cached.name == name {
		return cached.option
	}
	option := metric.WithAttributeSet(userAttributeSet(key.uid, name, named, key.errno))
	o.callsSets[key] = userOption{name: name, named: named, option: option}
	return option
}

// ioOption returns the cached attribute option of a uid's sendfile.io series.
func (o *observer) ioOption(uid uint32, name string, named bool) metric.MeasurementOption {
	if cached, ok := o.ioSets[uid]; ok && cached.named == named && cached.name == name {
		return cached.option
	}
	option := metric.WithAttributeSet(userAttributeSet(uid, name, named, 0))
	o.ioSets[uid] = userOption{name: name, named: named, option: option}
	return option
}

// errorLog rate-limits the Warn logs of one recurring error, counting the
// repeats it held back.
type errorLog struct {
	limiter lograte.Limiter
}

func (l *errorLog) warn(logger *slog.Logger, msg string, err error) {
	if suppressed, ok := l.limiter.Allow(time.Now()); ok {
		logger.Warn(msg, "error", err, "repeats_since_last_log", suppressed)
	}
}
