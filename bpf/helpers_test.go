//go:build linux

package bpf

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sendfile-otel/sendfile-otel/internal/testenv"
)

// Environment variables that steer the privileged tests.
const (
	// envTestProbe picks the attach mode the tests use (default: auto).
	envTestProbe = "SENDFILE_OTEL_TEST_PROBE"
	// envCallersDir names a directory of prebuilt test callers (see test/callers).
	envCallersDir = "SENDFILE_OTEL_CALLERS_DIR"
	// envVM marks a run in an emulated VM, so the heaviest loads shrink.
	envVM = "SENDFILE_OTEL_VM"
	// envChild makes the test binary act as a child process running one scenario.
	envChild = "SENDFILE_OTEL_TEST_CHILD"
)

func TestMain(m *testing.M) {
	if scenario := os.Getenv(envChild); scenario != "" {
		os.Exit(runChild(scenario, os.Args[len(os.Args)-1]))
	}
	os.Exit(m.Run())
}

var (
	skipOrFail  = testenv.SkipOrFail
	requireRoot = testenv.RequireRoot
)

// testMode is the attach mode under test.
func testMode() Mode {
	if m := os.Getenv(envTestProbe); m != "" {
		return Mode(m)
	}
	return Auto
}

var reportedUnsupported sync.Once

