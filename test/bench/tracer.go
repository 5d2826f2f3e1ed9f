package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// tracerKind is the program that traces in a setup.
type tracerKind int

const (
	kindNone tracerKind = iota
	kindAgent
	kindBpftrace
)

// setup is one configuration under test: no tracer, the agent with some
// flags, or a bpftrace script.
type setup struct {
	ID    string // short name, used in file names and logs
	Label string // name in tables and plots
	Kind  tracerKind

	AgentArgs []string // flags added to the agent's fixed ones
	AgentEnv  []string // KEY=value pairs added to the agent's environment

	Script string // bpftrace program text
}

// The agent runs in tracepoint mode, the only one every kernel of this
// benchmark offers, and every setup names its compat setting.
var (
	setupUntraced = setup{ID: "untraced", Label: "untraced", Kind: kindNone}

	setupMetricsOn  = agentSetup("metrics-compat-on", "metrics only, compat on", "on", "--spans=false")
	setupMetricsOff = agentSetup("metrics-compat-off", "metrics only, compat off", "off", "--spans=false")
	setupSampledOn  = agentSetup("sampled-compat-on", "spans 1 %, compat on", "on").withEnv(sampledEnv...)
	setupSampledOff = agentSetup("sampled-compat-off", "spans 1 %, compat off", "off").withEnv(sampledEnv...)
	setupSpansOn    = agentSetup("spans-compat-on", "every span, compat on", "on")
	setupSpansOff   = agentSetup("spans-compat-off", "every span, compat off", "off")
	// The same without the file, socket and executable reads at enter: the
	// pair gives the cost of enrichment.
	setupSpansOffPlain = agentSetup("spans-compat-off-no-enrich", "every span, compat off, no enrichment", "off", "--enrich=false")

	setupBpftraceSum   = setup{ID: "bpftrace-sum", Label: "bpftrace sum per uid", Kind: kindBpftrace, Script: bpftraceSumScript}
	setupBpftracePrint = setup{ID: "bpftrace-print", Label: "bpftrace print each call", Kind: kindBpftrace, Script: bpftracePrintScript}
)

var sampledEnv = []string{"OTEL_TRACES_SAMPLER=traceidratio", "OTEL_TRACES_SAMPLER_ARG=0.01"}

// bpftraceSumScript sums the bytes of successful calls per user, the
// bpftrace peer of the agent's metrics.
const bpftraceSumScript = `tracepoint:syscalls:sys_exit_sendfile64 /args->ret > 0/ { @bytes[uid] = sum(args->ret); }`

// bpftracePrintScript prints one line per call, the bpftrace peer of the
// agent's spans. The tuple's first member marks an entry that enter stored,
// because a missing key reads as zeros.
const bpftracePrintScript = `tracepoint:syscalls:sys_enter_sendfile64 { @call[tid] = (1, args->out_fd, args->in_fd, args->count); }
tracepoint:syscalls:sys_exit_sendfile64 /@call[tid].0 == 1/ {
  $c = @call[tid];
  printf("%d %d %d %d %d %d %s %d\n", $c.1, $c.2, $c.3, args->ret, pid, tid, comm, uid);
  delete(@call[tid]);
}`

// bpftracePrintPidField is the index of pid among the printed fields.
const bpftracePrintPidField = 4

func agentSetup(id, label, compat string, args ...string) setup {
	return setup{
		ID:        id,
		Label:     label,
		Kind:      kindAgent,
		AgentArgs: append([]string{"--compat=" + compat}, args...),
	}
}

func (s setup) withEnv(env ...string) setup {
	s.AgentEnv = append(append([]string(nil), s.AgentEnv...), env...)
	return s
}

// emitsSpans reports whether the setup sends spans or prints lines per call.
func (s setup) emitsSpans() bool {
	switch s.Kind {
	case kindAgent:
		for _, arg := range s.AgentArgs {
			if arg == "--spans=false" {
				return false
			}
		}
		return true
	case kindBpftrace:
		return s.ID == setupBpftracePrint.ID
	}
	return false
}

// tracer is a running agent or bpftrace.
type tracer struct {
	setup  setup
	cmd    *exec.Cmd
	done   chan struct{} // closed when the process has exited
	err    error         // the exit error, valid after done
	log    string        // stderr of the agent, stdout and stderr of bpftrace
	mode   string        // the agent's attach mode, from its log
	output string        // bpftrace -o file
}

