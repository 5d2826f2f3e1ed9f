//go:build linux

package e2e

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"golang.org/x/sys/unix"

	"github.com/sendfile-otel/sendfile-otel/bpf"
	"github.com/sendfile-otel/sendfile-otel/otelbridge"
)

// pipeline is the agent's path from kernel to spans, in this process:
// probe, reader goroutine, bridge with the kernel enricher, and an
// in-memory exporter.
type pipeline struct {
	probe    *bpf.Probe
	exporter *tracetest.InMemoryExporter
	done     chan struct{}
}

func startPipeline(t *testing.T, opts bpf.Options) *pipeline {
	t.Helper()
	requireRoot(t)
	if mode := os.Getenv("SENDFILE_OTEL_TEST_PROBE"); mode != "" && opts.Mode == "" {
		opts.Mode = bpf.Mode(mode)
	}
	probe, err := bpf.Open(opts)
	if err != nil {
		skipOrFail(t, "attach mode %s not available: %v", opts.Mode, err)
	}
	exporter := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exporter))
	bridge, err := otelbridge.New(otelbridge.Config{TracerProvider: tp, Enricher: otelbridge.NewKernelEnricher(otelbridge.EnricherOptions{})})
	if err != nil {
		t.Fatal(err)
	}
	p := &pipeline{probe: probe, exporter: exporter, done: make(chan struct{})}
	go func() {
		defer close(p.done)
		var ev bpf.Event
		for {
			err := probe.ReadEvent(&ev)
			if errors.Is(err, bpf.ErrStopped) || errors.Is(err, bpf.ErrClosed) {
				return
			}
			if err == nil {
				bridge.HandleEvent(&ev)
			}
		}
	}()
	t.Cleanup(func() { probe.Close() })
	return p
}

// spans stops the probe, waits for the last events and returns every
// span's attributes.
func (p *pipeline) spans(t *testing.T) []map[string]attribute.Value {
	t.Helper()
	p.probe.Stop()
	select {
	case <-p.done:
	case <-time.After(30 * time.Second):
		t.Fatal("the reader did not finish within 30 s")
	}
	var out []map[string]attribute.Value
	for _, s := range p.exporter.GetSpans() {
		attrs := map[string]attribute.Value{}
		for _, kv := range s.Attributes {
			attrs[string(kv.Key)] = kv.Value
		}
		out = append(out, attrs)
	}
	return out
}

func ownPid() []uint32 { return []uint32{uint32(os.Getpid())} }

// findSpan returns the spans where every given attribute has that value.
func findSpans(spans []map[string]attribute.Value, want map[string]any) []map[string]attribute.Value {
	var out []map[string]attribute.Value
	for _, s := range spans {
		match := true
		for key, value := range want {
			got, ok := s[key]
			if !ok || fmt.Sprint(got.AsInterface()) != fmt.Sprint(value) {
				match = false
				break
			}
		}
		if match {
			out = append(out, s)
		}
	}
	return out
}

func str(s map[string]attribute.Value, key string) string {
	v, ok := s[key]
	if !ok {
		return "<absent>"
	}
	return fmt.Sprint(v.AsInterface())
}