// openProbe opens a probe in the mode under test, skipping when that mode
// is not available on this kernel. The tests here check the syscall's own
// fields, so enrichment is off: its programs take the verifier about a
// second per load (far longer in an emulated VM), and test/e2e covers it.
func openProbe(t testing.TB, opts Options) *Probe {
	t.Helper()
	requireRoot(t)
	if opts.Mode == "" {
		opts.Mode = testMode()
	}
	opts.NoEnrich = true
	p, err := Open(opts)
	if err != nil {
		reportedUnsupported.Do(func() { fmt.Printf("MODE-UNSUPPORTED: %s: %v\n", opts.Mode, err) })
		skipOrFail(t, "attach mode %s not available: %v", opts.Mode, err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

// compatVariant is one way the mode under test traces compat calls.
type compatVariant struct {
	name string
	opts Options
	hook string // a hook the probe must have attached, "" for any
}

// compatVariants returns the variants of the mode under test: in tracepoint
// mode BTF tracepoints and the raw tracepoint fallback, in the other modes
// the mode's own hooks only. Auto is resolved by opening a probe.
func compatVariants(t *testing.T) []compatVariant {
	t.Helper()
	mode := testMode()
	if mode == Auto {
		p := openProbe(t, Options{NoSpans: true, Compat: CompatOn})
		mode = p.Mode()
		p.Close()
	}
	if mode != Tracepoint {
		return []compatVariant{{name: string(mode), opts: Options{Mode: mode, Compat: CompatOn}}}
	}
	return []compatVariant{
		{"tp_btf", Options{Mode: Tracepoint, Compat: CompatOn}, "tp_btf:sys_enter"},
		{"raw_tracepoint", Options{Mode: Tracepoint, Compat: CompatOn, rawCompatTracepoints: true}, "raw_tracepoint:sys_enter"},
	}
}

// openCompatProbe opens the probe of a compat variant and checks that it
// attached the variant's hook.
func openCompatProbe(t *testing.T, v compatVariant) *Probe {
	t.Helper()
	p := openProbe(t, v.opts)
	if v.hook != "" && !slices.Contains(p.Hooks(), v.hook) {
		// BTF tracepoints need Linux 5.11 or newer and a kernel that allows
		// tracing programs; the raw tracepoints then stand in for them.
		skipOrFail(t, "%s not attached (hooks %v): this kernel refused the %s variant", v.hook, p.Hooks(), v.name)
	}
	return p
}

// collector reads events in the background until the probe stops.
type collector struct {
	mu     sync.Mutex
	events []Event
	errs   int
	done   chan struct{}
}

func collect(p *Probe) *collector {
	c := &collector{done: make(chan struct{})}
	go func() {
		defer close(c.done)
		var ev Event
		for {
			err := p.ReadEvent(&ev)
			if errors.Is(err, ErrStopped) || errors.Is(err, ErrClosed) || errors.Is(err, ErrNoSpans) {
				return
			}
			c.mu.Lock()
			if err != nil {
				c.errs++
			} else {
				c.events = append(c.events, ev)
			}
			c.mu.Unlock()
		}
	}()
	return c
}

// matching returns the events collected so far that match.
func (c *collector) matching(match func(*Event) bool) []Event {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []Event
	for i := range c.events {
		if match(&c.events[i]) {
			out = append(out, c.events[i])
		}
	}
	return out
}

// wait polls until n events match or the timeout passes, and returns them.
func (c *collector) wait(t testing.TB, n int, timeout time.Duration, match func(*Event) bool) []Event {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		got := c.matching(match)
		if len(got) >= n || time.Now().After(deadline) {
			return got
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// stopAndDrain stops the probe and waits until every buffered event is read.
func (c *collector) stopAndDrain(t testing.TB, p *Probe) {
	t.Helper()
	if err := p.Stop(); err != nil {
		t.Errorf("Stop: %v", err)
	}
	select {
	case <-c.done:
	case <-time.After(30 * time.Second):
		t.Fatal("the reader did not finish within 30 s of Stop")
	}
}

func byTGID(tgid int) func(*Event) bool {
	return func(e *Event) bool { return int(e.Tgid) == tgid }
}

// writeFile creates a file of size bytes, readable by every user.
func writeFile(t testing.TB, dir, name string, size int) string {
	t.Helper()
	path := filepath.Join(dir, name)
	data := make([]byte, size)
	for i := range data {
		data[i] = byte(i)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// worldDir returns a temporary directory that other users can enter.
func worldDir(t testing.TB) string {
	t.Helper()
	// t.TempDir's parent is private to the test's user, so make one beside it.
	dir, err := os.MkdirTemp("", "sendfile-otel-test-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

var (
	callersOnce sync.Once
	callersDir  string
	callersErr  error
)

// caller returns the path of a test caller program from test/callers,
// building all of them with gcc the first time unless SENDFILE_OTEL_CALLERS_DIR
// names a directory of prebuilt ones.
func caller(t testing.TB, name string) string {
	t.Helper()
	callersOnce.Do(func() {
		if dir := os.Getenv(envCallersDir); dir != "" {
			callersDir = dir
			return
		}
		callersDir, callersErr = buildCallers()
	})
	if callersErr != nil {
		skipOrFail(t, "cannot build the 32-bit test callers (install gcc-multilib): %v", callersErr)
	}
	path := filepath.Join(callersDir, name)
	if _, err := os.Stat(path); err != nil {
		skipOrFail(t, "test caller %s missing: %v", name, err)
	}
	return path
}

func buildCallers() (string, error) {
	if runtime.GOARCH != "amd64" {
		return "", fmt.Errorf("i386 callers need an x86_64 host, not %s", runtime.GOARCH)
	}
	dir, err := os.MkdirTemp("", "sendfile-otel-callers-")
	if err != nil {
		return "", err
	}
	builds := [][]string{
		{"-m32", "-static", "-O2", "-o", "sendfile_i386", "sendfile_i386.c"},
		{"-m32", "-static", "-O2", "-D_FILE_OFFSET_BITS=64", "-o", "sendfile_i386_lfs", "sendfile_i386_lfs.c"},
		{"-static", "-no-pie", "-O2", "-o", "int80", "int80.c"},
	}
	src, err := filepath.Abs("../test/callers")
	if err != nil {
		return "", err
	}
	for _, args := range builds {
		args[len(args)-1] = filepath.Join(src, args[len(args)-1])
		args[len(args)-2] = filepath.Join(dir, args[len(args)-2])
		out, err := exec.Command("gcc", args...).CombinedOutput()
		if err != nil {
			return "", fmt.Errorf("gcc %s: %w: %s", strings.Join(args, " "), err, out)
		}
	}
	return dir, nil
}

// callerReport is the key=value line a test caller prints about its call.
type callerReport map[string]int64

func parseReport(t testing.TB, out []byte) callerReport {
	t.Helper()
	r := callerReport{}
	scanner := bufio.NewScanner(strings.NewReader(string(out)))
	for scanner.Scan() {
		for _, field := range strings.Fields(scanner.Text()) {
			key, value, ok := strings.Cut(field, "=")
			if !ok {
				continue
			}
			n, err := strconv.ParseInt(value, 10, 64)
			if err != nil {
				t.Fatalf("caller output %q: field %s: %v", out, field, err)
			}
			r[key] = n
		}
	}
	if _, ok := r["pid"]; !ok {
		t.Fatalf("caller output has no pid: %q", out)
	}
	return r
}

// runCaller runs a test caller and returns its report.
func runCaller(t testing.TB, path string, args ...string) callerReport {
	t.Helper()
	out, err := exec.Command(path, args...).Output()
	if err != nil {
		t.Fatalf("%s %v: %v", path, args, err)
	}
	return parseReport(t, out)
}

// heavy scales a load down in an emulated VM, where every call is slower.
func heavy(n int) int {
	if os.Getenv(envVM) == "1" {
		return n / 10
	}
	return n
}

// offsetSink keeps every offsetVar reachable from a global, so each one
// lives on the heap, where objects never move, and is never freed while a
// test passes its address to the kernel as a plain uintptr.
var (
	offsetSinkMu sync.Mutex
	offsetSink   []*int64
)

// offsetVar returns the address of an int64 holding v, for passing to
// rawSendfile. A local variable would not do: its address, once converted
// to uintptr, keeps nothing alive, and a goroutine's stack moves as it grows.
func offsetVar(v int64) *int64 {
	p := new(int64)
	atomic.StoreInt64(p, v)
	offsetSinkMu.Lock()
	offsetSink = append(offsetSink, p)
	offsetSinkMu.Unlock()
	return p
}