// tracerEnv holds what starting a tracer needs.
type tracerEnv struct {
	agentPath string
	endpoint  string // OTLP endpoint of the receiver
	workDir   string // logs and bpftrace output go here
}

// agentStartTimeout and bpftraceStartTimeout bound how long a tracer may
// take to attach. bpftrace compiles its script with LLVM first, so it gets longer.
const (
	agentStartTimeout    = 60 * time.Second
	bpftraceStartTimeout = 120 * time.Second
	stopTimeout          = 60 * time.Second
)

// startTracer starts the tracer of s and returns once its programs are
// attached, or nil for the untraced setup.
func startTracer(env tracerEnv, s setup, run string) (*tracer, error) {
	switch s.Kind {
	case kindAgent:
		return startAgent(env, s, run)
	case kindBpftrace:
		return startBpftrace(env, s, run)
	}
	return nil, nil
}

// startAgent runs the agent against the receiver and waits for its
// "sendfile-otel running" log line, written once the programs are attached.
func startAgent(env tracerEnv, s setup, run string) (*tracer, error) {
	args := append([]string{
		"--probe=tracepoint",
		"--log-format=json",
		"--shutdown-timeout=" + (stopTimeout / 2).String(),
	}, s.AgentArgs...)
	cmd := exec.Command(env.agentPath, args...)
	cmd.Env = append(cleanEnv(),
		"OTEL_EXPORTER_OTLP_ENDPOINT="+env.endpoint,
		"OTEL_EXPORTER_OTLP_INSECURE=true",
	)
	cmd.Env = append(cmd.Env, s.AgentEnv...)

	logPath := filepath.Join(env.workDir, run+".agent.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	ready := make(chan string, 1)
	// exec copies stderr into the watcher and Wait returns only once the
	// copy is done, so the log is complete when the tracer's done closes.
	cmd.Stderr = &lineWatcher{out: logFile, match: func(line string) bool {
		mode, ok := agentRunningMode(line)
		if ok {
			ready <- mode
		}
		return ok
	}}
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return nil, fmt.Errorf("starting the agent %s: %w", env.agentPath, err)
	}
	t := newTracer(s, cmd, logPath)
	go func() {
		<-t.done
		logFile.Close()
	}()

	select {
	case t.mode = <-ready:
		return t, nil
	case <-t.done:
		return nil, fmt.Errorf("the agent (%s) exited before it attached: %v\n%s", s.Label, t.err, tail(logPath))
	case <-time.After(agentStartTimeout):
		t.kill()
		return nil, fmt.Errorf("the agent (%s) did not attach within %s\n%s", s.Label, agentStartTimeout, tail(logPath))
	}
}

// agentRunningMode returns the attach mode of the agent's
// "sendfile-otel running" log line, and false for any other line.
func agentRunningMode(line string) (string, bool) {
	var entry struct {
		Msg  string `json:"msg"`
		Mode string `json:"mode"`
	}
	if json.Unmarshal([]byte(line), &entry) != nil || entry.Msg != "sendfile-otel running" {
		return "", false
	}
	return entry.Mode, true
}

// startBpftrace runs bpftrace with its output in a file and waits until the
// kernel reports a program attached to each of the script's tracepoints.
// bpftrace prints nothing after attaching, and its BEGIN probe runs before
// the other probes are attached, so the kernel is asked instead.
func startBpftrace(env tracerEnv, s setup, run string) (*tracer, error) {
	logPath := filepath.Join(env.workDir, run+".bpftrace.log")
	outputPath := filepath.Join(env.workDir, run+".bpftrace.out")
	logFile, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	defer logFile.Close()

	cmd := exec.Command("bpftrace", "-o", outputPath, "-e", s.Script)
	cmd.Env = cleanEnv()
	cmd.Stdout = logFile
	cmd.Stderr = logFile
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting bpftrace: %w", err)
	}
	t := newTracer(s, cmd, logPath)
	t.output = outputPath

	want := strings.Count(s.Script, "tracepoint:")
	deadline := time.Now().Add(bpftraceStartTimeout)
	for {
		attached, err := attachedTracepoints(cmd.Process.Pid)
		if err == nil && len(attached) >= want {
			return t, nil
		}
		select {
		case <-t.done:
			return nil, fmt.Errorf("bpftrace (%s) exited before it attached: %v\n%s", s.Label, t.err, tail(logPath))
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.kill()
			return nil, fmt.Errorf("bpftrace (%s) did not attach within %s (attached: %v, last error: %v)\n%s",
				s.Label, bpftraceStartTimeout, attached, err, tail(logPath))
		}
	}
}

