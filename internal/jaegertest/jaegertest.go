// Package jaegertest starts a local Jaeger (the Jaeger v2 collector build
// from deploy/local) for tests, and reads back what it received: spans
// through Jaeger's query API and OTLP metrics through its Prometheus exporter.
//
// The package uses only the standard library, so it adds no requirements to
// the module that imports it.
package jaegertest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sendfile-otel/sendfile-otel/internal/testenv"
)

// Environment variables read by Start.
const (
	// EnvBinary names a prebuilt Jaeger binary. When it is set, Start does
	// not run deploy/local/build-jaeger.sh.
	EnvBinary = "SENDFILE_OTEL_JAEGER_BIN"

	// EnvRequire, set to "1", makes Start fail the test instead of skipping
	// it when no Jaeger binary can be had.
	EnvRequire = testenv.EnvRequire
)

// rootModulePath is the module whose go.mod marks the repository root.
const rootModulePath = "github.com/sendfile-otel/sendfile-otel"

const (
	// readyTimeout bounds the wait for the query API and OTLP ports. Jaeger
	// was ready in well under a second on a 2-core x86_64 machine, so this
	// only matters on a badly overloaded host.
	readyTimeout = 60 * time.Second

	// stopTimeout bounds the wait after SIGTERM before Start's cleanup
	// sends SIGKILL.
	stopTimeout = 10 * time.Second

	// buildTimeout bounds build-jaeger.sh. A build with an empty module
	// cache took about 5 minutes on a 2-core x86_64 machine.
	buildTimeout = 20 * time.Minute

	// startAttempts is how often Start picks new ports when Jaeger exits
	// because another process took one of them after it was picked.
	startAttempts = 3

	// logTailBytes is how much of Jaeger's log goes into error messages and
	// into the dump on test failure.
	logTailBytes = 16 << 10
)

// Jaeger is a running Jaeger process started by Start, or any Jaeger whose
// addresses are filled in by hand for the query and scrape methods.
type Jaeger struct {
	// OTLPGRPCEndpoint is the OTLP/gRPC receiver address, "127.0.0.1:PORT".
	OTLPGRPCEndpoint string
	// OTLPHTTPEndpoint is the OTLP/HTTP receiver address, "127.0.0.1:PORT",
	// which serves /v1/traces, /v1/metrics and /v1/logs.
	OTLPHTTPEndpoint string
	// QueryURL is the base URL of the query API, "http://127.0.0.1:PORT".
	QueryURL string
	// PrometheusURL is the scrape URL of the Prometheus exporter that
	// re-exports received OTLP metrics, "http://127.0.0.1:PORT/metrics".
	PrometheusURL string
	// HealthCheckURL is the health check URL, "http://127.0.0.1:PORT/status".
	HealthCheckURL string
	// TelemetryMetricsURL is the collector's own metrics in Prometheus
	// format (received and refused spans and points), "http://127.0.0.1:PORT/metrics".
	TelemetryMetricsURL string
	// LogPath is the file that receives Jaeger's stdout and stderr. It is
	// removed with the test's temporary directory.
	LogPath string

	cmd    *exec.Cmd
	exited chan struct{} // closed when cmd.Wait returns
	err    error         // result of cmd.Wait, valid after exited is closed
}

// Start starts Jaeger on free loopback ports with deploy/local/jaeger.yaml,
// waits until its query API returns 200 and its OTLP ports accept connections,
// and registers a cleanup that stops it and, if the test failed, logs the
// end of its output.
//
// The binary comes from $SENDFILE_OTEL_JAEGER_BIN, or else from
// deploy/local/build-jaeger.sh, which builds it on first use (about
// 5 minutes). In -short mode Start uses only an already cached build. When
// no binary can be had, Start skips the test, or fails it if
// $SENDFILE_OTEL_REQUIRE_PRIVILEGED is "1".
func Start(t testing.TB) *Jaeger {
	t.Helper()

	root, err := RepoRoot()
	if err != nil {
		t.Fatalf("jaegertest: %v", err)
	}
	binary := findBinary(t, root)
	config := filepath.Join(root, "deploy", "local", "jaeger.yaml")
	if _, err := os.Stat(config); err != nil {
		t.Fatalf("jaegertest: Jaeger configuration missing: %v", err)
	}

	var lastErr error
	for attempt := 1; attempt <= startAttempts; attempt++ {
		j, err := startProcess(t, binary, config)
		if err == nil {
			return j
		}
		lastErr = err
		if !errors.Is(err, errAddressInUse) {
			break
		}
		t.Logf("jaegertest: attempt %d of %d: %v; retrying on other ports", attempt, startAttempts, err)
	}
	t.Fatalf("jaegertest: %v", lastErr)
	return nil
}

// errAddressInUse marks a start that failed because a picked port was
// taken before Jaeger could bind it.
var errAddressInUse = errors.New("address already in use")

