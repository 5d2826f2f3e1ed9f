//go:build linux

// Command demo runs sendfile-otel against a local Jaeger with real sendfile
// traffic and prints what arrived. `make demo` builds the agent and Jaeger
// first and runs it as root:
//
//	demo -agent build/sendfile-otel -jaeger PATH [-seconds N]
//
// It starts Jaeger (deploy/local/jaeger.yaml, default loopback ports), the
// agent, a Go file server built from internal/demo/fileserver, nginx when it
// is installed, and a 32-bit caller when gcc -m32 works; downloads files for
// DEMO_SECONDS seconds; then reads spans back through Jaeger's query API and
// metrics through its Prometheus endpoint, prints a report, and stops
// everything it started.
//
// The first SIGINT or SIGTERM ends the traffic early and goes on to the
// report; a second one skips what is left of the report. Either way the
// agent stops before Jaeger, so that it can flush what it holds. The
// processes it starts run in process groups of their own, so that a Ctrl-C
// in the terminal reaches this command alone and the stop keeps that order.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/sendfile-otel/sendfile-otel/internal/jaegertest"
)

const service = "sendfile-otel-demo"

// Default loopback addresses of deploy/local/jaeger.yaml.
const (
	otlpGRPC   = "127.0.0.1:4317"
	queryURL   = "http://127.0.0.1:16686"
	promURL    = "http://127.0.0.1:8889/metrics"
	demoDirEnv = "DEMO_DIR"
)

func main() {
	agentBin := flag.String("agent", "build/sendfile-otel", "agent binary")
	jaegerBin := flag.String("jaeger", "", "Jaeger binary (from deploy/local/build-jaeger.sh)")
	seconds := flag.Int("seconds", envInt("DEMO_SECONDS", 20), "how long to drive traffic (DEMO_SECONDS)")
	flag.Parse()
	log.SetFlags(0)
	log.SetPrefix("demo: ")

	if os.Geteuid() != 0 {
		log.Fatal("run as root: the agent loads BPF programs (sudo make demo)")
	}
	if *jaegerBin == "" {
		log.Fatal("missing -jaeger: the path printed by deploy/local/build-jaeger.sh")
	}
	if *seconds < 1 {
		log.Fatalf("invalid DEMO_SECONDS %d: want at least 1", *seconds)
	}

	// traffic ends at the first signal, report at the second.
	traffic, endTraffic := context.WithCancel(context.Background())
	report, endReport := context.WithCancel(context.Background())
	signals := make(chan os.Signal, 2)
	signal.Notify(signals, syscall.SIGINT, syscall.SIGTERM)
	go func() {
		sig := <-signals
		log.Printf("%s: ending the traffic early; a second signal skips the report", sig)
		endTraffic()
		sig = <-signals
		log.Printf("%s: stopping now", sig)
		endReport()
	}()

	d := &demo{dir: envString(demoDirEnv, "build/demo")}
	err := d.run(traffic, report, *agentBin, *jaegerBin, time.Duration(*seconds)*time.Second)
	d.stopAll()
	if err != nil {
		log.Fatal(err)
	}
}

type demo struct {
	dir       string
	processes []*exec.Cmd
	names     []string
}

