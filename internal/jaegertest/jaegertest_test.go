package jaegertest

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
)

const (
	testService   = "jaegertest"
	testTraceID   = "5b8efff798038103d269b633813fc60c"
	testSpanID    = "eee19b7ec3c1b174"
	testOperation = "sendfile /srv/data/big.iso"

	// testBytes is 2^53+1, the smallest positive integer that float64 cannot
	// hold, so a tag that went through float64 would read 2^53.
	testBytes = int64(9007199254740993)

	// testCounterValue is the value of the sendfile.io data point.
	testCounterValue = 123456789
)

// TestJaegerRoundTrip sends a span and a counter over OTLP/HTTP and reads
// them back through the query API and the Prometheus exporter.
func TestJaegerRoundTrip(t *testing.T) {
	jaeger := Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	// The span started 2 s ago, because the query API searches up to now,
	// and it lasts 1500 µs. Both are whole microseconds, Jaeger's unit.
	start := time.Now().Add(-2 * time.Second).Truncate(time.Microsecond)
	end := start.Add(1500 * time.Microsecond)
	postOTLP(t, jaeger.OTLPHTTPEndpoint, "/v1/traces", traceRequestJSON(start, end))
	postOTLP(t, jaeger.OTLPHTTPEndpoint, "/v1/metrics", metricRequestJSON(start, end))

	t.Run("span", func(t *testing.T) {
		spans, err := jaeger.WaitForSpans(ctx, testService, func(s Span) bool {
			return s.OperationName == testOperation
		}, 1)
		if err != nil {
			t.Fatalf("WaitForSpans: %v", err)
		}
		if len(spans) != 1 {
			t.Fatalf("got %d spans named %q, want 1", len(spans), testOperation)
		}
		span := spans[0]

		if span.TraceID != testTraceID {
			t.Errorf("TraceID = %q, want %q", span.TraceID, testTraceID)
		}
		if span.SpanID != testSpanID {
			t.Errorf("SpanID = %q, want %q", span.SpanID, testSpanID)
		}
		if span.StartTime != start.UnixMicro() {
			t.Errorf("StartTime = %d µs, want %d µs", span.StartTime, start.UnixMicro())
		}
		if span.Duration != 1500 {
			t.Errorf("Duration = %d µs, want 1500 µs", span.Duration)
		}
		if got, ok := span.Int64Tag("sendfile.bytes"); !ok || got != testBytes {
			t.Errorf("Int64Tag(sendfile.bytes) = %d, %v, want %d, true", got, ok, testBytes)
		}
		if got, ok := span.Tag("sendfile.bytes"); !ok || got != testBytes {
			t.Errorf("Tag(sendfile.bytes) = %v (%T), %v, want int64 %d", got, got, ok, testBytes)
		}
		if got, ok := span.StringTag("file.path"); !ok || got != "/srv/data/big.iso" {
			t.Errorf("StringTag(file.path) = %q, %v, want /srv/data/big.iso, true", got, ok)
		}
		if got, ok := span.Tag("sendfile.zero_copy"); !ok || got != true {
			t.Errorf("Tag(sendfile.zero_copy) = %v, %v, want true, true", got, ok)
		}
		if got, ok := span.Tag("sendfile.ratio"); !ok || got != 0.25 {
			t.Errorf("Tag(sendfile.ratio) = %v, %v, want 0.25, true", got, ok)
		}
		if got, ok := span.StringTag("span.kind"); !ok || got != "server" {
			t.Errorf("StringTag(span.kind) = %q, %v, want server, true", got, ok)
		}
		if _, ok := span.Tag("no.such.tag"); ok {
			t.Errorf("Tag(no.such.tag) found a tag")
		}
		if span.Process.ServiceName != testService {
			t.Errorf("Process.ServiceName = %q, want %q", span.Process.ServiceName, testService)
		}
		if got, ok := span.Process.Int64Tag("process.pid"); !ok || got != 4242 {
			t.Errorf("Process.Int64Tag(process.pid) = %d, %v, want 4242, true", got, ok)
		}
	})

	t.Run("services", func(t *testing.T) {
		services, err := jaeger.Services(ctx)
		if err != nil {
			t.Fatalf("Services: %v", err)
		}
		if !slices.Contains(services, testService) {
			t.Errorf("Services() = %q, want it to contain %q", services, testService)
		}
	})

	t.Run("counter", func(t *testing.T) {
		const name = "sendfile_io_bytes_total"
		var metrics map[string][]Sample
		for {
			var err error
			metrics, err = jaeger.ScrapeMetrics(ctx)
			if err != nil {
				t.Fatalf("ScrapeMetrics: %v", err)
			}
			if len(metrics[name]) > 0 || ctx.Err() != nil {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		t.Logf("sendfile metric names in %s: %q", jaeger.PrometheusURL, namesWithPrefix(metrics, "sendfile"))

		samples := metrics[name]
		if len(samples) != 1 {
			t.Fatalf("got %d samples of %s, want 1; metric names: %q", len(samples), name, namesWithPrefix(metrics, ""))
		}
		sample := samples[0]
		want := map[string]string{"sendfile_direction": "out", "service_name": testService, "job": testService}
		if !sample.HasLabels(want) {
			t.Errorf("labels = %v, want them to contain %v", sample.Labels, want)
		}
		if sample.Value != testCounterValue {
			t.Errorf("value = %v, want %d", sample.Value, testCounterValue)
		}
	})

	t.Run("loopback only", func(t *testing.T) {
		addresses, err := listeningAddresses(jaeger.Pid())
		if err != nil {
			t.Skipf("cannot list listening sockets: %v", err)
		}
		t.Logf("Jaeger listens on %q", addresses)
		if len(addresses) < 7 {
			t.Errorf("found %d listening sockets, want at least the 7 configured ones", len(addresses))
		}
		for _, address := range addresses {
			if !strings.HasPrefix(address, "127.") {
				t.Errorf("Jaeger listens on %s, want only 127.0.0.0/8", address)
			}
		}
	})
}

// postOTLP sends body as OTLP/HTTP JSON to endpoint+path and fails t unless
// the receiver accepts it all.
func postOTLP(t *testing.T, endpoint, path, body string) {
	t.Helper()
	target := "http://" + endpoint + path
	response, err := http.Post(target, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatalf("POST %s: %v", target, err)
	}
	defer response.Body.Close()
	reply, _ := io.ReadAll(response.Body)
	if response.StatusCode != http.StatusOK {
		t.Fatalf("POST %s: status %s: %s", target, response.Status, reply)
	}
	// A full success has no partialSuccess, or one with zero rejected items.
	if bytes.Contains(reply, []byte("rejected")) && !bytes.Contains(reply, []byte(`"rejectedSpans":"0"`)) {
		t.Fatalf("POST %s: partial success: %s", target, reply)
	}
}

// traceRequestJSON returns an OTLP ExportTraceServiceRequest with one
// server span. OTLP JSON writes 64-bit integers as strings.
func traceRequestJSON(start, end time.Time) string {
	return fmt.Sprintf(`{
  "resourceSpans": [{
    "resource": {"attributes": [
      {"key": "service.name", "value": {"stringValue": %q}},
      {"key": "process.pid", "value": {"intValue": "4242"}}
    ]},
    "scopeSpans": [{
      "scope": {"name": "github.com/sendfile-otel/sendfile-otel/internal/jaegertest"},
      "spans": [{
        "traceId": %q,
        "spanId": %q,
        "name": %q,
        "kind": 2,
        "startTimeUnixNano": "%d",
        "endTimeUnixNano": "%d",
        "attributes": [
          {"key": "file.path", "value": {"stringValue": "/srv/data/big.iso"}},
          {"key": "sendfile.bytes", "value": {"intValue": "%d"}},
          {"key": "sendfile.zero_copy", "value": {"boolValue": true}},
          {"key": "sendfile.ratio", "value": {"doubleValue": 0.25}}
        ]
      }]
    }]
  }]
}`, testService, testTraceID, testSpanID, testOperation, start.UnixNano(), end.UnixNano(), testBytes)
}

// metricRequestJSON returns an OTLP ExportMetricsServiceRequest with one
// cumulative monotonic sum, sendfile.io in bytes.
func metricRequestJSON(start, end time.Time) string {
	return fmt.Sprintf(`{
  "resourceMetrics": [{
    "resource": {"attributes": [
      {"key": "service.name", "value": {"stringValue": %q}}
    ]},
    "scopeMetrics": [{
      "scope": {"name": "github.com/sendfile-otel/sendfile-otel/internal/jaegertest"},
      "metrics": [{
        "name": "sendfile.io",
        "unit": "By",
        "description": "Bytes sent by sendfile.",
        "sum": {
          "aggregationTemporality": 2,
          "isMonotonic": true,
          "dataPoints": [{
            "attributes": [{"key": "sendfile.direction", "value": {"stringValue": "out"}}],
            "startTimeUnixNano": "%d",
            "timeUnixNano": "%d",
            "asInt": "%d"
          }]
        }
      }]
    }]
  }]
}`, testService, start.UnixNano(), end.UnixNano(), testCounterValue)
}

func namesWithPrefix(metrics map[string][]Sample, prefix string) []string {
	var names []string
	for name := range metrics {
		if strings.HasPrefix(name, prefix) {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	return names
}

// listeningAddresses returns "IP:PORT" of each listening TCP socket that
// process pid has open, read from /proc. IPv6 addresses are in hex.
func listeningAddresses(pid int) ([]string, error) {
	inodes := map[string]bool{}
	fdDir := filepath.Join("/proc", strconv.Itoa(pid), "fd")
	entries, err := os.ReadDir(fdDir)
	if err != nil {
		return nil, err
	}
	for _, entry := range entries {
		target, err := os.Readlink(filepath.Join(fdDir, entry.Name()))
		if err != nil {
			continue
		}
		if inode, ok := strings.CutPrefix(target, "socket:["); ok {
			inodes[strings.TrimSuffix(inode, "]")] = true
		}
	}

	var addresses []string
	for _, table := range []string{"tcp", "tcp6"} {
		f, err := os.Open(filepath.Join("/proc", strconv.Itoa(pid), "net", table))
		if err != nil {
			return nil, err
		}
		scanner := bufio.NewScanner(f)
		scanner.Scan() // header
		for scanner.Scan() {
			// Columns: sl local_address rem_address st ... inode is the 10th.
			fields := strings.Fields(scanner.Text())
			const listenState = "0A"
			if len(fields) < 10 || fields[3] != listenState || !inodes[fields[9]] {
				continue
			}
			addresses = append(addresses, decodeProcAddress(fields[1]))
		}
		f.Close()
		if err := scanner.Err(); err != nil {
			return nil, err
		}
	}
	return addresses, nil
}

// decodeProcAddress turns /proc/net/tcp's "0100007F:1F90" into
// "127.0.0.1:8080". IPv4 addresses there are little-endian hex.
func decodeProcAddress(hexAddress string) string {
	host, port, _ := strings.Cut(hexAddress, ":")
	portNumber, _ := strconv.ParseUint(port, 16, 16)
	if len(host) != 8 {
		return fmt.Sprintf("[%s]:%d", host, portNumber)
	}
	ip, _ := strconv.ParseUint(host, 16, 32)
	return fmt.Sprintf("%d.%d.%d.%d:%d", ip&0xff, ip>>8&0xff, ip>>16&0xff, ip>>24, portNumber)
}
