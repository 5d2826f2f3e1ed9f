// Command bench measures what sendfile-otel costs the programs it traces and
// what it costs to run, next to bpftrace doing the same jobs, and writes
// docs/benchmarks.md with its plots. test/bench/run.sh builds everything and
// runs it, and `make bench` runs that script.
//
// Every measurement alternates the setups in rounds: each round runs every
// setup once, in an order rotated by one setup per round, so that noise
// from other work on the machine hits all setups alike. Costs are taken as
// ratios to the untraced run of the same round and reported as medians over
// the rounds.
//
// It must run as root: it loads BPF programs, starts nginx and reads other
// processes' /proc entries.
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// options are the driver's settings, from its flags.
type options struct {
	repoRoot     string
	agentPath    string
	symbolsPath  string // unstripped agent for perf; empty skips the profile
	workloadPath string
	workDir      string
	docPath      string
	plotDir      string
	commandLine  string

	rounds  int
	seconds float64
	rates   []float64
	phases  []string

	profileRate    float64
	profileSeconds float64
	connections    int

	// reportFrom is a results.json of an earlier run to write the report
	// from, measuring nothing.
	reportFrom string
}

// The phases, in the order they run.
const (
	phaseTight   = "tight"
	phaseRates   = "rates"
	phaseNginx   = "nginx"
	phaseProfile = "profile"
)

var allPhases = []string{phaseTight, phaseRates, phaseNginx, phaseProfile}

func main() {
	log.SetFlags(log.Ltime)
	log.SetPrefix("bench: ")
	opts, err := parseOptions(os.Args[1:])
	if err != nil {
		fmt.Fprintf(os.Stderr, "bench: %v\n", err)
		os.Exit(2)
	}
	if err := run(opts); err != nil {
		fmt.Fprintf(os.Stderr, "bench: %v\n", err)
		os.Exit(1)
	}
}

func parseOptions(args []string) (options, error) {
	var opts options
	var rates, phases string
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.StringVar(&opts.repoRoot, "repo", "../..", "repository root; the report goes to docs/ under it")
	fs.StringVar(&opts.agentPath, "agent", "", "agent binary (build/sendfile-otel of `make build`)")
	fs.StringVar(&opts.symbolsPath, "agent-symbols", "", "the agent built without -s -w, for the perf profile; empty skips the profile")
	fs.StringVar(&opts.workloadPath, "workload", "", "workload binary built from test/bench/workload")
	fs.StringVar(&opts.workDir, "work", "", "scratch directory for logs, bpftrace output and nginx; must be readable by nginx's worker user")
	fs.StringVar(&opts.commandLine, "command", "make bench", "command line to print in the report")
	fs.IntVar(&opts.rounds, "rounds", 3, "rounds of every measurement")
	fs.Float64Var(&opts.seconds, "seconds", 2.5, "seconds of each rate and nginx run; each tight loop runs a third of it")
	fs.StringVar(&rates, "rates", "10000,50000,100000,200000,400000", "offered sendfile rates in calls per second, comma-separated")
	fs.StringVar(&phases, "phases", strings.Join(allPhases, ","), "phases to run, comma-separated: "+strings.Join(allPhases, ", "))
	fs.Float64Var(&opts.profileRate, "profile-rate", 50000, "sendfile calls per second while the agent is profiled")
	fs.Float64Var(&opts.profileSeconds, "profile-seconds", 8, "seconds the agent is profiled")
	fs.IntVar(&opts.connections, "connections", 4, "keep-alive connections of the nginx load client")
	fs.StringVar(&opts.reportFrom, "report-from", "", "write the report from this results.json of an earlier run, measuring nothing")
	if err := fs.Parse(args); err != nil {
		return opts, err
	}

	if opts.reportFrom == "" && (opts.agentPath == "" || opts.workloadPath == "" || opts.workDir == "") {
		return opts, errors.New("-agent, -workload and -work are required (test/bench/run.sh sets them)")
	}
	if opts.rounds < 1 {
		return opts, fmt.Errorf("invalid -rounds %d: want at least 1", opts.rounds)
	}
	if opts.seconds <= 0 || opts.profileSeconds <= 0 {
		return opts, fmt.Errorf("invalid -seconds %g or -profile-seconds %g: want positive numbers", opts.seconds, opts.profileSeconds)
	}
	if opts.connections < 1 {
		return opts, fmt.Errorf("invalid -connections %d: want at least 1", opts.connections)
	}
	for field := range strings.SplitSeq(rates, ",") {
		rate, err := strconv.ParseFloat(strings.TrimSpace(field), 64)
		if err != nil || rate <= 0 {
			return opts, fmt.Errorf("invalid rate %q in -rates: want positive calls per second", field)
		}
		opts.rates = append(opts.rates, rate)
	}
	slices.Sort(opts.rates)
	for field := range strings.SplitSeq(phases, ",") {
		phase := strings.TrimSpace(field)
		if !slices.Contains(allPhases, phase) {
			return opts, fmt.Errorf("invalid phase %q in -phases: want %s", phase, strings.Join(allPhases, ", "))
		}
		opts.phases = append(opts.phases, phase)
	}

	root, err := filepath.Abs(opts.repoRoot)
	if err != nil {
		return opts, err
	}
	opts.repoRoot = root
	opts.docPath = filepath.Join(root, "docs", "benchmarks.md")
	opts.plotDir = filepath.Join(root, "docs", "benchmarks")
	return opts, nil
}