func TestNginxSpanNamesFileAndPeer(t *testing.T) {
	for _, network := range []string{"tcp4", "tcp6"} {
		t.Run(network, func(t *testing.T) {
			root := worldDir(t)
			dir := filepath.Join(root, "srv", "www", "videos")
			if err := os.MkdirAll(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			path := filepath.Join(dir, "clip.bin")
			writeFile(t, path, 64<<10)
			host := "127.0.0.1"
			if network == "tcp6" {
				host = "::1"
			}
			web := startNginxOn(t, root, host)
			worker := web.workers(t)[0]
			p := startPipeline(t, bpf.Options{Filter: bpf.Filter{TGIDs: []uint32{uint32(worker)}}})

			conn, err := net.Dial(network, net.JoinHostPort(host, strconv.Itoa(web.port)))
			if err != nil {
				t.Fatal(err)
			}
			clientPort := conn.LocalAddr().(*net.TCPAddr).Port
			fmt.Fprintf(conn, "GET /srv/www/videos/clip.bin HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n")
			body, err := io.ReadAll(conn)
			conn.Close()
			if err != nil || len(body) < 64<<10 {
				t.Fatalf("download: %d bytes, %v", len(body), err)
			}

			spans := findSpans(p.spans(t), map[string]any{"file.path": path})
			if len(spans) == 0 {
				t.Fatalf("no span with file.path %s", path)
			}
			s := spans[0]
			checks := map[string]string{
				"network.peer.port":    strconv.Itoa(clientPort),
				"network.local.port":   strconv.Itoa(web.port),
				"network.peer.address": host,
				"network.transport":    "tcp",
				"sendfile.out.kind":    "socket",
				"network.type":         map[string]string{"tcp4": "ipv4", "tcp6": "ipv6"}[network],
			}
			for key, want := range checks {
				if got := str(s, key); got != want {
					t.Errorf("%s = %s, want %s", key, got, want)
				}
			}
			var st unix.Stat_t
			if err := unix.Stat(path, &st); err != nil {
				t.Fatal(err)
			}
			if got := str(s, "file.inode"); got != strconv.FormatUint(st.Ino, 10) {
				t.Errorf("file.inode = %s, want %d", got, st.Ino)
			}
			if got := str(s, "process.executable.name"); got != "nginx" {
				t.Errorf("process.executable.name = %s, want nginx", got)
			}
		})
	}
}

func TestDestinationKinds(t *testing.T) {
	dir := t.TempDir()
	inPath := filepath.Join(dir, "in.bin")
	writeFile(t, inPath, 4096)
	in, err := os.Open(inPath)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	outPath := filepath.Join(dir, "copy.bin")
	outFile, err := os.Create(outPath)
	if err != nil {
		t.Fatal(err)
	}
	defer outFile.Close()
	devNull, err := os.OpenFile("/dev/null", os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer devNull.Close()
	pipeR, pipeW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer pipeR.Close()
	defer pipeW.Close()

	p := startPipeline(t, bpf.Options{Filter: bpf.Filter{TGIDs: ownPid()}})
	for i, out := range []*os.File{pipeW, outFile, devNull} {
		off := int64(0)
		if _, err := unix.Sendfile(int(out.Fd()), int(in.Fd()), &off, 100+i); err != nil {
			t.Fatal(err)
		}
	}
	spans := p.spans(t)

	cases := []struct {
		count    int
		kind     string
		wantPath string
	}{
		{100, "pipe", "<absent>"},
		{101, "file", outPath},
		{102, "char_device", "/dev/null"},
	}
	for _, tc := range cases {
		found := findSpans(spans, map[string]any{"sendfile.count": tc.count})
		if len(found) != 1 {
			t.Errorf("%d spans with count %d, want 1", len(found), tc.count)
			continue
		}
		if got := str(found[0], "sendfile.out.kind"); got != tc.kind {
			t.Errorf("count %d: sendfile.out.kind = %s, want %s", tc.count, got, tc.kind)
		}
		if got := str(found[0], "sendfile.out.path"); got != tc.wantPath {
			t.Errorf("count %d: sendfile.out.path = %s, want %s", tc.count, got, tc.wantPath)
		}
		if got := str(found[0], "file.path"); got != inPath {
			t.Errorf("count %d: file.path = %s, want %s", tc.count, got, inPath)
		}
	}
}

func TestLongPathsAreMarkedTruncated(t *testing.T) {
	root := t.TempDir()
	deep := root
	for i := 0; i < 40; i++ { // deeper than the kernel walk's 32 steps
		deep = filepath.Join(deep, fmt.Sprintf("d%02d", i))
	}
	long := root
	for i := 0; i < 4; i++ { // longer than the walk's 512 bytes
		long = filepath.Join(long, strings.Repeat(string(rune('a'+i)), 200))
	}
	short := filepath.Join(root, "short.bin")
	for _, dir := range []string{deep, long} {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	files := map[int]string{201: filepath.Join(deep, "f.bin"), 202: filepath.Join(long, "f.bin"), 203: short}
	devNull, err := os.OpenFile("/dev/null", os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer devNull.Close()

	p := startPipeline(t, bpf.Options{Filter: bpf.Filter{TGIDs: ownPid()}})
	for count, path := range files {
		writeFile(t, path, 4096)
		f, err := os.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		off := int64(0)
		if _, err := unix.Sendfile(int(devNull.Fd()), int(f.Fd()), &off, count); err != nil {
			t.Fatal(err)
		}
		f.Close()
	}
	spans := p.spans(t)

	for count, path := range files {
		found := findSpans(spans, map[string]any{"sendfile.count": count})
		if len(found) != 1 {
			t.Fatalf("%d spans with count %d, want 1", len(found), count)
		}
		got := str(found[0], "file.path")
		truncated := str(found[0], "sendfile.file.path_truncated") == "true"
		if count == 203 {
			if got != path || truncated {
				t.Errorf("short path: file.path %s truncated %v, want %s untruncated", got, truncated, path)
			}
			continue
		}
		if !truncated {
			t.Errorf("count %d: path %s not marked truncated (real path %d bytes)", count, got, len(path))
		}
		if strings.HasPrefix(got, "/") || !strings.HasSuffix(path, "/"+got) {
			t.Errorf("count %d: file.path %q is not a suffix of whole components of %q", count, got, path)
		}
		if !strings.HasSuffix(got, "/f.bin") {
			t.Errorf("count %d: file.path %q lost the file name", count, got)
		}
	}
}

func TestDeletedFileIsMarked(t *testing.T) {
	path := filepath.Join(t.TempDir(), "gone.bin")
	writeFile(t, path, 4096)
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	devNull, err := os.OpenFile("/dev/null", os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer devNull.Close()

	p := startPipeline(t, bpf.Options{Filter: bpf.Filter{TGIDs: ownPid()}})
	off := int64(0)
	if _, err := unix.Sendfile(int(devNull.Fd()), int(f.Fd()), &off, 301); err != nil {
		t.Fatal(err)
	}
	found := findSpans(p.spans(t), map[string]any{"sendfile.count": 301})
	if len(found) != 1 {
		t.Fatalf("%d spans, want 1", len(found))
	}
	if got := str(found[0], "sendfile.file.deleted"); got != "true" {
		t.Errorf("sendfile.file.deleted = %s, want true", got)
	}
	if got := str(found[0], "file.path"); got != path {
		t.Errorf("file.path = %s, want the name it had, %s", got, path)
	}
}

// ownCgroup returns this process's cgroup v2 directory, wherever the
// cgroup2 file system is mounted (/sys/fs/cgroup, or /sys/fs/cgroup/unified
// on hosts that mix v1 and v2).
func ownCgroup(t *testing.T) string {
	t.Helper()
	mounts, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	mountPoint := ""
	for _, line := range strings.Split(string(mounts), "\n") {
		// Fields: id parent major:minor root mount-point options ... - type source options
		fields := strings.Fields(line)
		for i, f := range fields {
			if f == "-" && i+1 < len(fields) && fields[i+1] == "cgroup2" && len(fields) > 4 {
				mountPoint = fields[4]
			}
		}
		if mountPoint != "" {
			break
		}
	}
	if mountPoint == "" {
		skipOrFail(t, "no cgroup2 file system mounted")
	}
	data, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, "0::"); ok {
			return filepath.Join(mountPoint, rest)
		}
	}
	skipOrFail(t, "no cgroup v2 line in /proc/self/cgroup: %q", data)
	return ""
}

func TestContainerIDFromRuntimeCgroup(t *testing.T) {
	requireRoot(t)
	idBytes := make([]byte, 32)
	rand.Read(idBytes)
	id := hex.EncodeToString(idBytes)
	cgroup := filepath.Join(ownCgroup(t), "docker-"+id+".scope")
	if err := os.Mkdir(cgroup, 0o755); err != nil {
		skipOrFail(t, "cannot create a cgroup under the test's own: %v", err)
	}
	defer os.Remove(cgroup)

	inPath := filepath.Join(worldDir(t), "in.bin")
	writeFile(t, inPath, 4096)
	p := startPipeline(t, bpf.Options{Filter: bpf.Filter{Comms: []string{"busybox"}}})

	// The shell moves itself into the cgroup, then execs busybox cat,
	// which sends the file to its stdout pipe with sendfile.
	busybox, err := exec.LookPath("busybox")
	if err != nil {
		skipOrFail(t, "busybox not installed (apt-get install busybox-static)")
	}
	script := fmt.Sprintf("echo $$ > %s/cgroup.procs && exec %s cat %s", cgroup, busybox, inPath)
	cmd := exec.Command(busybox, "sh", "-c", script)
	out, err := cmd.Output()
	if err != nil || len(out) != 4096 {
		t.Fatalf("cat in the cgroup: %d bytes, %v", len(out), err)
	}
	pid := cmd.Process.Pid

	found := findSpans(p.spans(t), map[string]any{"process.pid": pid})
	if len(found) == 0 {
		t.Fatalf("no span of pid %d", pid)
	}
	if got := str(found[0], "container.id"); got != id {
		t.Errorf("container.id = %s, want %s", got, id)
	}
}

func TestExecChangesExecutableName(t *testing.T) {
	requireRoot(t)
	busybox, err := exec.LookPath("busybox")
	if err != nil {
		skipOrFail(t, "busybox not installed (apt-get install busybox-static)")
	}
	resolved, err := filepath.EvalSymlinks(busybox)
	if err != nil {
		t.Fatal(err)
	}
	inPath := filepath.Join(worldDir(t), "in.bin")
	writeFile(t, inPath, 1000)
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}

	// The child (this test binary) makes one call, then execs busybox in
	// the same pid, which makes another.
	p := startPipeline(t, bpf.Options{})
	cmd := exec.Command(self, "-test.run=^$")
	cmd.Env = append(os.Environ(), envExecChild+"="+inPath+":"+resolved)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("child: %v", err)
	}
	if len(out) != 1000 {
		t.Fatalf("child wrote %d bytes, want the file's 1000", len(out))
	}
	pid := cmd.Process.Pid
	spans := p.spans(t)
	before := findSpans(spans, map[string]any{"process.pid": pid, "sendfile.count": 100})
	if len(before) != 1 {
		t.Fatalf("%d spans of pid %d before exec, want 1", len(before), pid)
	}
	if got := str(before[0], "process.executable.name"); got != filepath.Base(self) {
		t.Errorf("before exec: process.executable.name = %s, want %s", got, filepath.Base(self))
	}
	// cat sends until sendfile returns 0, so it makes at least one call.
	after := findSpans(spans, map[string]any{"process.pid": pid, "file.path": inPath})
	var afterExec int
	for _, s := range after {
		if str(s, "sendfile.count") == "100" {
			continue
		}
		afterExec++
		if got := str(s, "process.executable.name"); got != filepath.Base(resolved) {
			t.Errorf("after exec: process.executable.name = %s, want %s", got, filepath.Base(resolved))
		}
		if got := str(s, "process.executable.path"); got != resolved && got != "<absent>" {
			t.Errorf("after exec: process.executable.path = %s, want %s", got, resolved)
		}
	}
	if afterExec == 0 {
		t.Errorf("no span of pid %d after the exec", pid)
	}
}

// envExecChild makes the test binary run execChild instead of the tests.
const envExecChild = "SENDFILE_OTEL_E2E_EXEC_CHILD"

// execChild sends 100 bytes of the file to /dev/null, then execs busybox
// cat on it; arg is "FILE:BUSYBOX".
func execChild(arg string) {
	file, busybox, _ := strings.Cut(arg, ":")
	in, err := os.Open(file)
	if err != nil {
		os.Exit(3)
	}
	devNull, err := os.OpenFile("/dev/null", os.O_WRONLY, 0)
	if err != nil {
		os.Exit(3)
	}
	off := int64(0)
	if _, err := unix.Sendfile(int(devNull.Fd()), int(in.Fd()), &off, 100); err != nil {
		os.Exit(4)
	}
	syscall.Exec(busybox, []string{"cat", file}, os.Environ())
	os.Exit(5)
}

func TestMain(m *testing.M) {
	if arg := os.Getenv(envExecChild); arg != "" {
		execChild(arg)
	}
	os.Exit(m.Run())
}