func newTracer(s setup, cmd *exec.Cmd, logPath string) *tracer {
	t := &tracer{setup: s, cmd: cmd, done: make(chan struct{}), log: logPath}
	go func() {
		t.err = cmd.Wait()
		close(t.done)
	}()
	return t
}

// pid returns the tracer's process id, or 0 for the untraced setup's nil tracer.
func (t *tracer) pid() int {
	if t == nil {
		return 0
	}
	return t.cmd.Process.Pid
}

// stop sends the tracer its stop signal and waits for it to exit. The
// agent flushes its spans on SIGTERM, and bpftrace writes its output on SIGINT.
func (t *tracer) stop() error {
	if t == nil {
		return nil
	}
	sig := syscall.SIGTERM
	if t.setup.Kind == kindBpftrace {
		sig = syscall.SIGINT
	}
	if err := t.cmd.Process.Signal(sig); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("signalling %s (pid %d): %w", t.setup.Label, t.pid(), err)
	}
	select {
	case <-t.done:
	case <-time.After(stopTimeout):
		t.kill()
		return fmt.Errorf("%s (pid %d) did not exit within %s of %s; killed it\n%s",
			t.setup.Label, t.pid(), stopTimeout, sig, tail(t.log))
	}
	if t.err != nil {
		return fmt.Errorf("%s (pid %d) exited with %v\n%s", t.setup.Label, t.pid(), t.err, tail(t.log))
	}
	return nil
}

// kill ends the tracer's process, which this program started, and waits.
func (t *tracer) kill() {
	_ = t.cmd.Process.Kill()
	<-t.done
}

// lineWatcher writes everything to out and calls match on each complete
// line until match returns true once.
type lineWatcher struct {
	out     io.Writer
	match   func(string) bool
	partial []byte
	matched bool
}

func (w *lineWatcher) Write(p []byte) (int, error) {
	if !w.matched {
		w.partial = append(w.partial, p...)
		for {
			line, rest, ok := bytes.Cut(w.partial, []byte("\n"))
			if !ok {
				break
			}
			if w.match(string(line)) {
				w.matched = true
				w.partial = nil
				break
			}
			w.partial = rest
		}
	}
	return w.out.Write(p)
}

// cleanEnv returns this process's environment without the variables that
// would change how a tracer behaves, except GOGC and OTEL_BSP_*, which are
// left for experiments with the agent's span pipeline.
func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		// OTEL_BSP_* stays, like GOGC: sizing experiments set them for the agent.
		if (strings.HasPrefix(kv, "OTEL_") && !strings.HasPrefix(kv, "OTEL_BSP_")) || strings.HasPrefix(kv, "SENDFILE_OTEL_") || strings.HasPrefix(kv, "BPFTRACE_") {
			continue
		}
		env = append(env, kv)
	}
	return env
}

// tail returns the last lines of a log file, for error messages.
func tail(path string) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Sprintf("(log %s unreadable: %v)", path, err)
	}
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	if len(lines) > 20 {
		lines = lines[len(lines)-20:]
	}
	return strings.Join(lines, "\n")
}

// countOutputLines counts the call lines of a bpftrace print output whose
// pid field is pid, and those of other processes. Other lines, such as
// "Attaching 2 probes..." and the maps printed at exit, count in neither.
func countOutputLines(path string, pid int) (mine, others int64, err error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, 0, err
	}
	defer f.Close()
	want := fmt.Sprint(pid)
	scanner := bufio.NewScanner(f)
	scanner.Buffer(make([]byte, 64<<10), 1<<20)
	for scanner.Scan() {
		fields := strings.Fields(scanner.Text())
		if len(fields) < 8 || strings.HasPrefix(fields[0], "@") {
			continue
		}
		if fields[bpftracePrintPidField] == want {
			mine++
		} else {
			others++
		}
	}
	return mine, others, scanner.Err()
}