func (o options) runs(phase string) bool { return slices.Contains(o.phases, phase) }

// loopDuration is how long each tight loop runs.
func (o options) loopDuration() time.Duration {
	return time.Duration(o.seconds / 3 * float64(time.Second))
}

// runDuration is how long each rate and nginx run lasts.
func (o options) runDuration() time.Duration {
	return time.Duration(o.seconds * float64(time.Second))
}

// checkPrerequisites fails early, with what to install, when something the
// chosen phases need is missing. perf only gates the profile.
func checkPrerequisites(opts *options) error {
	if os.Geteuid() != 0 {
		return errors.New("run as root: the benchmarks load BPF programs and start nginx")
	}
	needBpftrace := opts.runs(phaseTight) || opts.runs(phaseRates) || opts.runs(phaseNginx)
	if _, err := exec.LookPath("bpftrace"); needBpftrace && err != nil {
		return errors.New("bpftrace not found: install it (Debian: apt-get install -y bpftrace)")
	}
	if opts.runs(phaseNginx) {
		if _, err := nginxBinary(); err != nil {
			return err
		}
	}
	if opts.runs(phaseProfile) {
		if _, err := exec.LookPath("perf"); err != nil {
			log.Printf("perf not found (Debian: apt-get install -y linux-perf): skipping the profile")
			opts.phases = slices.DeleteFunc(opts.phases, func(p string) bool { return p == phaseProfile })
		} else if opts.symbolsPath == "" {
			log.Printf("no -agent-symbols binary: skipping the profile")
			opts.phases = slices.DeleteFunc(opts.phases, func(p string) bool { return p == phaseProfile })
		}
	}
	for _, path := range []string{opts.agentPath, opts.workloadPath} {
		if _, err := os.Stat(path); err != nil {
			return fmt.Errorf("missing binary: %w", err)
		}
	}
	return nil
}

func nginxBinary() (string, error) {
	if path, err := exec.LookPath("nginx"); err == nil {
		return path, nil
	}
	if _, err := os.Stat("/usr/sbin/nginx"); err == nil {
		return "/usr/sbin/nginx", nil
	}
	return "", errors.New("nginx not found: install it (Debian: apt-get install -y nginx-light)")
}

func run(opts options) error {
	if opts.reportFrom != "" {
		return rewriteReport(opts)
	}
	if err := checkPrerequisites(&opts); err != nil {
		return err
	}
	rec, err := startReceiver()
	if err != nil {
		return err
	}
	defer rec.stop()

	b := &bench{
		opts:     opts,
		receiver: rec,
		env: tracerEnv{
			agentPath: opts.agentPath,
			endpoint:  rec.endpoint(),
			workDir:   opts.workDir,
		},
		results: results{
			Started:  time.Now().UTC(),
			Machine:  describeMachine(opts),
			Settings: describeSettings(opts),
		},
	}
	b.results.LoadBefore = loadAverage()

	start := time.Now()
	if opts.runs(phaseTight) {
		if err := b.runTight(); err != nil {
			return fmt.Errorf("tight loops: %w", err)
		}
	}
	if opts.runs(phaseRates) {
		if err := b.runRates(); err != nil {
			return fmt.Errorf("offered rates: %w", err)
		}
	}
	if opts.runs(phaseNginx) {
		if err := b.runNginx(); err != nil {
			return fmt.Errorf("nginx: %w", err)
		}
	}
	if opts.runs(phaseProfile) {
		if err := b.runProfile(); err != nil {
			return fmt.Errorf("profile: %w", err)
		}
	}
	b.results.LoadAfter = loadAverage()
	b.results.Duration = time.Since(start).Round(time.Second).String()
	b.results.Machine.AttachMode = b.attachMode

	if err := writeReport(opts, &b.results); err != nil {
		return err
	}
	log.Printf("wrote %s and its plots in %s (%s)", relativeTo(opts.repoRoot, opts.docPath),
		relativeTo(opts.repoRoot, opts.plotDir), b.results.Duration)
	return nil
}

// rewriteReport writes the report and plots again from the results.json of
// an earlier run, for changes to the report's text or plots.
func rewriteReport(opts options) error {
	data, err := os.ReadFile(opts.reportFrom)
	if err != nil {
		return err
	}
	var res results
	if err := json.Unmarshal(data, &res); err != nil {
		return fmt.Errorf("reading %s: %w", opts.reportFrom, err)
	}
	if err := writeReport(opts, &res); err != nil {
		return err
	}
	log.Printf("wrote %s from %s", relativeTo(opts.repoRoot, opts.docPath), opts.reportFrom)
	return nil
}

// relativeTo returns path relative to root, or path itself when it is not
// under root.
func relativeTo(root, path string) string {
	rel, err := filepath.Rel(root, path)
	if err != nil || strings.HasPrefix(rel, "..") {
		return path
	}
	return rel
}
