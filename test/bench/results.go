package main

import (
	"bufio"
	"bytes"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// results is everything one benchmark run measured. It is also written as
// docs/benchmarks/results.json, so that the report can be checked against
// the raw numbers.
type results struct {
	Started    time.Time `json:"started"`
	Duration   string    `json:"duration"`
	Machine    machine   `json:"machine"`
	Settings   settings  `json:"settings"`
	LoadBefore string    `json:"load_before"`
	LoadAfter  string    `json:"load_after"`

	Tight   []tightRun     `json:"tight"`
	Rates   []rateRun      `json:"rates"`
	Nginx   []nginxRun     `json:"nginx"`
	Profile *profileResult `json:"profile,omitempty"`
}

// machine describes where the benchmarks ran.
type machine struct {
	CPU        string `json:"cpu"`
	Cores      int    `json:"cores"`
	MemoryGiB  int64  `json:"memory_gib"`
	Kernel     string `json:"kernel"`
	OS         string `json:"os"`
	AttachMode string `json:"attach_mode"`
	// AttachCheck holds the per-mode lines of `sendfile-otel check`.
	AttachCheck     []string `json:"attach_check"`
	AgentVersion    string   `json:"agent_version"`
	BpftraceVersion string   `json:"bpftrace_version"`
	NginxVersion    string   `json:"nginx_version"`
	PerfVersion     string   `json:"perf_version"`
	GoVersion       string   `json:"go_version"`
}

// settings are the knobs of the run, printed with the results.
type settings struct {
	Command        string    `json:"command"`
	Rounds         int       `json:"rounds"`
	Seconds        float64   `json:"seconds"`
	LoopSeconds    float64   `json:"loop_seconds"`
	Rates          []float64 `json:"rates"`
	Phases         []string  `json:"phases"`
	ProfileRate    float64   `json:"profile_rate"`
	ProfileSeconds float64   `json:"profile_seconds"`
	Connections    int       `json:"connections"`
}

// tightRun is one setup's tight loops in one round.
type tightRun struct {
	Round int    `json:"round"`
	Order int    `json:"order"`
	Setup string `json:"setup"`
	// NsPerCall is the calling thread's CPU time per call of each
	// workload call, the measure the report's ratios use.
	NsPerCall map[string]float64 `json:"ns_per_call"`
	// WallNsPerCall is the wall-clock time per call, which also holds the
	// time the thread waited for a CPU while other work ran.
	WallNsPerCall map[string]float64 `json:"wall_ns_per_call"`
	// BPF is the kernel's run time of the tracer's programs, nil untraced.
	BPF *bpfUsage `json:"bpf,omitempty"`
	// OtherPrograms lists the tracing programs of other processes loaded
	// when the run started.
	OtherPrograms []string `json:"other_programs,omitempty"`
}

// bpfUsage is the run time of a tracer's programs while the workload made
// sendfile calls, then getppid calls.
type bpfUsage struct {
	Sendfile []programUsage `json:"sendfile"`
	Getppid  []programUsage `json:"getppid"`
	// SendfileNs sums ns per run over the programs that ran during the
	// sendfile loop, each of which runs once per sendfile call.
	SendfileNs float64 `json:"sendfile_ns"`
	// GetppidNs sums ns per run over the programs that ran on the getppid
	// calls, which only programs hooking every system call do.
	GetppidNs float64 `json:"getppid_ns"`
}

// rateRun is one setup at one offered rate in one round.
type rateRun struct {
	Round    int     `json:"round"`
	Setup    string  `json:"setup"`
	Offered  float64 `json:"offered"`
	Achieved float64 `json:"achieved"`
	Calls    int64   `json:"calls"`
	Arrived  int64   `json:"arrived"`
	// OtherArrived counts the spans or lines of other processes' sendfile
	// calls during the run, which the tracer handled too.
	OtherArrived int64            `json:"other_arrived"`
	LoopNs       int64            `json:"loop_ns"`
	CPUSeconds   float64          `json:"cpu_seconds"`
	PeakRSS      int64            `json:"peak_rss"`
	Lost         map[string]int64 `json:"lost,omitempty"`
	// OtherPrograms lists the tracing programs of other processes loaded
	// when the run started.
	OtherPrograms []string `json:"other_programs,omitempty"`
}

// nginxRun is one setup's nginx load run in one round.
type nginxRun struct {
	Round      int     `json:"round"`
	Setup      string  `json:"setup"`
	Requests   int64   `json:"requests"`
	Seconds    float64 `json:"seconds"`
	Spans      int64   `json:"spans"`
	CPUSeconds float64 `json:"cpu_seconds"`
	// OtherPrograms lists the tracing programs of other processes loaded
	// when the run started.
	OtherPrograms []string `json:"other_programs,omitempty"`
}

// profileResult is the perf profile of the agent.
type profileResult struct {
	Setup     string        `json:"setup"`
	Rate      float64       `json:"rate"`
	Achieved  float64       `json:"achieved"`
	Seconds   float64       `json:"seconds"`
	Samples   string        `json:"samples"`
	Self      []profileLine `json:"self"`
	Children  []profileLine `json:"children"`
	CPUCores  float64       `json:"cpu_cores"`
	Command   string        `json:"command"`
	KernelPct float64       `json:"kernel_pct"`
}

// profileLine is one symbol of a perf report.
type profileLine struct {
	Percent float64 `json:"percent"`
	Kernel  bool    `json:"kernel"`
	Symbol  string  `json:"symbol"`
}

func describeMachine(opts options) machine {
	m := machine{
		CPU:             cpuModel(),
		Cores:           runtime.NumCPU(),
		MemoryGiB:       memoryGiB(),
		Kernel:          kernelRelease(),
		OS:              osName(),
		AgentVersion:    commandOutput(opts.agentPath, "version"),
		AttachCheck:     attachCheck(opts.agentPath),
		BpftraceVersion: commandOutput("bpftrace", "--version"),
		PerfVersion:     commandOutput("perf", "--version"),
		GoVersion:       runtime.Version(),
	}
	if nginx, err := nginxBinary(); err == nil {
		m.NginxVersion = strings.TrimPrefix(commandOutput(nginx, "-v"), "nginx version: nginx/")
	}
	return m
}

func describeSettings(opts options) settings {
	return settings{
		Command:        opts.commandLine,
		Rounds:         opts.rounds,
		Seconds:        opts.seconds,
		LoopSeconds:    opts.loopDuration().Seconds(),
		Rates:          opts.rates,
		Phases:         opts.phases,
		ProfileRate:    opts.profileRate,
		ProfileSeconds: opts.profileSeconds,
		Connections:    opts.connections,
	}
}

func cpuModel() string {
	data, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return "unknown"
	}
	scanner := bufio.NewScanner(bytes.NewReader(data))
	for scanner.Scan() {
		name, value, ok := strings.Cut(scanner.Text(), ":")
		if ok && strings.TrimSpace(name) == "model name" {
			return strings.TrimSpace(value)
		}
	}
	return "unknown"
}