// run starts everything, drives traffic until length passes or traffic is
// cancelled, and reports what arrived unless report is cancelled.
func (d *demo) run(traffic, report context.Context, agentBin, jaegerBin string, length time.Duration) error {
	ctx := traffic
	for _, sub := range []string{"www/media", "logs"} {
		if err := os.MkdirAll(filepath.Join(d.dir, sub), 0o755); err != nil {
			return err
		}
	}
	www, err := filepath.Abs(filepath.Join(d.dir, "www"))
	if err != nil {
		return err
	}
	// Let unprivileged server workers (nginx runs as www-data) read the files.
	for dir := www; dir != "/"; dir = filepath.Dir(dir) {
		if err := os.Chmod(dir, 0o755); err != nil {
			break
		}
	}
	files := map[string]int{"media/video.bin": 4 << 20, "index.bin": 64 << 10, "media/small.bin": 4 << 10}
	for name, size := range files {
		if err := writeFile(filepath.Join(www, name), size); err != nil {
			return err
		}
	}

	log.Printf("starting Jaeger (OTLP %s, query %s, metrics %s)", otlpGRPC, queryURL, promURL)
	if err := checkPortsFree(otlpGRPC, "127.0.0.1:4318", "127.0.0.1:16686", "127.0.0.1:8889"); err != nil {
		return err
	}
	if err := d.start("jaeger", jaegerBin, nil, "--config", "deploy/local/jaeger.yaml"); err != nil {
		return err
	}
	j := &jaegertest.Jaeger{QueryURL: queryURL, PrometheusURL: promURL}
	if err := waitHTTP(ctx, queryURL+"/api/services", 60*time.Second); err != nil {
		return fmt.Errorf("Jaeger did not come up: %w (log: %s)", err, d.logPath("jaeger"))
	}

	// Spans of the demo's own servers and caller only, so that other work on
	// the host does not crowd them out of the report; the metrics still count
	// every sendfile call on the host.
	agentArgs := []string{"--comm", "nginx,fileserver,sendfile_i386"}
	log.Printf("starting the agent (%s %s)", agentBin, strings.Join(agentArgs, " "))
	agentEnv := []string{
		"OTEL_EXPORTER_OTLP_ENDPOINT=http://" + otlpGRPC,
		"OTEL_EXPORTER_OTLP_INSECURE=true",
		"OTEL_SERVICE_NAME=" + service,
		"OTEL_METRIC_EXPORT_INTERVAL=2000",
	}
	if err := d.start("agent", agentBin, agentEnv, agentArgs...); err != nil {
		return err
	}
	if err := waitLog(ctx, d.logPath("agent"), "sendfile-otel running", 30*time.Second); err != nil {
		return fmt.Errorf("the agent did not start: %w (log: %s)", err, d.logPath("agent"))
	}

	var targets []string
	goPort, err := freePort()
	if err != nil {
		return err
	}
	log.Printf("starting Go's file server on 127.0.0.1:%d", goPort)
	fileserver, err := d.buildFileServer()
	if err != nil {
		return err
	}
	if err := d.start("fileserver", fileserver, nil, "-addr", fmt.Sprintf("127.0.0.1:%d", goPort), "-root", www); err != nil {
		return err
	}
	targets = append(targets, fmt.Sprintf("http://127.0.0.1:%d", goPort))

	if nginx, err := exec.LookPath("nginx"); err == nil || fileExists("/usr/sbin/nginx") {
		if nginx == "" {
			nginx = "/usr/sbin/nginx"
		}
		port, err := freePort()
		if err != nil {
			return err
		}
		log.Printf("starting nginx on 127.0.0.1:%d (sendfile on)", port)
		conf, err := d.nginxConfig(port, www)
		if err != nil {
			return err
		}
		if err := d.start("nginx", nginx, nil, "-p", filepath.Dir(conf), "-c", conf); err != nil {
			return err
		}
		targets = append(targets, fmt.Sprintf("http://127.0.0.1:%d", port))
	} else {
		log.Printf("nginx not installed: skipping it (apt-get install nginx-light)")
	}
	for _, target := range targets {
		if err := waitHTTP(ctx, target+"/index.bin", 10*time.Second); err != nil {
			return fmt.Errorf("file server %s: %w", target, err)
		}
	}

	caller := d.buildI386Caller()
	if caller == "" {
		log.Printf("gcc -m32 unavailable: skipping the 32-bit caller (apt-get install gcc-multilib)")
	}

	log.Printf("driving traffic for %s; meanwhile: curl -s '%s/api/traces?service=%s&limit=5' or curl -s %s", length, queryURL, service, promURL)
	downloads, bytes := 0, int64(0)
	end := time.Now().Add(length)
	names := []string{"media/video.bin", "index.bin", "media/small.bin"}
	for i := 0; time.Now().Before(end) && ctx.Err() == nil; i++ {
		target := targets[i%len(targets)]
		n, err := download(target + "/" + names[i%len(names)])
		if err != nil {
			return err
		}
		downloads++
		bytes += n
		if caller != "" && i%20 == 0 {
			exec.Command(caller, "/dev/null", filepath.Join(www, "index.bin"), "0", "65536").Run()
		}
		time.Sleep(50 * time.Millisecond)
	}
	log.Printf("%d downloads, %d bytes; waiting for the last export", downloads, bytes)
	select {
	case <-time.After(5 * time.Second):
	case <-report.Done():
		return nil
	}
	return d.report(report, j)
}

