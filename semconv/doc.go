// Package semconv defines the telemetry contract of sendfile-otel: every
// attribute key the agent emits with a constructor for it, the metric names
// and units, the span names and the reasons of the lost-events metric.
//
// Keys that an OpenTelemetry semantic convention already defines are
// re-exported from go.opentelemetry.io/otel/semconv/v1.43.0 under the same
// names, so the rest of the agent imports this package alone. Project keys
// carry the "sendfile." prefix.
package semconv