func memoryGiB() int64 {
	data, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return 0
	}
	bytes, err := parseStatusKiB(data, "MemTotal")
	if err != nil {
		return 0
	}
	return (bytes + 1<<29) >> 30
}

func kernelRelease() string {
	var uts unix.Utsname
	if err := unix.Uname(&uts); err != nil {
		return "unknown"
	}
	return unix.ByteSliceToString(uts.Release[:])
}

func osName() string {
	data, err := os.ReadFile("/etc/os-release")
	if err != nil {
		return "unknown"
	}
	for line := range strings.SplitSeq(string(data), "\n") {
		if value, ok := strings.CutPrefix(line, "PRETTY_NAME="); ok {
			return strings.Trim(value, `"`)
		}
	}
	return "unknown"
}

// commandOutput returns the first line a version command prints, on stdout
// or stderr, or "not installed".
func commandOutput(name string, args ...string) string {
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil && len(out) == 0 {
		return "not installed"
	}
	line, _, _ := strings.Cut(strings.TrimSpace(string(out)), "\n")
	return line
}

// attachCheck runs `sendfile-otel check` and returns its lines about the
// attach modes, which say which modes this kernel offers and why not.
func attachCheck(agentPath string) []string {
	out, _ := exec.Command(agentPath, "check").Output()
	var lines []string
	for line := range strings.SplitSeq(string(out), "\n") {
		mode, _, _ := strings.Cut(line, " ")
		switch mode {
		case "fentry", "kprobe", "tracepoint", "auto":
			lines = append(lines, strings.Join(strings.Fields(line), " "))
		}
	}
	return lines
}

// loadAverage returns the first three fields of /proc/loadavg.
func loadAverage() string {
	data, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	fields := strings.Fields(string(data))
	if len(fields) < 3 {
		return "unknown"
	}
	return strings.Join(fields[:3], " ")
}
