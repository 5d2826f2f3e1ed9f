package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"log"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// bench runs the phases and collects their results.
type bench struct {
	opts       options
	receiver   *receiver
	env        tracerEnv
	results    results
	attachMode string
}

// Workload calls of the tight loops.
const (
	callSendfileNull = "sendfile-null"
	callSendfileTCP  = "sendfile-tcp"
	callGetppid      = "getppid"
)

var tightCalls = []string{callSendfileNull, callSendfileTCP, callGetppid}

// The setups of each phase. The first of tightSetups and nginxSetups is
// the untraced baseline of the ratios.
var (
	tightSetups = []setup{
		setupUntraced,
		setupMetricsOn, setupMetricsOff,
		setupSampledOn, setupSampledOff,
		setupSpansOn, setupSpansOff, setupSpansOffPlain,
		setupBpftraceSum, setupBpftracePrint,
	}
	rateSetups  = []setup{setupSpansOff, setupBpftracePrint}
	nginxSetups = []setup{
		setupUntraced,
		setupMetricsOn, setupMetricsOff,
		setupSampledOn,
		setupSpansOn, setupSpansOff, setupSpansOffPlain,
		setupBpftraceSum, setupBpftracePrint,
	}
)

// bpfStatsDuration is how long each loop runs while the kernel counts the
// programs' run time. Statistics cost time on every program run, so they
// are on only then, never during the timed loops.
const bpfStatsDuration = 500 * time.Millisecond

// Settings of waitQuiet. The batch span processor holds spans for up to
// 1 s, so quietFor is longer.
const (
	quietPoll     = 250 * time.Millisecond
	quietFor      = 1200 * time.Millisecond
	quietCPUShare = 0.05
	quietTimeout  = 60 * time.Second
)

// rotated returns the items in the order of round r: shifted by r.
func rotated[T any](items []T, r int) []T {
	out := make([]T, 0, len(items))
	for i := range items {
		out = append(out, items[(i+r)%len(items)])
	}
	return out
}

// workloadResult is the JSON line the workload binary prints.
type workloadResult struct {
	Call      string  `json:"call"`
	Calls     int64   `json:"calls"`
	ElapsedNs int64   `json:"elapsed_ns"`
	CPUNs     int64   `json:"cpu_ns"`
	Rate      float64 `json:"rate"`
	Pid       int     `json:"pid"`
}

// cpuNsPerCall is the calling thread's CPU time per call.
func (w workloadResult) cpuNsPerCall() float64 { return float64(w.CPUNs) / float64(w.Calls) }

// wallNsPerCall is the wall-clock time per call.
func (w workloadResult) wallNsPerCall() float64 { return float64(w.ElapsedNs) / float64(w.Calls) }

func (w workloadResult) achievedRate() float64 {
	return float64(w.Calls) / (float64(w.ElapsedNs) / 1e9)
}

// runWorkload runs the workload binary once. A rate of 0 loops as fast as
// it can for d after a short warm-up. Any other rate makes exactly rate*d
// calls at that pace and no warm-up, so that every call the process made is
// one the tracer should report.
func (b *bench) runWorkload(call string, d time.Duration, rate float64) (workloadResult, error) {
	warmup := "50ms"
	if rate > 0 {
		warmup = "0s"
	}
	cmd := exec.Command(b.opts.workloadPath,
		"-call", call,
		"-duration", d.String(),
		"-rate", fmt.Sprint(rate),
		"-warmup", warmup,
	)
	// Go preempts a goroutine that runs for long with a signal, and a
	// signal that arrives during sendfile makes the kernel restart the
	// call, which tracers then see as two calls.
	cmd.Env = append(os.Environ(), "GODEBUG=asyncpreemptoff=1")
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return workloadResult{}, fmt.Errorf("workload %s: %w: %s", call, err, strings.TrimSpace(stderr.String()))
	}
	var res workloadResult
	if err := json.Unmarshal(out, &res); err != nil || res.Calls <= 0 || res.ElapsedNs <= 0 {
		return workloadResult{}, fmt.Errorf("workload %s printed %q, want a JSON result with calls and elapsed_ns", call, out)
	}
	return res, nil
}

