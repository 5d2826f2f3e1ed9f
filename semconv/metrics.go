package semconv

import "go.opentelemetry.io/otel/attribute"

// Span names.
const (
	// SpanSendfile names the span of every sendfile call except sendfile32.
	SpanSendfile = "sendfile"
	// SpanSendfile32 names the span of the i386 call with a 4-byte offset
	// (i386 syscall 187).
	SpanSendfile32 = "sendfile32"
)

// Metric names.
const (
	// MetricIO is the bytes copied by successful calls, per user. Unit: UnitBytes.
	MetricIO = "sendfile.io"
	// MetricCalls is the number of calls, per user and errno. Unit: UnitCalls.
	MetricCalls = "sendfile.calls"
	// MetricDuration is the time from enter to exit of each traced call, per
	// user. Unit: UnitSeconds.
	MetricDuration = "sendfile.duration"
	// MetricEventsLost is the number of calls the agent could not trace or
	// count, per ReasonKey. Unit: UnitEvents.
	MetricEventsLost = "sendfile_otel.events.lost"
	// MetricEventsExported is the number of spans the exporter accepted.
	// Unit: UnitEvents.
	MetricEventsExported = "sendfile_otel.events.exported"
)

// Metric units in UCUM notation.
const (
	// UnitBytes is the unit of MetricIO.
	UnitBytes = "By"
	// UnitCalls is the unit of MetricCalls.
	UnitCalls = "{call}"
	// UnitSeconds is the unit of MetricDuration.
	UnitSeconds = "s"
	// UnitEvents is the unit of MetricEventsLost and MetricEventsExported.
	UnitEvents = "{event}"
)

// Attributes of MetricEventsLost.
const (
	// ReasonKey is the "reason" key of MetricEventsLost: why the events were
	// lost, one of the Reason constants.
	//
	// Type: string
	ReasonKey = attribute.Key("reason")
)

// Reason returns a "reason" attribute.
func Reason(val string) attribute.KeyValue { return ReasonKey.String(val) }

// Values of ReasonKey.
const (
	// ReasonRingBufferFull counts span events the kernel dropped because the
	// ring buffer was full.
	ReasonRingBufferFull = "ring_buffer_full"
	// ReasonOrphanExit counts exits with no recorded enter: calls under way
	// when the probe attached, or whose enter record was evicted.
	ReasonOrphanExit = "orphan_exit"
	// ReasonInflightFailed counts enters the kernel could not record, so
	// their calls produce no span.
	ReasonInflightFailed = "inflight_failed"
	// ReasonKprobeMissed counts calls whose return probe the kernel skipped
	// (kprobe attach mode only).
	ReasonKprobeMissed = "kprobe_missed"
	// ReasonReadError counts ring buffer records the agent could not read or
	// decode.
	ReasonReadError = "read_error"
	// ReasonExportFailed counts spans the exporter rejected or could not send.
	ReasonExportFailed = "export_failed"
	// ReasonTotalsFull counts calls missing from MetricIO and MetricCalls
	// because the kernel's per-user totals map was full. Those calls may
	// still have spans.
	ReasonTotalsFull = "totals_full"
)
