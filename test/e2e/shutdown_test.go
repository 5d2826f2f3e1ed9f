//go:build linux

package e2e

import (
	"encoding/json"
	"io"
	"net"
	"strings"
	"testing"
	"time"
)

// startSilentCollector accepts connections on loopback and reads from them
// but never replies: a collector that hangs.
func startSilentCollector(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			t.Cleanup(func() { conn.Close() })
			go io.Copy(io.Discard, conn)
		}
	}()
	return ln.Addr().String()
}

// lastLostExportFailed returns the last value of sendfile_otel.events.lost
// with reason export_failed in the console metric exporter's output.
func lastLostExportFailed(t *testing.T, stdout string) (int64, bool) {
	t.Helper()
	type dataPoint struct {
		Attributes []struct {
			Key   string
			Value struct{ Value any }
		}
		Value int64
	}
	type export struct {
		ScopeMetrics []struct {
			Metrics []struct {
				Name string
				Data struct{ DataPoints []dataPoint }
			}
		}
	}
	var value int64
	found := false
	dec := json.NewDecoder(strings.NewReader(stdout))
	for {
		var e export
		if err := dec.Decode(&e); err != nil {
			break
		}
		for _, sm := range e.ScopeMetrics {
			for _, m := range sm.Metrics {
				if m.Name != "sendfile_otel.events.lost" {
					continue
				}
				for _, dp := range m.Data.DataPoints {
					for _, a := range dp.Attributes {
						if a.Key == "reason" && a.Value.Value == "export_failed" {
							value, found = dp.Value, true
						}
					}
				}
			}
		}
	}
	return value, found
}

// A collector that never replies holds the span pipeline, with a tiny
// queue, until the shutdown timeout. Every call must still be counted, as
// a span or as lost, and the last metric export must still happen.
func TestHangingCollectorCountsEveryCallAtShutdown(t *testing.T) {
	requireRoot(t)
	endpoint := startSilentCollector(t)
	a := startAgent(t, []string{
		"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT=http://" + endpoint,
		"OTEL_METRICS_EXPORTER=console",
		"OTEL_BSP_MAX_QUEUE_SIZE=10",
		"OTEL_BSP_MAX_EXPORT_BATCH_SIZE=5",
	}, "--comm", testComm(), "--shutdown-timeout=3s")

	const calls = 101
	sendfileToNull(t, calls, 10)
	time.Sleep(time.Second) // the events reach the reader, which stalls on the full queue

	err, took := a.stop(t, 15*time.Second)
	if err != nil {
		t.Errorf("agent exit: %v:\n%s", err, a.log.String())
	}
	if took > 5*time.Second {
		t.Errorf("agent took %s to stop with a 3 s shutdown timeout", took)
	}
	lost, ok := lastLostExportFailed(t, a.stdout.String())
	if !ok {
		t.Fatalf("no sendfile_otel.events.lost{reason=export_failed} in the console metrics: the last metric export did not happen:\n%s", a.log.String())
	}
	if lost != calls {
		t.Errorf("export_failed %d, want %d: every call of this process became a span the collector never took\n%s", lost, calls, a.log.String())
	}
}
