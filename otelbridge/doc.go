// Package otelbridge turns the sendfile calls that package bpf records into
// OpenTelemetry spans and metrics.
//
// A Bridge creates one root span per bpf.Event, with the kernel's enter and
// exit times converted to wall-clock time by a Clock, and records the call
// duration in the sendfile.duration histogram. At each metric collection it
// reads the kernel's per-user totals and loss counters from a TotalsSource
// and reports them as cumulative counters. Users resolves user ids to names
// from a passwd file.
//
// The number of user series is bounded by the cardinality limit of the
// caller's sdkmetric.MeterProvider (sdkmetric.WithCardinalityLimit). The
// kernel's totals map bounds the number of (uid, errno) pairs as well.
package otelbridge
