package main

import (
	"bufio"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestParseStatCPU(t *testing.T) {
	// A command name with spaces and a ')' must not shift the fields.
	line := "4242 (tricky) name) S 1 4242 4242 0 -1 4194560 100 0 0 0 250 75 0 0 20 0 8 0 1000 0 0"
	got, err := parseStatCPU([]byte(line))
	if err != nil {
		t.Fatalf("parseStatCPU: %v", err)
	}
	if want := 3250 * time.Millisecond; got != want {
		t.Errorf("parseStatCPU = %s, want %s (utime 250 + stime 75 ticks)", got, want)
	}
}

func TestParseStatCPUMalformed(t *testing.T) {
	for _, line := range []string{"", "42 (x", "42 (x) S 1 2"} {
		if _, err := parseStatCPU([]byte(line)); err == nil {
			t.Errorf("parseStatCPU(%q) succeeded, want an error", line)
		}
	}
}

func TestParseStatusKiB(t *testing.T) {
	status := "Name:\tsendfile-otel\nVmPeak:\t  900 kB\nVmHWM:\t   51200 kB\nVmRSS:\t  40000 kB\n"
	got, err := parseStatusKiB([]byte(status), "VmHWM")
	if err != nil {
		t.Fatalf("parseStatusKiB: %v", err)
	}
	if want := int64(50 << 20); got != want {
		t.Errorf("VmHWM = %d bytes, want %d", got, want)
	}
	if _, err := parseStatusKiB([]byte(status), "VmSwap"); err == nil {
		t.Error("parseStatusKiB found a missing key, want an error")
	}
}

func TestSummarize(t *testing.T) {
	odd := summarize([]float64{3, 1, 2})
	if odd.Median != 2 || odd.Min != 1 || odd.Max != 3 || odd.N != 3 {
		t.Errorf("summarize(3, 1, 2) = %+v, want median 2, range 1 to 3", odd)
	}
	even := summarize([]float64{4, 1, 2, 3})
	if even.Median != 2.5 {
		t.Errorf("summarize(4, 1, 2, 3).Median = %g, want 2.5", even.Median)
	}
}

func TestSpreadOverlaps(t *testing.T) {
	a := spread{Median: 1, Min: 0.9, Max: 1.1}
	if !a.overlaps(spread{Median: 1.2, Min: 1.05, Max: 1.3}) {
		t.Error("ranges 0.9-1.1 and 1.05-1.3 do not overlap, want overlap")
	}
	if a.overlaps(spread{Median: 1.3, Min: 1.2, Max: 1.4}) {
		t.Error("ranges 0.9-1.1 and 1.2-1.4 overlap, want none")
	}
}

func TestRotated(t *testing.T) {
	items := []string{"a", "b", "c"}
	for round, want := range []string{"abc", "bca", "cab", "abc"} {
		if got := strings.Join(rotated(items, round), ""); got != want {
			t.Errorf("rotated(abc, %d) = %s, want %s", round, got, want)
		}
	}
}

func TestTightRatiosUseSameRound(t *testing.T) {
	runs := []tightRun{
		{Round: 0, Setup: setupUntraced.ID, NsPerCall: map[string]float64{callGetppid: 100}},
		{Round: 0, Setup: setupMetricsOn.ID, NsPerCall: map[string]float64{callGetppid: 150}},
		{Round: 1, Setup: setupUntraced.ID, NsPerCall: map[string]float64{callGetppid: 200}},
		{Round: 1, Setup: setupMetricsOn.ID, NsPerCall: map[string]float64{callGetppid: 220}},
	}
	var metrics tightSummary
	for _, s := range summarizeTight(runs) {
		if s.Setup.ID == setupMetricsOn.ID {
			metrics = s
		}
	}
	got := metrics.Ratio[callGetppid]
	if got.Min != 1.1 || got.Max != 1.5 {
		t.Errorf("getppid ratios range %g to %g, want 1.1 to 1.5 (each round over its own baseline)", got.Min, got.Max)
	}
}

func TestParsePerfReport(t *testing.T) {
	out := `# Samples: 9K of event 'cpu-clock:ppp'
#
# Overhead  Symbol
# ........  ......
#
    12.50%  [k] _raw_spin_unlock_irqrestore                    -      -
     3.25%  [.] go.opentelemetry.io/otel/sdk/trace.(*recordingSpan).End
`
	lines := parsePerfReport(out)
	if len(lines) != 2 {
		t.Fatalf("parsePerfReport found %d lines, want 2: %+v", len(lines), lines)
	}
	if lines[0].Percent != 12.5 || !lines[0].Kernel || lines[0].Symbol != "_raw_spin_unlock_irqrestore" {
		t.Errorf("first line = %+v, want 12.5 %% kernel _raw_spin_unlock_irqrestore", lines[0])
	}
	if lines[1].Kernel || lines[1].Symbol != "go.opentelemetry.io/otel/sdk/trace.(*recordingSpan).End" {
		t.Errorf("second line = %+v, want the user-space End", lines[1])
	}
	if got := perfSamples(out); got != "9K of event 'cpu-clock:ppp'" {
		t.Errorf("perfSamples = %q", got)
	}
}

func TestParsePerfReportChildren(t *testing.T) {
	lines := parsePerfReport("    45.00%     0.10%  [.] main.readEvents\n")
	if len(lines) != 1 || lines[0].Percent != 45 || lines[0].Symbol != "main.readEvents" {
		t.Errorf("parsePerfReport(children line) = %+v, want 45 %% main.readEvents", lines)
	}
}

func TestLineWatcher(t *testing.T) {
	var out strings.Builder
	var matched []string
	w := &lineWatcher{out: &out, match: func(line string) bool {
		matched = append(matched, line)
		return strings.Contains(line, "running")
	}}
	for _, chunk := range []string{"first\nsec", "ond\nrunning now\n", "after\n"} {
		if _, err := w.Write([]byte(chunk)); err != nil {
			t.Fatal(err)
		}
	}
	if got := strings.Join(matched, "|"); got != "first|second|running now" {
		t.Errorf("match saw %q, want the lines up to the first match", got)
	}
	if got, want := out.String(), "first\nsecond\nrunning now\nafter\n"; got != want {
		t.Errorf("output = %q, want everything written: %q", got, want)
	}
}

func TestCountOutputLines(t *testing.T) {
	path := filepath.Join(t.TempDir(), "out")
	content := "Attaching 2 probes...\n" +
		"5 3 4096 4096 100 100 workload 0\n" +
		"5 3 4096 4096 100 101 workload 0\n" +
		"5 3 4096 4096 200 200 nginx 33\n" +
		"5 3 4096 4096 100 102 with space 0\n" +
		"@call[100]: (0, 0, 0, 0)\n"
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	mine, others, err := countOutputLines(path, 100)
	if err != nil {
		t.Fatal(err)
	}
	if mine != 3 {
		t.Errorf("countOutputLines(pid 100) counted %d lines of pid 100, want 3", mine)
	}
	if others != 1 {
		t.Errorf("countOutputLines(pid 100) counted %d lines of other pids, want 1", others)
	}
}

func TestReadResponseHead(t *testing.T) {
	response := "HTTP/1.1 200 OK\r\nServer: nginx\r\ncontent-length: 65536\r\nConnection: keep-alive\r\n\r\nBODY"
	length, err := readResponseHead(bufio.NewReader(strings.NewReader(response)))
	if err != nil {
		t.Fatal(err)
	}
	if length != 65536 {
		t.Errorf("Content-Length = %d, want 65536", length)
	}
}

func TestReadResponseHeadRejectsErrors(t *testing.T) {
	for _, response := range []string{
		"HTTP/1.1 404 Not Found\r\nContent-Length: 10\r\n\r\n",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
	} {
		if _, err := readResponseHead(bufio.NewReader(strings.NewReader(response))); err == nil {
			t.Errorf("readResponseHead(%q) succeeded, want an error", response)
		}
	}
}

func TestFormatRate(t *testing.T) {
	for rate, want := range map[float64]string{10000: "10k", 1500: "1.5k", 2e6: "2M", 500: "500"} {
		if got := formatRate(rate); got != want {
			t.Errorf("formatRate(%g) = %q, want %q", rate, got, want)
		}
	}
}
