package main

import (
	"context"
	"fmt"
	"net"
	"sync"

	collmetricspb "go.opentelemetry.io/proto/otlp/collector/metrics/v1"
	colltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	"google.golang.org/grpc"
	_ "google.golang.org/grpc/encoding/gzip" // accept OTEL_EXPORTER_OTLP_COMPRESSION=gzip
)

// Attribute and metric names the receiver looks for in what the agent sends.
const (
	pidAttribute     = "process.pid"
	reasonAttribute  = "reason"
	eventsLostMetric = "sendfile_otel.events.lost"
)

// receiver is an OTLP gRPC trace and metrics receiver on loopback that
// counts the spans it is sent, per process.pid, and keeps the last value of
// the agent's lost-event counter per reason. It stores nothing else.
type receiver struct {
	colltracepb.UnimplementedTraceServiceServer

	server   *grpc.Server
	listener net.Listener

	mu       sync.Mutex
	spans    int64
	spansPid map[int64]int64
	lost     map[string]int64
}

// receiverCounts is a copy of the receiver's counters.
type receiverCounts struct {
	Spans int64
	ByPid map[int64]int64
	Lost  map[string]int64
}

// startReceiver listens on a free loopback port and serves until stop.
func startReceiver() (*receiver, error) {
	listener, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("listening on loopback for the OTLP receiver: %w", err)
	}
	r := &receiver{
		server:   grpc.NewServer(grpc.MaxRecvMsgSize(256 << 20)),
		listener: listener,
		spansPid: make(map[int64]int64),
		lost:     make(map[string]int64),
	}
	colltracepb.RegisterTraceServiceServer(r.server, r)
	collmetricspb.RegisterMetricsServiceServer(r.server, metricsService{r: r})
	go func() { _ = r.server.Serve(listener) }()
	return r, nil
}

// endpoint returns the URL to put in OTEL_EXPORTER_OTLP_ENDPOINT.
func (r *receiver) endpoint() string {
	return "http://" + r.listener.Addr().String()
}

func (r *receiver) stop() { r.server.Stop() }

// reset zeroes every counter, before a run.
func (r *receiver) reset() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.spans = 0
	clear(r.spansPid)
	clear(r.lost)
}

func (r *receiver) counts() receiverCounts {
	r.mu.Lock()
	defer r.mu.Unlock()
	c := receiverCounts{
		Spans: r.spans,
		ByPid: make(map[int64]int64, len(r.spansPid)),
		Lost:  make(map[string]int64, len(r.lost)),
	}
	for pid, n := range r.spansPid {
		c.ByPid[pid] = n
	}
	for reason, n := range r.lost {
		c.Lost[reason] = n
	}
	return c
}

func (r *receiver) spanCount() int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.spans
}

// Export counts the spans of one request. The per-pid counts are summed
// locally first so that the lock is taken once per request.
func (r *receiver) Export(_ context.Context, req *colltracepb.ExportTraceServiceRequest) (*colltracepb.ExportTraceServiceResponse, error) {
	var total int64
	byPid := make(map[int64]int64, 4)
	for _, rs := range req.GetResourceSpans() {
		for _, ss := range rs.GetScopeSpans() {
			for _, span := range ss.GetSpans() {
				total++
				if pid, ok := intAttribute(span.GetAttributes(), pidAttribute); ok {
					byPid[pid]++
				}
			}
		}
	}

	r.mu.Lock()
	r.spans += total
	for pid, n := range byPid {
		r.spansPid[pid] += n
	}
	r.mu.Unlock()
	return &colltracepb.ExportTraceServiceResponse{}, nil
}

// metricsService adapts the receiver to the metrics service, whose Export
// method has the same name as the trace service's.
type metricsService struct {
	collmetricspb.UnimplementedMetricsServiceServer
	r *receiver
}

// Export keeps the last cumulative value of the lost-event counter per reason.
func (m metricsService) Export(_ context.Context, req *collmetricspb.ExportMetricsServiceRequest) (*collmetricspb.ExportMetricsServiceResponse, error) {
	m.r.mu.Lock()
	defer m.r.mu.Unlock()
	for _, rm := range req.GetResourceMetrics() {
		for _, sm := range rm.GetScopeMetrics() {
			for _, metric := range sm.GetMetrics() {
				if metric.GetName() != eventsLostMetric {
					continue
				}
				for _, point := range metric.GetSum().GetDataPoints() {
					reason, _ := stringAttribute(point.GetAttributes(), reasonAttribute)
					m.r.lost[reason] = point.GetAsInt()
				}
			}
		}
	}
	return &collmetricspb.ExportMetricsServiceResponse{}, nil
}

func intAttribute(attrs []*commonpb.KeyValue, key string) (int64, bool) {
	for _, kv := range attrs {
		if kv.GetKey() == key {
			if v, ok := kv.GetValue().GetValue().(*commonpb.AnyValue_IntValue); ok {
				return v.IntValue, true
			}
			return 0, false
		}
	}
	return 0, false
}

func stringAttribute(attrs []*commonpb.KeyValue, key string) (string, bool) {
	for _, kv := range attrs {
		if kv.GetKey() == key {
			return kv.GetValue().GetStringValue(), true
		}
	}
	return "", false
}