// start starts a setup's tracer and remembers the agent's attach mode.
func (b *bench) start(s setup, run string) (*tracer, error) {
	t, err := startTracer(b.env, s, run)
	if err != nil {
		return nil, err
	}
	if t != nil && t.mode != "" {
		b.attachMode = t.mode
	}
	return t, nil
}

// runTight times the tight loops of every setup, round after round.
func (b *bench) runTight() error {
	loop := b.opts.loopDuration()
	for round := range b.opts.rounds {
		for order, s := range rotated(tightSetups, round) {
			log.Printf("tight loops, round %d/%d: %s", round+1, b.opts.rounds, s.Label)
			run, err := b.runTightSetup(s, loop)
			if err != nil {
				return fmt.Errorf("%s, round %d: %w", s.Label, round+1, err)
			}
			run.Round, run.Order = round, order
			b.results.Tight = append(b.results.Tight, run)
		}
	}
	return nil
}

func (b *bench) runTightSetup(s setup, loop time.Duration) (run tightRun, err error) {
	run = tightRun{Setup: s.ID, NsPerCall: make(map[string]float64), WallNsPerCall: make(map[string]float64)}
	t, err := b.start(s, "tight-"+s.ID)
	if err != nil {
		return run, err
	}
	defer func() { err = errors.Join(err, t.stop()) }()

	if run.OtherPrograms, err = otherTracingPrograms(t.pid()); err != nil {
		return run, err
	}
	for _, call := range tightCalls {
		res, err := b.runWorkload(call, loop, 0)
		if err != nil {
			return run, err
		}
		run.NsPerCall[call] = res.cpuNsPerCall()
		run.WallNsPerCall[call] = res.wallNsPerCall()
	}
	if t != nil {
		run.BPF, err = b.measureBPF(t)
	}
	return run, err
}

// measureBPF runs a sendfile loop, then a getppid loop, with the kernel's
// BPF statistics on, and returns the run time of the tracer's programs.
func (b *bench) measureBPF(t *tracer) (*bpfUsage, error) {
	ids, err := programIDs(t.pid())
	if err != nil {
		return nil, fmt.Errorf("listing the programs of %s: %w", t.setup.Label, err)
	}
	stats, err := enableBPFStats()
	if err != nil {
		return nil, err
	}
	defer stats.Close()

	before, err := snapshotPrograms(ids)
	if err != nil {
		return nil, err
	}
	if _, err := b.runWorkload(callSendfileNull, bpfStatsDuration, 0); err != nil {
		return nil, err
	}
	afterSendfile, err := snapshotPrograms(ids)
	if err != nil {
		return nil, err
	}
	getppid, err := b.runWorkload(callGetppid, bpfStatsDuration, 0)
	if err != nil {
		return nil, err
	}
	afterGetppid, err := snapshotPrograms(ids)
	if err != nil {
		return nil, err
	}

	usage := &bpfUsage{
		Sendfile: programUsages(before, afterSendfile),
		Getppid:  programUsages(afterSendfile, afterGetppid),
	}
	for _, p := range usage.Sendfile {
		usage.SendfileNs += p.NsPerRun
	}
	// A program runs on getppid when it hooks every system call (the raw
	// tracepoints of --compat=on). Sendfile hooks may run in this window
	// too, for other processes' calls, but far less often than getppid.
	for i, p := range usage.Getppid {
		if p.Runs >= uint64(getppid.Calls/2) {
			usage.Getppid[i].EveryCall = true
			usage.GetppidNs += p.NsPerRun
		}
	}
	return usage, nil
}

// rateCase is one setup at one offered rate.
type rateCase struct {
	setup setup
	rate  float64
}

// runRates offers sendfile calls at fixed rates to the span setups and
// measures what arrives and what the tracer costs.
func (b *bench) runRates() error {
	var cases []rateCase
	for _, s := range rateSetups {
		for _, rate := range b.opts.rates {
			cases = append(cases, rateCase{setup: s, rate: rate})
		}
	}
	for round := range b.opts.rounds {
		for _, c := range rotated(cases, round) {
			log.Printf("offered rate, round %d/%d: %s at %.0f calls/s", round+1, b.opts.rounds, c.setup.Label, c.rate)
			run, err := b.runRate(c)
			if err != nil {
				return fmt.Errorf("%s at %.0f calls/s, round %d: %w", c.setup.Label, c.rate, round+1, err)
			}
			run.Round = round
			b.results.Rates = append(b.results.Rates, run)
		}
	}
	return nil
}

