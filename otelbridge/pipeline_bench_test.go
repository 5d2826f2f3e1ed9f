//go:build linux

package otelbridge

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"golang.org/x/sys/unix"
	"google.golang.org/grpc"

	"github.com/sendfile-otel/sendfile-otel/bpf"
	"github.com/sendfile-otel/sendfile-otel/internal/telemetry"
)

// rawFrame is a gRPC message kept as its wire bytes.
type rawFrame []byte

// rawCodec passes messages through undecoded, so that the receiver below
// costs the benchmark no protobuf decoding.
type rawCodec struct{}

func (rawCodec) Marshal(v any) ([]byte, error) { return *v.(*rawFrame), nil }

func (rawCodec) Unmarshal(data []byte, v any) error {
	*v.(*rawFrame) = append((*v.(*rawFrame))[:0], data...)
	return nil
}

func (rawCodec) Name() string { return "proto" }

// startTraceReceiver serves OTLP trace exports on a loopback port, replies to
// each with an empty response (a valid ExportTraceServiceResponse) and
// returns a counter of the request bytes it received.
func startTraceReceiver(b *testing.B) (*atomic.Int64, string) {
	b.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Skipf("cannot listen on loopback: %v", err)
	}
	var received atomic.Int64
	server := grpc.NewServer(
		grpc.ForceServerCodec(rawCodec{}),
		grpc.UnknownServiceHandler(func(_ any, stream grpc.ServerStream) error {
			var req rawFrame
			if err := stream.RecvMsg(&req); err != nil {
				return err
			}
			received.Add(int64(len(req)))
			return stream.SendMsg(&rawFrame{})
		}),
	)
	go server.Serve(ln)
	b.Cleanup(server.Stop)
	return &received, ln.Addr().String()
}

// enrichedSocketEvent is an nginx-like event: a file sent to a TCP peer,
// with the enrichment the kernel adds.
func enrichedSocketEvent() bpf.Event {
	ev := nativeEvent()
	ev.Enrich.Enriched = 1
	ev.Enrich.InIno = 1234
	ev.Enrich.InDev = 8<<20 | 1
	ev.Enrich.InPath, ev.Enrich.InPathLen = pathBuffer("srv", "www", "media", "2026", "big.bin")
	ev.Enrich.InPathFlags = bpf.PathPresent
	ev.Enrich.OutKind = bpf.OutKindSocket
	ev.Enrich.Family = 2 // AF_INET
	ev.Enrich.Protocol = 6
	ev.Enrich.LocalPort = 443
	ev.Enrich.PeerPort = 51234
	copy(ev.Enrich.LocalAddr[:], []byte{192, 0, 2, 1})
	copy(ev.Enrich.PeerAddr[:], []byte{203, 0, 113, 5})
	for i, c := range []byte("nginx") {
		ev.Enrich.ExeName[i] = int8(c)
	}
	return ev
}

// processUsage returns the CPU time this process has used, user and
// system, and its peak resident set size in bytes.
func processUsage(b *testing.B) (time.Duration, int64) {
	var usage unix.Rusage
	if err := unix.Getrusage(unix.RUSAGE_SELF, &usage); err != nil {
		b.Fatalf("getrusage failed: %v", err)
	}
	return time.Duration(usage.Utime.Nano() + usage.Stime.Nano()), usage.Maxrss << 10
}

// BenchmarkSpanPipeline measures the agent's user-space cost per span:
// HandleEvent with enrichment, the agent's batch span processor (sized by
// the OTEL_BSP_* variables, as in the agent) and
// the OTLP gRPC exporter sending to a receiver on loopback. Each iteration
// is one span. cpu-ns/span is the CPU time of the whole process per span,
// final flush included: that is what the agent pays per span. It includes
// the receiver too, which only copies the request bytes. peak-RSS-MiB is
// the process's peak, which a longer -benchtime makes more reliable.
func BenchmarkSpanPipeline(b *testing.B) {
	received, endpoint := startTraceReceiver(b)
	ctx := context.Background()
	exporter, err := otlptracegrpc.New(ctx, otlptracegrpc.WithEndpoint(endpoint), otlptracegrpc.WithInsecure())
	if err != nil {
		b.Fatalf("otlptracegrpc.New: %v", err)
	}
	// A /proc with the event's process in it, so that the executable path
	// is read once and then cached, as for a live process.
	procRoot := b.TempDir()
	ev := enrichedSocketEvent()
	if err := os.MkdirAll(filepath.Join(procRoot, strconv.Itoa(int(ev.Tgid))), 0o755); err != nil {
		b.Fatal(err)
	}
	if err := os.Symlink("/usr/sbin/nginx", filepath.Join(procRoot, strconv.Itoa(int(ev.Tgid)), "exe")); err != nil {
		b.Fatal(err)
	}
	tp := sdktrace.NewTracerProvider()
	bridge, err := New(Config{
		TracerProvider: tp,
		Users:          testUsers(b),
		Clock:          fixedClock(),
		Enricher:       newKernelEnricher(procRoot, true, nil),
	})
	if err != nil {
		b.Fatalf("New: %v", err)
	}
	batch, err := telemetry.BatchSpanFromEnv(telemetry.DefaultBatchSpan)
	if err != nil {
		b.Fatal(err)
	}
	tp.RegisterSpanProcessor(sdktrace.NewBatchSpanProcessor(CountingExporter(exporter, bridge),
		append(batch.Options(), sdktrace.WithBlocking())...,
	))

	b.ReportAllocs()
	cpuBefore, _ := processUsage(b)
	n := 0
	for b.Loop() {
		bridge.HandleEvent(&ev)
		n++
	}
	b.StopTimer()
	if err := tp.Shutdown(ctx); err != nil {
		b.Fatalf("flushing spans: %v", err)
	}
	cpuAfter, peakRSS := processUsage(b)
	b.ReportMetric(float64(cpuAfter-cpuBefore)/float64(n), "cpu-ns/span")
	b.ReportMetric(float64(peakRSS)/(1<<20), "peak-RSS-MiB")
	if got := bridge.Stats().SpansExported; got != uint64(n) {
		b.Fatalf("the exporter reported %d spans exported, want %d", got, n)
	}
	if received.Load() == 0 {
		b.Fatal("the receiver got no bytes")
	}
	b.ReportMetric(float64(received.Load())/float64(n), "wire-B/span")
}