// report prints what Jaeger and its Prometheus endpoint received.
func (d *demo) report(ctx context.Context, j *jaegertest.Jaeger) error {
	traces, err := j.Traces(ctx, service, map[string][]string{"limit": {"5000"}, "lookback": {"1h"}})
	if err != nil {
		return fmt.Errorf("querying Jaeger: %w", err)
	}
	perName := map[string]int{}
	perComm := map[string]int{}
	var example *jaegertest.Span
	for _, tr := range traces {
		for i := range tr.Spans {
			s := &tr.Spans[i]
			perName[s.OperationName]++
			comm, _ := s.StringTag("thread.name")
			perComm[comm]++
			if example == nil || (comm == "nginx" && mustString(example, "thread.name") != "nginx") {
				example = s
			}
		}
	}

	fmt.Println()
	fmt.Println("== Spans in Jaeger (newest 5000 traces of service " + service + ")")
	for _, name := range sortedKeys(perName) {
		fmt.Printf("  %-12s %d\n", name, perName[name])
	}
	fmt.Println("   by thread.name:")
	for _, comm := range sortedKeys(perComm) {
		fmt.Printf("  %-12s %d\n", comm, perComm[comm])
	}
	if example != nil {
		fmt.Printf("\n== One span: %s, %s, %d µs\n", example.OperationName, time.UnixMicro(example.StartTime).Format(time.RFC3339Nano), example.Duration)
		tags := append([]jaegertest.KeyValue(nil), example.Tags...)
		sort.Slice(tags, func(a, b int) bool { return tags[a].Key < tags[b].Key })
		for _, tag := range tags {
			if strings.HasPrefix(tag.Key, "otel.") || tag.Key == "span.kind" || tag.Key == "internal.span.format" {
				continue
			}
			fmt.Printf("  %-30s %v\n", tag.Key, tag.Value)
		}
	}

	metrics, err := j.ScrapeMetrics(ctx)
	if err != nil {
		return fmt.Errorf("scraping %s: %w", promURL, err)
	}
	fmt.Println("\n== Bytes per user (sendfile_io_bytes_total, every sendfile call on the host)")
	for _, s := range metrics["sendfile_io_bytes_total"] {
		if s.Labels["service_name"] != service {
			continue
		}
		fmt.Printf("  uid %-6s %-12s %.0f\n", s.Labels["process_real_user_id"], s.Labels["process_real_user_name"], s.Value)
	}
	fmt.Println("\n== Calls per user and error (sendfile_calls_total)")
	for _, s := range metrics["sendfile_calls_total"] {
		if s.Labels["service_name"] != service {
			continue
		}
		errType := s.Labels["error_type"]
		if errType == "" {
			errType = "ok"
		}
		fmt.Printf("  uid %-6s %-14s %.0f\n", s.Labels["process_real_user_id"], errType, s.Value)
	}
	fmt.Println("\n== Agent self-metrics")
	for _, name := range []string{"sendfile_otel_events_lost_total", "sendfile_otel_events_exported_total"} {
		found := false
		for _, s := range metrics[name] {
			if s.Labels["service_name"] != service {
				continue
			}
			found = true
			label := s.Labels["reason"]
			fmt.Printf("  %-38s %-18s %.0f\n", name, label, s.Value)
		}
		if !found {
			fmt.Printf("  %-38s %-18s 0\n", name, "")
		}
	}
	fmt.Printf(`
== To look yourself, run with a longer DEMO_SECONDS and, while traffic flows
   (this build of Jaeger serves the query API, its web page is a placeholder):
  curl -s '%s/api/services'
  curl -s '%s/api/traces?service=%s&limit=5'
  curl -s %s | grep ^sendfile
  logs: %s
`, queryURL, queryURL, service, promURL, filepath.Join(d.dir, "logs"))
	return nil
}

func mustString(s *jaegertest.Span, key string) string {
	v, _ := s.StringTag(key)
	return v
}

func sortedKeys(m map[string]int) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func (d *demo) logPath(name string) string { return filepath.Join(d.dir, "logs", name+".log") }

// start runs a process with its output in the demo's log folder.
func (d *demo) start(name, bin string, env []string, args ...string) error {
	logFile, err := os.Create(d.logPath(name))
	if err != nil {
		return err
	}
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout = logFile
	cmd.Stderr = logFile
	// A process group of its own: a terminal's Ctrl-C reaches only this
	// command, which then stops the processes in order.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return fmt.Errorf("starting %s: %w", name, err)
	}
	d.processes = append(d.processes, cmd)
	d.names = append(d.names, name)
	return nil
}