func (b *bench) runRate(c rateCase) (run rateRun, err error) {
	run = rateRun{Setup: c.setup.ID, Offered: c.rate}
	b.receiver.reset()
	t, err := b.start(c.setup, fmt.Sprintf("rate-%s-%.0f", c.setup.ID, c.rate))
	if err != nil {
		return run, err
	}
	stopped := false
	defer func() {
		if !stopped {
			err = errors.Join(err, t.stop())
		}
	}()

	if run.OtherPrograms, err = otherTracingPrograms(t.pid()); err != nil {
		return run, err
	}
	cpuBefore, err := cpuTime(t.pid())
	if err != nil {
		return run, err
	}
	res, err := b.runWorkload(callSendfileNull, b.opts.runDuration(), c.rate)
	if err != nil {
		return run, err
	}
	if err := b.waitQuiet(t); err != nil {
		return run, err
	}
	cpuAfter, err := cpuTime(t.pid())
	if err != nil {
		return run, err
	}
	if run.PeakRSS, err = peakRSS(t.pid()); err != nil {
		return run, err
	}
	stopped = true
	if err := t.stop(); err != nil {
		return run, err
	}

	run.Calls = res.Calls
	run.LoopNs = res.ElapsedNs
	run.Achieved = res.achievedRate()
	run.CPUSeconds = (cpuAfter - cpuBefore).Seconds()
	switch c.setup.Kind {
	case kindAgent:
		counts := b.receiver.counts()
		run.Arrived = counts.ByPid[int64(res.Pid)]
		run.OtherArrived = counts.Spans - run.Arrived
		run.Lost = counts.Lost
	case kindBpftrace:
		if run.Arrived, run.OtherArrived, err = countOutputLines(t.output, res.Pid); err != nil {
			return run, fmt.Errorf("counting the lines bpftrace printed: %w", err)
		}
		// The output of one run can be tens of MiB: keep only its count.
		_ = os.Remove(t.output)
	}
	return run, nil
}

// waitQuiet waits until the tracer has worked through what the workload
// left: over the last quietFor it used less than quietCPUShare of a core
// and no spans arrived. An idle tracer still wakes up now and then (the
// agent polls its ring buffer every flush interval), so its CPU time never
// stops growing altogether.
func (b *bench) waitQuiet(t *tracer) error {
	type sample struct {
		at    time.Time
		cpu   time.Duration
		spans int64
	}
	read := func() (sample, error) {
		cpu, err := cpuTime(t.pid())
		return sample{at: time.Now(), cpu: cpu, spans: b.receiver.spanCount()}, err
	}

	first, err := read()
	if err != nil {
		return err
	}
	window := []sample{first}
	deadline := first.at.Add(quietTimeout)
	for {
		time.Sleep(quietPoll)
		now, err := read()
		if err != nil {
			return err
		}
		window = append(window, now)
		for len(window) > 1 && now.at.Sub(window[1].at) >= quietFor {
			window = window[1:]
		}
		oldest := window[0]
		if elapsed := now.at.Sub(oldest.at); elapsed >= quietFor &&
			now.spans == oldest.spans &&
			float64(now.cpu-oldest.cpu) <= quietCPUShare*float64(elapsed) {
			return nil
		}
		if now.at.After(deadline) {
			return fmt.Errorf("%s still busy %s after the workload ended", t.setup.Label, quietTimeout)
		}
	}
}

// runNginx measures nginx's requests per second with each setup tracing.
func (b *bench) runNginx() error {
	nginxPath, err := nginxBinary()
	if err != nil {
		return err
	}
	dir := filepath.Join(b.opts.workDir, "nginx")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	server, err := startNginx(nginxPath, dir)
	if err != nil {
		return err
	}
	defer server.stop()

	// Warm the page cache, nginx's open file state and the loopback path.
	if _, err := runLoad(server.address(), b.opts.connections, time.Second); err != nil {
		return err
	}
	for round := range b.opts.rounds {
		for _, s := range rotated(nginxSetups, round) {
			log.Printf("nginx, round %d/%d: %s", round+1, b.opts.rounds, s.Label)
			run, err := b.runNginxSetup(server, s)
			if err != nil {
				return fmt.Errorf("%s, round %d: %w", s.Label, round+1, err)
			}
			run.Round = round
			b.results.Nginx = append(b.results.Nginx, run)
		}
	}
	return nil
}

