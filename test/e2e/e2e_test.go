//go:build linux

// Package e2e runs the real agent binary against a real Jaeger and real
// sendfile callers (nginx, 32-bit programs) and checks what arrives.
package e2e

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/sendfile-otel/sendfile-otel/internal/jaegertest"
)

// agentEnv points an agent at a Jaeger under a service name of its own.
func agentEnv(j *jaegertest.Jaeger, service string) []string {
	env := []string{
		"OTEL_EXPORTER_OTLP_ENDPOINT=http://" + j.OTLPGRPCEndpoint,
		"OTEL_EXPORTER_OTLP_INSECURE=true",
		"OTEL_SERVICE_NAME=" + service,
		"OTEL_METRIC_EXPORT_INTERVAL=500",
	}
	if mode := os.Getenv("SENDFILE_OTEL_TEST_PROBE"); mode != "" {
		env = append(env, "SENDFILE_OTEL_PROBE="+mode)
	}
	return env
}

func uniqueService(t testing.TB) string {
	return fmt.Sprintf("sendfile-otel-e2e-%d-%d", os.Getpid(), time.Now().UnixNano()%1e9)
}

// ioBytes reads sendfile_io_bytes_total for a uid from Jaeger's Prometheus
// endpoint, summed over the series of this service (0 when absent).
func ioBytes(t testing.TB, ctx context.Context, j *jaegertest.Jaeger, service string, uid int) float64 {
	t.Helper()
	metrics, err := j.ScrapeMetrics(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var sum float64
	for _, s := range metrics["sendfile_io_bytes_total"] {
		if s.HasLabels(map[string]string{"process_real_user_id": fmt.Sprint(uid), "service_name": service}) {
			sum += s.Value
		}
	}
	return sum
}

func spanTime(us int64) time.Time { return time.UnixMicro(us) }

func TestNginxDownloadsBecomeSpansAndBytes(t *testing.T) {
	requireRoot(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	j := jaegertest.Start(t)
	service := uniqueService(t)
	// Other test packages may run sendfile loops meanwhile: spans of nginx only.
	a := startAgent(t, agentEnv(j, service), "--comm", "nginx")

	root := worldDir(t)
	if err := os.MkdirAll(filepath.Join(root, "media", "2026"), 0o755); err != nil {
		t.Fatal(err)
	}
	const bigSize, smallSize = 8 << 20, 64 << 10
	bigPath := filepath.Join(root, "media", "2026", "big.bin")
	smallPath := filepath.Join(root, "small.bin")
	writeFile(t, bigPath, bigSize)
	writeFile(t, smallPath, smallSize)
	web := startNginx(t, root)
	worker := web.workers(t)[0]
	workerUID := nginxWorkerUID(t)
	baseline := ioBytes(t, ctx, j, service, workerUID)

	// A download held open: the worker's fds are read while it sends.
	bigStart := time.Now()
	conn, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", web.port))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "GET /media/2026/big.bin HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n")
	reader := bufio.NewReaderSize(conn, 4096)
	status, err := reader.ReadString('\n')
	if err != nil || !strings.Contains(status, "200") {
		t.Fatalf("status line %q: %v", status, err)
	}
	inFd, outFd := -1, -1
	clientPort := conn.LocalAddr().(*net.TCPAddr).Port
	wantSocket := "socket:[" + socketInode(t, web.port, clientPort) + "]"
	deadline := time.Now().Add(10 * time.Second)
	for (inFd < 0 || outFd < 0) && time.Now().Before(deadline) {
		for fd, target := range fdTargets(worker) {
			switch target {
			case bigPath:
				inFd = fd
			case wantSocket:
				outFd = fd
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	if inFd < 0 || outFd < 0 {
		t.Fatalf("worker %d fds: file %s at %d, socket %s at %d: %v", worker, bigPath, inFd, wantSocket, outFd, fdTargets(worker))
	}
	for {
		line, err := reader.ReadString('\n')
		if err != nil {
			t.Fatal(err)
		}
		if line == "\r\n" {
			break
		}
	}
	bigBody, err := io.Copy(io.Discard, reader)
	if err != nil || bigBody != bigSize {
		t.Fatalf("big download: %d bytes, %v", bigBody, err)
	}
	bigEnd := time.Now()

	// A small download that one sendfile call moves whole.
	smallStart := time.Now()
	resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/small.bin", web.port))
	if err != nil {
		t.Fatal(err)
	}
	smallBody, err := io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	smallEnd := time.Now()
	if err != nil || smallBody != smallSize {
		t.Fatalf("small download: %d bytes, %v", smallBody, err)
	}

	isWorker := func(s jaegertest.Span) bool {
		pid, ok := s.Int64Tag("process.pid")
		return ok && int(pid) == worker && s.OperationName == "sendfile"
	}
	inside := func(s jaegertest.Span, from, to time.Time) bool {
		start := spanTime(s.StartTime)
		end := spanTime(s.StartTime + s.Duration)
		return !start.Before(from.Truncate(time.Microsecond)) && !end.After(to.Add(time.Microsecond))
	}
	small := func(s jaegertest.Span) bool {
		result, _ := s.Int64Tag("sendfile.result")
		return isWorker(s) && result == smallSize && inside(s, smallStart, smallEnd)
	}
	if _, err := j.WaitForSpans(ctx, service, small, 1); err != nil {
		t.Fatalf("no span of worker %d with sendfile.result %d between %s and %s: %v", worker, smallSize, smallStart, smallEnd, err)
	}

	bigSpans, err := j.WaitForSpans(ctx, service, func(s jaegertest.Span) bool { return isWorker(s) && inside(s, bigStart, bigEnd) }, 1)
	if err != nil {
		t.Fatal(err)
	}
	// Give late batches a moment, then read the big download's spans once more.
	time.Sleep(2 * time.Second)
	bigSpans, err = j.WaitForSpans(ctx, service, func(s jaegertest.Span) bool { return isWorker(s) && inside(s, bigStart, bigEnd) }, len(bigSpans))
	if err != nil {
		t.Fatal(err)
	}
	var moved int64
	for _, s := range bigSpans {
		in, _ := s.Int64Tag("sendfile.in_fd")
		out, _ := s.Int64Tag("sendfile.out_fd")
		if int(in) != inFd || int(out) != outFd {
			t.Errorf("span %s: in_fd %d out_fd %d, want %d and %d from /proc/%d/fd", s.SpanID, in, out, inFd, outFd, worker)
		}
		if result, _ := s.Int64Tag("sendfile.result"); result > 0 {
			moved += result
		}
	}
	t.Logf("big download: %d spans of worker %d moved %d bytes", len(bigSpans), worker, moved)
	if moved != bigSize {
		t.Errorf("spans of the big download moved %d bytes in %d calls, want %d", moved, len(bigSpans), bigSize)
	}

	// The per-user counter grows by exactly the bytes sent.
	want := baseline + bigSize + smallSize
	var got float64
	metricsDeadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(metricsDeadline) {
		got = ioBytes(t, ctx, j, service, workerUID)
		if got >= want || ctx.Err() != nil {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	time.Sleep(1500 * time.Millisecond) // one more export, in case more arrives
	got = ioBytes(t, ctx, j, service, workerUID)
	if math.Abs(got-want) > 0.5 {
		t.Errorf("sendfile_io_bytes_total for uid %d: %.0f, want %.0f (baseline %.0f + %d + %d)", workerUID, got, want, baseline, bigSize, smallSize)
	}

	err, took := a.stop(t, 15*time.Second)
	if err != nil {
		t.Errorf("agent exit: %v", err)
	}
	t.Logf("agent stopped in %s", took)
}

// buildI386Caller compiles test/callers/sendfile_i386.c with gcc -m32.
func buildI386Caller(t testing.TB) string {
	t.Helper()
	if runtime.GOARCH != "amd64" {
		t.Skipf("i386 callers need x86_64, not %s", runtime.GOARCH)
	}
	root, err := jaegertest.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(worldDir(t), "sendfile_i386")
	cmd := exec.Command("gcc", "-m32", "-static", "-O2", "-o", out, filepath.Join(root, "test/callers/sendfile_i386.c"))
	if msg, err := cmd.CombinedOutput(); err != nil {
		skipOrFail(t, "cannot build a 32-bit caller (install gcc-multilib): %v: %s", err, msg)
	}
	return out
}

func TestSendfile32BecomesSpan(t *testing.T) {
	requireRoot(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	caller := buildI386Caller(t)
	j := jaegertest.Start(t)
	service := uniqueService(t)
	startAgent(t, agentEnv(j, service), "--compat=on", "--comm", filepath.Base(caller))

	in := filepath.Join(worldDir(t), "in.bin")
	writeFile(t, in, 4096)
	out, err := exec.Command(caller, "/dev/null", in, "100", "1000").Output()
	if err != nil {
		t.Fatal(err)
	}
	var pid, result int
	for _, field := range strings.Fields(string(out)) {
		fmt.Sscanf(field, "pid=%d", &pid)
		fmt.Sscanf(field, "result=%d", &result)
	}
	if pid == 0 || result != 1000 {
		t.Fatalf("caller output %q: want a pid and result=1000", out)
	}
	spans, err := j.WaitForSpans(ctx, service, func(s jaegertest.Span) bool {
		p, _ := s.Int64Tag("process.pid")
		return int(p) == pid
	}, 1)
	if err != nil {
		t.Fatalf("no span of pid %d: %v", pid, err)
	}
	s := spans[0]
	if s.OperationName != "sendfile32" {
		t.Errorf("span name %q, want sendfile32", s.OperationName)
	}
	if abi, _ := s.StringTag("sendfile.abi"); abi != "i386" {
		t.Errorf("sendfile.abi %q, want i386", abi)
	}
	if r, _ := s.Int64Tag("sendfile.result"); r != 1000 {
		t.Errorf("sendfile.result %d, want 1000", r)
	}
	if start, _ := s.Int64Tag("sendfile.offset.start"); start != 100 {
		t.Errorf("sendfile.offset.start %d, want 100", start)
	}
	if end, _ := s.Int64Tag("sendfile.offset.end"); end != 1100 {
		t.Errorf("sendfile.offset.end %d, want 1100", end)
	}
}

func TestCollectorDownShutdownIsBounded(t *testing.T) {
	requireRoot(t)
	// A port that was free a moment ago: nothing listens there.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	deadAddr := ln.Addr().String()
	ln.Close()

	const shutdownTimeout = 2 * time.Second
	a := startAgent(t, []string{
		"OTEL_EXPORTER_OTLP_ENDPOINT=http://" + deadAddr,
		"OTEL_EXPORTER_OTLP_INSECURE=true",
		"OTEL_METRICS_EXPORTER=console",
		"OTEL_METRIC_EXPORT_INTERVAL=1000",
	}, "--shutdown-timeout", shutdownTimeout.String(), "--pid", fmt.Sprint(os.Getpid()))

	in, err := os.Open("/proc/self/exe")
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	devNull, err := os.OpenFile("/dev/null", os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer devNull.Close()
	const calls = 200
	for i := 0; i < calls; i++ {
		off := int64(0)
		sendfile(t, int(devNull.Fd()), int(in.Fd()), &off, 4096)
	}
	time.Sleep(3 * time.Second) // a span batch is due every second

	err, took := a.stop(t, shutdownTimeout+10*time.Second)
	if err != nil {
		t.Errorf("agent exited with %v, want status 0", err)
	}
	if took > shutdownTimeout+2*time.Second {
		t.Errorf("agent took %s to stop, bound %s", took, shutdownTimeout)
	}
	stdout := a.stdout.String()
	if !strings.Contains(stdout, "sendfile_otel.events.lost") || !strings.Contains(stdout, "export_failed") {
		t.Errorf("console metrics do not count the failed exports:\n%s", tail(stdout, 4000))
	}
	t.Logf("stopped in %s", took)
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}