// stopAll stops what start started, newest first, by pid.
func (d *demo) stopAll() {
	for i := len(d.processes) - 1; i >= 0; i-- {
		cmd := d.processes[i]
		if cmd.Process == nil {
			continue
		}
		sig := syscall.SIGTERM
		if d.names[i] == "nginx" {
			sig = syscall.SIGQUIT // nginx's graceful stop
		}
		cmd.Process.Signal(sig)
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-done
		}
		log.Printf("stopped %s (pid %d)", d.names[i], cmd.Process.Pid)
	}
	d.processes = nil
}

func (d *demo) buildFileServer() (string, error) {
	out := filepath.Join(d.dir, "fileserver")
	log.Printf("building internal/demo/fileserver")
	cmd := exec.Command("go", "build", "-o", out, "./internal/demo/fileserver")
	if msg, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("building the file server: %w: %s", err, msg)
	}
	return out, nil
}

func (d *demo) buildI386Caller() string {
	out := filepath.Join(d.dir, "sendfile_i386")
	cmd := exec.Command("gcc", "-m32", "-static", "-O2", "-o", out, "test/callers/sendfile_i386.c")
	if err := cmd.Run(); err != nil {
		return ""
	}
	log.Printf("built the 32-bit caller %s (sendfile32, i386 syscall 187)", out)
	return out
}

func (d *demo) nginxConfig(port int, root string) (string, error) {
	prefix, err := filepath.Abs(filepath.Join(d.dir, "nginx"))
	if err != nil {
		return "", err
	}
	if err := os.MkdirAll(prefix, 0o755); err != nil {
		return "", err
	}
	conf := fmt.Sprintf(`daemon off;
worker_processes 1;
user www-data;
pid %[1]s/nginx.pid;
error_log %[1]s/error.log;
events { worker_connections 64; }
http {
    access_log off;
    sendfile on;
    client_body_temp_path %[1]s/body;
    proxy_temp_path %[1]s/proxy;
    fastcgi_temp_path %[1]s/fastcgi;
    uwsgi_temp_path %[1]s/uwsgi;
    scgi_temp_path %[1]s/scgi;
    server {
        listen 127.0.0.1:%[2]d;
        root %[3]s;
    }
}
`, prefix, port, root)
	path := filepath.Join(prefix, "nginx.conf")
	return path, os.WriteFile(path, []byte(conf), 0o644)
}

func download(url string) (int64, error) {
	resp, err := http.Get(url)
	if err != nil {
		return 0, fmt.Errorf("downloading %s: %w", url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("downloading %s: status %s", url, resp.Status)
	}
	return io.Copy(io.Discard, resp.Body)
}

func writeFile(path string, size int) error {
	data := make([]byte, size)
	for i := range data {
		data[i] = byte(i * 31)
	}
	return os.WriteFile(path, data, 0o644)
}

func waitHTTP(ctx context.Context, url string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		if ctx.Err() != nil {
			return fmt.Errorf("interrupted while waiting for %s", url)
		}
		resp, err := http.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			err = fmt.Errorf("status %s", resp.Status)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s not ready after %s: %w", url, timeout, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func waitLog(ctx context.Context, path, text string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if ctx.Err() != nil {
			return fmt.Errorf("interrupted while waiting for %q in %s", text, path)
		}
		data, _ := os.ReadFile(path)
		if strings.Contains(string(data), text) {
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("%q not logged within %s", text, timeout)
}

func checkPortsFree(addrs ...string) error {
	for _, addr := range addrs {
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			return fmt.Errorf("port %s is taken (another Jaeger or collector running?): %w", addr, err)
		}
		ln.Close()
	}
	return nil
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

func fileExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

func envInt(name string, fallback int) int {
	value := os.Getenv(name)
	if value == "" {
		return fallback
	}
	n, err := strconv.Atoi(value)
	if err != nil {
		log.Fatalf("invalid %s %q: want a whole number", name, value)
	}
	return n
}

func envString(name, fallback string) string {
	if value := os.Getenv(name); value != "" {
		return value
	}
	return fallback
}