func (b *bench) runNginxSetup(server *nginxServer, s setup) (run nginxRun, err error) {
	run = nginxRun{Setup: s.ID}
	b.receiver.reset()
	t, err := b.start(s, "nginx-"+s.ID)
	if err != nil {
		return run, err
	}
	stopped := false
	defer func() {
		if !stopped {
			err = errors.Join(err, t.stop())
		}
	}()

	if run.OtherPrograms, err = otherTracingPrograms(t.pid()); err != nil {
		return run, err
	}
	var cpuBefore time.Duration
	if t != nil {
		if cpuBefore, err = cpuTime(t.pid()); err != nil {
			return run, err
		}
	}
	load, err := runLoad(server.address(), b.opts.connections, b.opts.runDuration())
	if err != nil {
		return run, err
	}
	if t != nil {
		cpuAfter, err := cpuTime(t.pid())
		if err != nil {
			return run, err
		}
		run.CPUSeconds = (cpuAfter - cpuBefore).Seconds()
	}
	stopped = true
	if err := t.stop(); err != nil {
		return run, err
	}
	run.Requests = load.Requests
	run.Seconds = load.Elapsed.Seconds()
	run.Spans = b.receiver.spanCount()
	if s.Kind == kindBpftrace {
		_ = os.Remove(t.output)
	}
	return run, nil
}

// runProfile records the agent's call stacks with perf while it turns
// every call of a paced loop into a span.
func (b *bench) runProfile() error {
	s := rateSetups[0]
	log.Printf("profile: %s at %.0f calls/s for %.0f s", s.Label, b.opts.profileRate, b.opts.profileSeconds)
	env := b.env
	env.agentPath = b.opts.symbolsPath
	b.receiver.reset()
	t, err := startTracer(env, s, "profile")
	if err != nil {
		return err
	}
	defer t.stop()

	// perf records the agent for as long as its sleep child runs, which
	// covers the workload with a margin on both ends.
	d := time.Duration(b.opts.profileSeconds * float64(time.Second))
	dataPath := filepath.Join(b.opts.workDir, "perf.data")
	perfLog := filepath.Join(b.opts.workDir, "perf-record.log")
	logFile, err := os.Create(perfLog)
	if err != nil {
		return err
	}
	defer logFile.Close()
	perf := exec.Command("perf", "record", "-F", "999", "-g", "-p", fmt.Sprint(t.pid()), "-o", dataPath,
		"--", "sleep", fmt.Sprint((d + 2*time.Second).Seconds()))
	perf.Stdout, perf.Stderr = logFile, logFile
	if err := perf.Start(); err != nil {
		return fmt.Errorf("starting perf record: %w", err)
	}
	time.Sleep(500 * time.Millisecond) // let perf open its events

	cpuBefore, cpuErr := cpuTime(t.pid())
	res, err := b.runWorkload(callSendfileNull, d, b.opts.profileRate)
	cpuAfter, cpuErr2 := cpuTime(t.pid())
	waitErr := perf.Wait()
	if err := errors.Join(err, cpuErr, cpuErr2); err != nil {
		return err
	}
	if waitErr != nil {
		return fmt.Errorf("perf record: %w\n%s", waitErr, tail(perfLog))
	}

	profile, err := readPerfReport(dataPath)
	if err != nil {
		return err
	}
	profile.Setup = s.ID
	profile.Rate = b.opts.profileRate
	profile.Achieved = res.achievedRate()
	profile.Seconds = float64(res.ElapsedNs) / 1e9
	profile.CPUCores = (cpuAfter - cpuBefore).Seconds() / profile.Seconds
	profile.Command = "perf record -F 999 -g -p AGENT_PID"
	b.results.Profile = profile
	return nil
}