// startProcess runs one attempt of Start. On error it stops the process
// before returning. On success it registers the cleanup that stops it.
func startProcess(t testing.TB, binary, config string) (*Jaeger, error) {
	t.Helper()

	ports, err := freePorts(7)
	if err != nil {
		return nil, err
	}
	endpoint := func(i int) string { return fmt.Sprintf("127.0.0.1:%d", ports[i]) }

	j := &Jaeger{
		OTLPGRPCEndpoint:    endpoint(0),
		OTLPHTTPEndpoint:    endpoint(1),
		QueryURL:            "http://" + endpoint(2),
		PrometheusURL:       "http://" + endpoint(4) + "/metrics",
		HealthCheckURL:      "http://" + endpoint(5) + "/status",
		TelemetryMetricsURL: "http://" + endpoint(6) + "/metrics",
		exited:              make(chan struct{}),
	}

	logFile, err := os.CreateTemp(t.TempDir(), "jaeger-*.log")
	if err != nil {
		return nil, fmt.Errorf("create Jaeger log file: %w", err)
	}
	j.LogPath = logFile.Name()

	cmd := exec.Command(binary, "--config", config)
	cmd.Env = append(os.Environ(),
		"JAEGER_OTLP_GRPC_ENDPOINT="+endpoint(0),
		"JAEGER_OTLP_HTTP_ENDPOINT="+endpoint(1),
		"JAEGER_QUERY_HTTP_ENDPOINT="+endpoint(2),
		"JAEGER_QUERY_GRPC_ENDPOINT="+endpoint(3),
		"JAEGER_PROMETHEUS_ENDPOINT="+endpoint(4),
		"JAEGER_HEALTHCHECK_ENDPOINT="+endpoint(5),
		fmt.Sprintf("JAEGER_TELEMETRY_METRICS_PORT=%d", ports[6]),
	)
	cmd.Stdout = logFile
	cmd.Stderr = logFile
	cmd.SysProcAttr = sysProcAttr()
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return nil, fmt.Errorf("start %s: %w", binary, err)
	}
	// The child keeps its own copy of the descriptor.
	logFile.Close()
	j.cmd = cmd
	go func() {
		j.err = cmd.Wait()
		close(j.exited)
	}()

	started := time.Now()
	if err := j.waitReady(readyTimeout); err != nil {
		j.stop()
		tail := j.logTail()
		if strings.Contains(tail, "address already in use") {
			err = fmt.Errorf("%w: %w", errAddressInUse, err)
		}
		return nil, fmt.Errorf("%w\nJaeger log (%s), last lines:\n%s", err, j.LogPath, tail)
	}
	t.Logf("jaegertest: Jaeger ready after %v (pid %d, query %s, OTLP gRPC %s, OTLP HTTP %s)",
		time.Since(started).Round(time.Millisecond), cmd.Process.Pid, j.QueryURL, j.OTLPGRPCEndpoint, j.OTLPHTTPEndpoint)

	t.Cleanup(func() {
		if err := j.stop(); err != nil {
			t.Errorf("jaegertest: stop Jaeger (pid %d): %v", cmd.Process.Pid, err)
		}
		if t.Failed() {
			t.Logf("jaegertest: Jaeger log (%s), last lines:\n%s", j.LogPath, j.logTail())
		}
	})
	return j, nil
}

// waitReady polls until the query API returns 200 for /api/services and
// both OTLP ports accept TCP connections, Jaeger exits, or timeout passes.
func (j *Jaeger) waitReady(timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	var lastErr error
	for {
		select {
		case <-j.exited:
			return fmt.Errorf("process exited before it was ready: %v", j.err)
		default:
		}

		lastErr = j.probe()
		if lastErr == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("not ready within %v: %w", timeout, lastErr)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// probe returns nil when the query API and both OTLP ports are up.
func (j *Jaeger) probe() error {
	for _, address := range []string{j.OTLPGRPCEndpoint, j.OTLPHTTPEndpoint} {
		conn, err := net.DialTimeout("tcp", address, time.Second)
		if err != nil {
			return err
		}
		conn.Close()
	}

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_, err := j.Services(ctx)
	return err
}

// stop sends SIGTERM, waits up to stopTimeout, then sends SIGKILL. It
// returns nil when the process is gone, whatever its exit status.
func (j *Jaeger) stop() error {
	if j.cmd == nil || j.cmd.Process == nil {
		return nil
	}
	select {
	case <-j.exited:
		return nil
	default:
	}

	if err := j.cmd.Process.Signal(syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("send SIGTERM: %w", err)
	}
	select {
	case <-j.exited:
		return nil
	case <-time.After(stopTimeout):
	}

	if err := j.cmd.Process.Kill(); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("send SIGKILL after %v: %w", stopTimeout, err)
	}
	<-j.exited
	return fmt.Errorf("process ignored SIGTERM for %v and was killed", stopTimeout)
}

// Pid returns the process id of Jaeger, or 0 when j was not made by Start.
func (j *Jaeger) Pid() int {
	if j.cmd == nil || j.cmd.Process == nil {
		return 0
	}
	return j.cmd.Process.Pid
}

// logTail returns the last logTailBytes of Jaeger's log, starting at a line.
func (j *Jaeger) logTail() string {
	data, err := os.ReadFile(j.LogPath)
	if err != nil {
		return fmt.Sprintf("(cannot read Jaeger log: %v)", err)
	}
	return tail(data, logTailBytes)
}

// tail returns at most limit bytes from the end of data, cut at a line start.
func tail(data []byte, limit int) string {
	if len(data) <= limit {
		return string(data)
	}
	data = data[len(data)-limit:]
	if i := bytes.IndexByte(data, '\n'); i >= 0 {
		data = data[i+1:]
	}
	return "...\n" + string(data)
}

// freePorts returns n distinct TCP ports that were free on 127.0.0.1. The
// listeners stay open until all ports are picked, so no port repeats, but
// another process may still take a port before Jaeger binds it.
func freePorts(n int) ([]int, error) {
	ports := make([]int, 0, n)
	for range n {
		listener, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("pick a free port on 127.0.0.1: %w", err)
		}
		defer listener.Close()
		ports = append(ports, listener.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// httpClient serves all requests of this package. Its timeout is a backstop
// for callers whose context has no deadline.
var httpClient = &http.Client{Timeout: 30 * time.Second}
