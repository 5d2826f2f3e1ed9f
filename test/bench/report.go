package main

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// Plot files, under docs/benchmarks/.
const (
	plotSendfile = "sendfile-ratio.png"
	plotGetppid  = "getppid-ratio.png"
	plotBPF      = "bpf-runtime.png"
	plotArrived  = "rate-arrived.png"
	plotCPU      = "rate-cpu.png"
	plotRSS      = "rate-rss.png"
	plotNginx    = "nginx.png"
	resultsJSON  = "results.json"
)

// Goal thresholds, as stated in docs/benchmarks.md.
const (
	goalMetricsAdded = 0.10      // metrics only: maximum added time per sendfile call, as a fraction
	goalLosslessRate = 100000.0  // every span: no loss up to this many calls per second
	goalCoresRate    = 50000.0   // every span: calls per second at which the agent's CPU is checked
	goalCores        = 0.5       // every span: maximum agent CPU at goalCoresRate, in cores
	goalRSSBytes     = 100 << 20 // every span: maximum agent peak RSS

	// rateShortfallNote flags a paced loop that reached less than this
	// share of its offered rate: it did not test that rate.
	rateShortfallNote = 0.95
)

// writeReport writes docs/benchmarks.md, its plots and the raw results.
func writeReport(opts options, res *results) error {
	if err := os.MkdirAll(opts.plotDir, 0o755); err != nil {
		return err
	}
	data, err := json.MarshalIndent(res, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(opts.plotDir, resultsJSON), append(data, '\n'), 0o644); err != nil {
		return err
	}

	r := reportData{
		opts:  opts,
		res:   res,
		tight: summarizeTight(res.Tight),
		rates: summarizeRates(res.Rates, res.Settings.Rates),
		nginx: summarizeNginx(res.Nginx),
	}
	if err := r.drawPlots(); err != nil {
		return fmt.Errorf("drawing the plots: %w", err)
	}
	return os.WriteFile(opts.docPath, []byte(r.markdown()), 0o644)
}

// reportData holds the summaries the report and plots are made from.
type reportData struct {
	opts  options
	res   *results
	tight []tightSummary
	rates []rateSummary
	nginx []nginxSummary
}

func (r *reportData) tightOf(s setup) (tightSummary, bool) {
	for _, t := range r.tight {
		if t.Setup.ID == s.ID {
			return t, true
		}
	}
	return tightSummary{}, false
}

func (r *reportData) nginxOf(s setup) (nginxSummary, bool) {
	for _, n := range r.nginx {
		if n.Setup.ID == s.ID {
			return n, true
		}
	}
	return nginxSummary{}, false
}

func (r *reportData) rateOf(s setup, rate float64) (rateSummary, bool) {
	for _, x := range r.rates {
		if x.Setup.ID == s.ID && x.Offered == rate {
			return x, true
		}
	}
	return rateSummary{}, false
}

func (r *reportData) plotPath(name string) string { return filepath.Join(r.opts.plotDir, name) }

func (r *reportData) drawPlots() error {
	if len(r.tight) > 0 {
		var labels []string
		var null, tcp, getppid, bpfSendfile, bpfGetppid []float64
		var bpfLabels []string
		for _, t := range r.tight {
			if t.Setup.Kind == kindNone {
				continue
			}
			labels = append(labels, t.Setup.Label)
			null = append(null, t.Ratio[callSendfileNull].Median)
			tcp = append(tcp, t.Ratio[callSendfileTCP].Median)
			getppid = append(getppid, t.Ratio[callGetppid].Median)
			bpfLabels = append(bpfLabels, t.Setup.Label)
			bpfSendfile = append(bpfSendfile, t.BPFSendfile.Median)
			bpfGetppid = append(bpfGetppid, t.BPFGetppid.Median)
		}
		if err := horizontalBars(r.plotPath(plotSendfile),
			"Time per 4 KiB sendfile call, relative to untraced (median over rounds)",
			"time per call / untraced time per call (ratio)", "%.2f", labels,
			[]barSeries{{Label: "sendfile to /dev/null", Values: null}, {Label: "sendfile to loopback TCP", Values: tcp}},
			[]referenceLine{{Value: 1, Label: "untraced"}, {Value: 1 + goalMetricsAdded, Label: "goal for metrics only: +10 %"}},
		); err != nil {
			return err
		}
		if err := horizontalBars(r.plotPath(plotGetppid),
			"Time per getppid call, relative to untraced (median over rounds)",
			"time per call / untraced time per call (ratio)", "%.2f", labels,
			[]barSeries{{Label: "getppid", Values: getppid}},
			[]referenceLine{{Value: 1, Label: "untraced"}},
		); err != nil {
			return err
		}
		if err := horizontalBars(r.plotPath(plotBPF),
			"Run time of the tracer's BPF programs per call (kernel BPF statistics, median)",
			"BPF run time per call (ns)", "%.0f", bpfLabels,
			[]barSeries{{Label: "per sendfile call", Values: bpfSendfile}, {Label: "per getppid call", Values: bpfGetppid}},
			nil,
		); err != nil {
			return err
		}
	}

	if len(r.rates) > 0 {
		ticks := rateTicks(r.res.Settings.Rates)
		const offeredAxis = "offered sendfile calls per second (labels: rate the loop achieved)"
		var arrived, cores, rss []lineSeries
		for _, s := range rateSetups {
			a := lineSeries{Label: s.Label + arrivalNoun(s)}
			c := lineSeries{Label: s.Label}
			m := lineSeries{Label: s.Label}
			for _, rate := range r.res.Settings.Rates {
				x, ok := r.rateOf(s, rate)
				if !ok {
					continue
				}
				// Each point is labelled with the rate the loop achieved,
				// which falls short of the offered one when tracing slows
				// the loop down.
				label := formatRate(x.Achieved.Median)
				a.X, a.Y, a.Labels = append(a.X, rate), append(a.Y, 100*x.Share.Median), append(a.Labels, label)
				c.X, c.Y, c.Labels = append(c.X, rate), append(c.Y, x.Cores.Median), append(c.Labels, label)
				m.X, m.Y, m.Labels = append(m.X, rate), append(m.Y, x.RSSMiB.Median), append(m.Labels, label)
			}
			arrived, cores, rss = append(arrived, a), append(cores, c), append(rss, m)
		}
		if err := linePlot(r.plotPath(plotArrived), "Calls that arrived, at a fixed offered rate (median)",
			offeredAxis, "calls arrived (%)", ticks, arrived, nil, legendBottomLeft); err != nil {
			return err
		}
		if err := linePlot(r.plotPath(plotCPU), "Tracer CPU time per second of load (median)",
			offeredAxis, "CPU (cores)", ticks, cores,
			[]referenceLine{{Value: goalCores, Label: "goal at 50k calls/s: half a core"}}, legendTopLeft); err != nil {
			return err
		}
		if err := linePlot(r.plotPath(plotRSS), "Tracer peak resident memory, VmHWM (median)",
			offeredAxis, "peak RSS (MiB)", ticks, rss,
			[]referenceLine{{Value: goalRSSBytes >> 20, Label: "goal: 100 MiB"}}, legendBottomLeft); err != nil {
			return err
		}
	}

	if len(r.nginx) > 0 {
		var labels []string
		var rps []float64
		for _, n := range r.nginx {
			labels = append(labels, n.Setup.Label)
			rps = append(rps, n.ReqPerSec.Median)
		}
		if err := horizontalBars(r.plotPath(plotNginx),
			fmt.Sprintf("nginx, 64 KiB file with sendfile, %d keep-alive connections (median)", r.res.Settings.Connections),
			"requests per second", "%.0f", labels,
			[]barSeries{{Label: "requests per second", Values: rps}}, nil,
		); err != nil {
			return err
		}
	}
	return nil
}

// arrivalNoun returns what counts as arrived for a setup.
func arrivalNoun(s setup) string {
	if s.Kind == kindBpftrace {
		return " (lines printed)"
	}
	return " (spans received)"
}

// markdown renders the whole report.
func (r *reportData) markdown() string {
	var b strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }

	w("# Benchmarks\n\n")
	w("What sendfile-otel costs the programs it traces, what it costs to run, and how it\n")
	w("compares with bpftrace doing the same jobs. `make bench` (the driver in\n")
	w("`test/bench/`) measured every number on this page and wrote the page and its\n")
	w("plots; rerun it to refresh them. The raw numbers are in\n")
	w("[benchmarks/%s](benchmarks/%s). What each optimisation changed, measured\n", resultsJSON, resultsJSON)
	w("before and after, is in [benchmark-history.md](benchmark-history.md), which is\n")
	w("written by hand.\n\n")

	r.writeGoals(w)
	r.writeMachine(w)
	r.writeSetups(w)
	r.writeTight(w)
	r.writeRates(w)
	r.writeNginx(w)
	r.writeProfile(w)
	r.writeRunning(w)
	return b.String()
}

type writer func(format string, args ...any)

func (r *reportData) writeGoals(w writer) {
	w("## Goals\n\n")
	w("Each goal is checked against the medians below; a range in brackets is the\n")
	w("lowest and highest value over the rounds.\n\n")
	w("| goal | measured | verdict |\n|---|---|---|\n")

	for _, s := range []setup{setupMetricsOff, setupMetricsOn} {
		t, ok := r.tightOf(s)
		if !ok {
			w("| %s: under 10 %% added time per sendfile call | not measured | not measured |\n", s.Label)
			continue
		}
		null, tcp := t.Ratio[callSendfileNull].Median-1, t.Ratio[callSendfileTCP].Median-1
		w("| %s: under 10 %% added time per sendfile call | %s to /dev/null, %s to TCP | %s |\n",
			s.Label, formatAdded(t.Ratio[callSendfileNull]), formatAdded(t.Ratio[callSendfileTCP]),
			verdict(null < goalMetricsAdded && tcp < goalMetricsAdded))
	}

	spans := rateSetups[0]
	var lossless []string
	losslessMet, losslessMeasured := true, false
	for _, rate := range r.res.Settings.Rates {
		if rate > goalLosslessRate {
			continue
		}
		x, ok := r.rateOf(spans, rate)
		if !ok {
			continue
		}
		losslessMeasured = true
		text := fmt.Sprintf("%s at %s/s", formatShare(x.Share), formatRate(rate))
		if x.Achieved.Median < rateShortfallNote*rate {
			text += fmt.Sprintf(" (the loop reached only %s/s)", formatRate(x.Achieved.Median))
			losslessMet = false
		}
		if !x.Complete {
			losslessMet = false
		}
		lossless = append(lossless, text)
	}
	if losslessMeasured {
		w("| every call a span: no loss up to 100k calls/s | %s | %s |\n", strings.Join(lossless, "; "), verdict(losslessMet))
	} else {
		w("| every call a span: no loss up to 100k calls/s | not measured | not measured |\n")
	}

	if x, ok := r.rateOf(spans, goalCoresRate); ok {
		w("| every call a span: agent under half a core at 50k calls/s | %s cores | %s |\n",
			formatSpread(x.Cores, "%.2f"), verdict(x.Cores.Median < goalCores))
	} else {
		w("| every call a span: agent under half a core at 50k calls/s | not measured (50k is not among the rates) | not measured |\n")
	}

	peak, peakRate := 0.0, 0.0
	for _, x := range r.rates {
		if x.Setup.ID == spans.ID && x.RSSMiB.Max > peak {
			peak, peakRate = x.RSSMiB.Max, x.Offered
		}
	}
	if peak > 0 {
		w("| every call a span: agent under 100 MiB RSS | at most %.0f MiB VmHWM (at %s calls/s, the highest of every run) | %s |\n",
			peak, formatRate(peakRate), verdict(peak < float64(goalRSSBytes>>20)))
	} else {
		w("| every call a span: agent under 100 MiB RSS | not measured | not measured |\n")
	}

	comparisons := r.comparisons()
	wins, total := 0, 0
	var losses []string
	for _, c := range comparisons {
		total++
		if c.agentCheaper() {
			wins++
		} else {
			losses = append(losses, c.Name)
		}
	}
	if total > 0 {
		text := fmt.Sprintf("cheaper in %d of %d comparisons", wins, total)
		if len(losses) > 0 {
			text += "; not in: " + strings.Join(losses, ", ")
		}
		w("| cheaper than bpftrace in every comparable configuration | %s | %s |\n", text, verdict(wins == total))
	}
	w("\n")

	if len(comparisons) > 0 {
		w("### Against bpftrace\n\n")
		w("The agent with `--compat=off` hooks the same two tracepoints as the bpftrace\n")
		w("scripts, so those setups are compared: metrics only with the per-uid sum, every\n")
		w("span with the per-call print. With `--compat=on` the agent also traces i386\n")
		w("calls, which bpftrace's sendfile tracepoints never see, so it has no bpftrace\n")
		w("peer. \"Ranges overlap\" marks a comparison whose order could be noise: the two\n")
		w("setups' ranges over the rounds overlap.\n\n")
		w("| comparison | sendfile-otel | bpftrace | cheaper |\n|---|---|---|---|\n")
		for _, c := range comparisons {
			who := "bpftrace"
			if c.agentCheaper() {
				who = "sendfile-otel"
			}
			if c.Agent.overlaps(c.Peer) {
				who += " (ranges overlap)"
			}
			w("| %s | %s | %s | %s |\n", c.Name, formatSpread(c.Agent, c.Format), formatSpread(c.Peer, c.Format), who)
		}
		w("\n")
	}
}

// comparison is one measured quantity of the agent next to bpftrace's.
type comparison struct {
	Name         string
	Agent, Peer  spread
	Format       string
	HigherBetter bool
}

func (c comparison) agentCheaper() bool {
	if c.HigherBetter {
		return c.Agent.Median > c.Peer.Median
	}
	return c.Agent.Median < c.Peer.Median
}

func (r *reportData) comparisons() []comparison {
	var out []comparison
	pairs := []struct {
		agent, peer setup
		name        string
	}{
		{setupMetricsOff, setupBpftraceSum, "metrics only vs sum"},
		{setupSpansOff, setupBpftracePrint, "every span vs print"},
	}
	for _, pair := range pairs {
		a, okA := r.tightOf(pair.agent)
		p, okP := r.tightOf(pair.peer)
		if okA && okP {
			out = append(out,
				comparison{Name: pair.name + ": time per sendfile call to /dev/null (ratio)", Agent: a.Ratio[callSendfileNull], Peer: p.Ratio[callSendfileNull], Format: "%.3f"},
				comparison{Name: pair.name + ": time per sendfile call to TCP (ratio)", Agent: a.Ratio[callSendfileTCP], Peer: p.Ratio[callSendfileTCP], Format: "%.3f"},
				comparison{Name: pair.name + ": BPF run time per sendfile call (ns)", Agent: a.BPFSendfile, Peer: p.BPFSendfile, Format: "%.0f"},
			)
		}
		na, okA := r.nginxOf(pair.agent)
		np, okP := r.nginxOf(pair.peer)
		if okA && okP {
			out = append(out, comparison{Name: pair.name + ": nginx requests per second (ratio)", Agent: na.Ratio, Peer: np.Ratio, Format: "%.3f", HigherBetter: true})
		}
	}
	for _, rate := range r.res.Settings.Rates {
		a, okA := r.rateOf(setupSpansOff, rate)
		p, okP := r.rateOf(setupBpftracePrint, rate)
		if okA && okP {
			out = append(out,
				comparison{Name: fmt.Sprintf("every span vs print: CPU at %s calls/s (cores)", formatRate(rate)), Agent: a.Cores, Peer: p.Cores, Format: "%.2f"},
				comparison{Name: fmt.Sprintf("every span vs print: peak RSS at %s calls/s (MiB)", formatRate(rate)), Agent: a.RSSMiB, Peer: p.RSSMiB, Format: "%.0f"},
			)
		}
	}
	return out
}

func verdict(met bool) string {
	if met {
		return "**met**"
	}
	return "**not met**"
}

// formatAdded prints a ratio spread as added time: +4.1 % (+2.0 to +6.3 %).
func formatAdded(s spread) string {
	if math.IsNaN(s.Median) {
		return "n/a"
	}
	return fmt.Sprintf("%+.1f %% (%+.1f to %+.1f %%)", 100*(s.Median-1), 100*(s.Min-1), 100*(s.Max-1))
}

// formatShare prints a share spread in percent, with the lowest round.
func formatShare(s spread) string {
	if s.Min == s.Max {
		return fmt.Sprintf("%s %%", formatPercent(s.Median))
	}
	return fmt.Sprintf("%s %% (lowest round %s %%)", formatPercent(s.Median), formatPercent(s.Min))
}

// formatPercent prints a fraction as a percentage that shows 100 only when
// nothing was lost.
func formatPercent(f float64) string {
	switch {
	case f == 1:
		return "100"
	case f > 0.999:
		return fmt.Sprintf("%.3f", 100*f)
	}
	return fmt.Sprintf("%.1f", 100*f)
}

// formatSpread prints "median (min–max)" with the given verb.
func formatSpread(s spread, format string) string {
	if math.IsNaN(s.Median) {
		return "n/a"
	}
	if s.N <= 1 || s.Min == s.Max {
		return fmt.Sprintf(format, s.Median)
	}
	return fmt.Sprintf(format+" ("+format+"–"+format+")", s.Median, s.Min, s.Max)
}

func (r *reportData) writeMachine(w writer) {
	m := r.res.Machine
	st := r.res.Settings
	w("## Machine and method\n\n")
	w("| | |\n|---|---|\n")
	w("| CPU | %s, %d cores |\n", m.CPU, m.Cores)
	w("| memory | %d GiB |\n", m.MemoryGiB)
	w("| kernel | %s (%s) |\n", m.Kernel, m.OS)
	attach := m.AttachMode
	if attach == "" {
		attach = "tracepoint"
	}
	w("| attach mode | %s, set with `--probe=tracepoint`; `sendfile-otel check` on this kernel: %s |\n", attach, summarizeCheck(m.AttachCheck))
	w("| agent | %s |\n", m.AgentVersion)
	w("| peers and tools | %s, nginx %s, %s |\n", m.BpftraceVersion, m.NginxVersion, m.PerfVersion)
	w("| driver built with | %s |\n", m.GoVersion)
	w("| started | %s, ran %s |\n", r.res.Started.Format("2006-01-02 15:04 UTC"), r.res.Duration)
	w("| load average | %s before, %s after |\n", r.res.LoadBefore, r.res.LoadAfter)
	w("| command | `%s` |\n", st.Command)
	w("| settings | %d rounds; tight loops of %.1f s each; rate and nginx runs of %.1f s; rates %s calls/s |\n\n",
		st.Rounds, st.LoopSeconds, st.Seconds, joinRates(st.Rates))

	w("**Rounds.** Each round runs every setup of a phase once, in an order rotated by\n")
	w("one setup per round, so that noise from other work on the machine hits all\n")
	w("setups alike. A cost is taken as a ratio to the untraced run of the same round,\n")
	w("then the median over the rounds is reported, with the lowest and highest round\n")
	w("in brackets. Each tracer is started before and stopped after its runs, so no two\n")
	w("tracers ever run together.\n\n")
	w("**Workload.** `test/bench/workload` makes raw system calls on one locked OS\n")
	w("thread. It calls `sendfile` for 4 KiB from a tmpfs file, with an offset pointer\n")
	w("reset to 0 before every call, to `/dev/null` or to a blocking loopback TCP\n")
	w("socket. The socket's peer, another thread of the same process, reads and\n")
	w("discards everything. The third call, `getppid`, is one that no setup hooks by\n")
	w("name. Go's asynchronous preemption is off in the workload\n")
	w("(`GODEBUG=asyncpreemptoff=1`), because a signal that lands during sendfile\n")
	w("makes the kernel restart the call, and tracers would see two. Tight loops call\n")
	w("as fast as they can. Paced loops make a fixed number of calls per second,\n")
	w("catching up in bursts and sleeping 200 µs in between.\n\n")
	w("**BPF run time.** After its timed loops, each traced setup runs a 0.5 s sendfile\n")
	w("loop and a 0.5 s getppid loop with the kernel's BPF statistics on. A\n")
	w("`BPF_ENABLE_STATS` fd turns them on, the same switch as `sysctl\n")
	w("kernel.bpf_stats_enabled=1`, and the kernel turns them off again when the fd\n")
	w("closes. The driver finds the tracer's programs through `/proc/PID/fdinfo` and\n")
	w("divides each program's run time by its run count. A sendfile call runs every\n")
	w("program once. A getppid call runs only those that hook every system call, which\n")
	w("the driver recognises by at least one run per two getppid calls. Statistics\n")
	w("stay off during the timed loops, because they add two clock reads to every\n")
	w("program run.\n\n")

	w("**Noise.** Other work shared this 2-core machine during the run (load average\n")
	w("above), so single runs vary; read the ranges, not only the medians. Time per\n")
	w("call is the calling thread's CPU time, which leaves out the time it waited for\n")
	w("a CPU; wall-clock times are in the raw results. ")
	noise := r.otherPrograms()
	if noise.names == nil {
		w("No tracing programs of other processes were loaded during the runs.\n\n")
	} else {
		w("BPF tracing programs of other\n")
		w("processes were loaded at the start of %d of %d tight-loop runs, %d of %d rate\n",
			noise.tight, len(r.res.Tight), noise.rates, len(r.res.Rates))
		w("runs and %d of %d nginx runs: %s. Those that hook sendfile or every\n",
			noise.nginx, len(r.res.Nginx), strings.Join(noise.names, ", "))
		w("system call slow the workload in every setup of the run, the untraced one\n")
		w("included, which pulls the ratios of that round towards 1; the BPF run times\n")
		w("count the tracer's own programs only.\n\n")
	}
}

// summarizeCheck shortens the mode lines of `sendfile-otel check` to their
// verdicts: "fentry refused, kprobe refused, tracepoint works". The full
// lines are in results.json.
func summarizeCheck(lines []string) string {
	if len(lines) == 0 {
		return "not run"
	}
	var parts []string
	for _, line := range lines {
		verdict, _, _ := strings.Cut(line, ":")
		verdict, _, _ = strings.Cut(verdict, " (")
		parts = append(parts, verdict)
	}
	return strings.Join(parts, ", ")
}

// noiseSummary counts the runs that started with tracing programs of other
// processes loaded, and names those programs.
type noiseSummary struct {
	tight, rates, nginx int
	names               []string
}

func (r *reportData) otherPrograms() noiseSummary {
	var n noiseSummary
	seen := make(map[string]bool)
	note := func(programs []string) int {
		for _, name := range programs {
			if !seen[name] {
				seen[name] = true
				n.names = append(n.names, "`"+name+"`")
			}
		}
		if len(programs) > 0 {
			return 1
		}
		return 0
	}
	for _, run := range r.res.Tight {
		n.tight += note(run.OtherPrograms)
	}
	for _, run := range r.res.Rates {
		n.rates += note(run.OtherPrograms)
	}
	for _, run := range r.res.Nginx {
		n.nginx += note(run.OtherPrograms)
	}
	slices.Sort(n.names)
	return n
}

func joinRates(rates []float64) string {
	var parts []string
	for _, r := range rates {
		parts = append(parts, formatRate(r))
	}
	return strings.Join(parts, ", ")
}

func (r *reportData) writeSetups(w writer) {
	w("## Setups\n\n")
	w("Every agent setup runs `build/sendfile-otel --probe=tracepoint --log-format=json\n")
	w("--shutdown-timeout=30s` plus the flags below, exporting over OTLP gRPC\n")
	w("(`OTEL_EXPORTER_OTLP_INSECURE=true`) to a receiver on 127.0.0.1 inside the driver\n")
	w("that counts the spans per `process.pid` and keeps nothing else. bpftrace runs\n")
	w("`bpftrace -o FILE -e SCRIPT` with its defaults; its output file is on disk.\n\n")
	w("| setup | flags or script |\n|---|---|\n")
	seen := make(map[string]bool)
	for _, list := range [][]setup{tightSetups, rateSetups, nginxSetups} {
		for _, s := range list {
			if seen[s.ID] {
				continue
			}
			seen[s.ID] = true
			w("| %s | %s |\n", s.Label, describeSetup(s))
		}
	}
	w("\n")
}

func describeSetup(s setup) string {
	switch s.Kind {
	case kindAgent:
		parts := slices.Clone(s.AgentEnv)
		parts = append(parts, s.AgentArgs...)
		return "`" + strings.Join(parts, " ") + "`"
	case kindBpftrace:
		return "`" + strings.ReplaceAll(strings.Join(strings.Fields(s.Script), " "), "|", `\|`) + "`"
	}
	return "no tracer"
}

func (r *reportData) writeTight(w writer) {
	if len(r.tight) == 0 {
		return
	}
	w("## Time per call\n\n")
	w("Tight loops of %.1f s each. The ratio is the time per call over the untraced\n", r.res.Settings.LoopSeconds)
	w("run's in the same round: 1.10 means 10 %% more time per call. sendfile shows what\n")
	w("a traced program pays; getppid shows what every other program on the host pays.\n")
	w("Enabling any `syscalls:*` tracepoint makes every thread on the host take the\n")
	w("kernel's syscall tracing path on each system call, because the kernel's\n")
	w("`syscall_regfunc` sets `SYSCALL_WORK_SYSCALL_TRACEPOINT` on all threads. So\n")
	w("getppid pays in every traced setup, also in those that hook only sendfile. With\n")
	w("`--compat=on` it also runs two programs on `sys_enter` and `sys_exit`, BTF\n")
	w("tracepoints where the kernel accepts them, on every system call.\n\n")
	w("![Time per sendfile call relative to untraced](benchmarks/%s)\n\n", plotSendfile)
	w("![Time per getppid call relative to untraced](benchmarks/%s)\n\n", plotGetppid)
	w("| setup | sendfile to /dev/null | sendfile to TCP | getppid |\n|---|---|---|---|\n")
	for _, t := range r.tight {
		if t.Setup.Kind == kindNone {
			w("| %s (ns per call) | %s | %s | %s |\n", t.Setup.Label,
				formatSpread(t.Ns[callSendfileNull], "%.0f"), formatSpread(t.Ns[callSendfileTCP], "%.0f"), formatSpread(t.Ns[callGetppid], "%.0f"))
			continue
		}
		w("| %s | %s | %s | %s |\n", t.Setup.Label,
			formatSpread(t.Ratio[callSendfileNull], "%.3f"), formatSpread(t.Ratio[callSendfileTCP], "%.3f"), formatSpread(t.Ratio[callGetppid], "%.3f"))
	}
	w("\n")

	w("### BPF run time\n\n")
	w("![BPF run time per call](benchmarks/%s)\n\n", plotBPF)
	w("| setup | ns per sendfile call | ns per getppid call | programs: ns per run in the sendfile loop |\n|---|---|---|---|\n")
	for _, t := range r.tight {
		if t.Setup.Kind == kindNone {
			continue
		}
		var programs []string
		for _, p := range t.Programs {
			programs = append(programs, fmt.Sprintf("`%s` %.0f", p.Name, p.SendfileNsPerRun.Median))
		}
		w("| %s | %s | %s | %s |\n", t.Setup.Label, formatSpread(t.BPFSendfile, "%.0f"),
			formatSpread(t.BPFGetppid, "%.0f"), strings.Join(programs, ", "))
	}
	w("\nThe kernel's statistics cover the programs' own instructions and the helpers\n")
	w("they call, not the tracepoint dispatch around them; the time-per-call ratios\n")
	w("above include both.\n\n")
}

func (r *reportData) writeRates(w writer) {
	if len(r.rates) == 0 {
		return
	}
	w("## Offered rates\n\n")
	w("A paced loop sends 4 KiB to `/dev/null` at a fixed rate for %.1f s while one\n", r.res.Settings.Seconds)
	w("tracer turns every call into a span or a printed line. Once the loop ends, the\n")
	w("driver waits until the tracer has used less than 5 %% of a core and received no\n")
	w("span for 1.2 s. Then it reads the tracer's CPU time (utime + stime from\n")
	w("`/proc/PID/stat`) and `VmHWM` from `/proc/PID/status`, and stops it: the agent\n")
	w("flushes on SIGTERM and bpftrace on SIGINT. \"Arrived\" counts the spans whose\n")
	w("`process.pid` is the loop's, received by the end, or for bpftrace the printed\n")
	w("lines with the loop's pid. CPU is the tracer's CPU time over the loop's run\n")
	w("time, in cores.\n\n")

	w("![Calls that arrived](benchmarks/%s)\n\n", plotArrived)
	w("![Tracer CPU](benchmarks/%s)\n\n", plotCPU)
	w("![Tracer peak RSS](benchmarks/%s)\n\n", plotRSS)
	w("| setup | offered (calls/s) | achieved (calls/s) | arrived | CPU (cores) | peak RSS (MiB) | other processes' calls (highest round) | agent's lost counters (highest round) |\n|---|---|---|---|---|---|---|---|\n")

	for _, x := range r.rates {
		lost := "none"
		if x.Setup.Kind == kindBpftrace {
			lost = "n/a"
		} else if len(x.Lost) > 0 {
			var parts []string
			for reason, n := range x.Lost {
				if n > 0 {
					parts = append(parts, fmt.Sprintf("%s %d", reason, n))
				}
			}
			slices.Sort(parts)
			if len(parts) > 0 {
				lost = strings.Join(parts, ", ")
			}
		}
		w("| %s | %s | %s | %s | %s | %s | %d | %s |\n", x.Setup.Label, formatRate(x.Offered),
			formatSpread(spreadScaled(x.Achieved, 1e-3), "%.1fk"), formatShare(x.Share),
			formatSpread(x.Cores, "%.2f"), formatSpread(x.RSSMiB, "%.0f"), x.OtherArrived, lost)
	}
	w("\nA tracer sees every sendfile call on the host. Other work that called sendfile\n")
	w("during a run added to the tracer's CPU time and memory, and the column of other\n")
	w("processes' calls counts the spans or lines the tracer produced for them. The\n")
	w("agent's lost counters are its `sendfile_otel.events.lost` metric as exported at\n")
	w("shutdown. They count events dropped for any process, not only the loop's.\n\n")
}

func spreadScaled(s spread, factor float64) spread {
	return spread{Median: s.Median * factor, Min: s.Min * factor, Max: s.Max * factor, N: s.N}
}

func (r *reportData) writeNginx(w writer) {
	if len(r.nginx) == 0 {
		return
	}
	w("## nginx\n\n")
	w("nginx %s (`worker_processes 1`, `sendfile on`, no access log) on 127.0.0.1\n", r.res.Machine.NginxVersion)
	w("serves one 64 KiB file to a Go load client in the driver that keeps %d\n", r.res.Settings.Connections)
	w("keep-alive connections busy, one request at a time each, for %.1f s per run. The\n", r.res.Settings.Seconds)
	w("client, nginx and the tracer share the 2 cores, so the tracer's CPU time comes\n")
	w("straight out of nginx's.\n\n")
	w("![nginx requests per second](benchmarks/%s)\n\n", plotNginx)
	w("| setup | requests/s | ratio to untraced | tracer CPU (cores) | spans received per request |\n|---|---|---|---|---|\n")
	for _, n := range r.nginx {
		spansPerRequest := formatSpread(n.SpansPerReq, "%.2f")
		if !n.Setup.emitsSpans() || n.Setup.Kind != kindAgent {
			spansPerRequest = "n/a"
		}
		cores := formatSpread(n.Cores, "%.2f")
		if n.Setup.Kind == kindNone {
			cores = "n/a"
		}
		w("| %s | %s | %s | %s | %s |\n", n.Setup.Label, formatSpread(n.ReqPerSec, "%.0f"),
			formatSpread(n.Ratio, "%.3f"), cores, spansPerRequest)
	}
	w("\n")
}

func (r *reportData) writeProfile(w writer) {
	p := r.res.Profile
	if p == nil {
		return
	}
	w("## Profile of the agent\n\n")
	w("`%s` for %.0f s while the agent (%s) turned a paced loop of %s sendfile calls/s\n",
		p.Command, p.Seconds, setupByID(p.Setup).Label, formatRate(p.Rate))
	w("(achieved %s/s) into spans. The profiled binary is the agent built without\n", formatRate(p.Achieved))
	w("`-s -w`, so that perf can name its functions. The agent used %.2f cores; perf\n", p.CPUCores)
	w("recorded %s; %.0f %% of the samples were in the kernel.\n\n", p.Samples, p.KernelPct)
	w("Top functions by own samples (`perf report --no-children --sort symbol`):\n\n")
	w("| self | | function |\n|---|---|---|\n")
	for _, line := range p.Self {
		w("| %.2f %% | %s | `%s` |\n", line.Percent, profileSide(line), line.Symbol)
	}
	w("\nTop functions including their callees (`perf report --children`):\n\n")
	w("| with callees | | function |\n|---|---|---|\n")
	for _, line := range p.Children {
		w("| %.2f %% | %s | `%s` |\n", line.Percent, profileSide(line), line.Symbol)
	}
	w("\n")
}

func profileSide(line profileLine) string {
	if line.Kernel {
		return "kernel"
	}
	return "user"
}

func (r *reportData) writeRunning(w writer) {
	w("## Running the benchmarks\n\n")
	w("```sh\n")
	w("make bench                                  # about 9 minutes on the machine above\n")
	w("BENCH_ROUNDS=5 BENCH_SECONDS=6 make bench    # more rounds, longer runs\n")
	w("```\n\n")
	w("It needs root, Linux with BTF and Go, and these Debian packages, which `make\n")
	w("bench` does not install:\n\n")
	w("- `bpftrace`, the peer: the run stops at once without it.\n")
	w("- `nginx-light`, or any nginx at `/usr/sbin/nginx`.\n")
	w("- `linux-perf`, optional: the profile is skipped without it.\n\n")
	w("| variable | default | meaning |\n|---|---|---|\n")
	w("| `BENCH_ROUNDS` | 3 | rounds of every phase |\n")
	w("| `BENCH_SECONDS` | 2.5 | seconds of each rate and nginx run; each tight loop runs a third of it |\n")
	w("| `BENCH_RATES` | 10000,50000,100000,200000,400000 | offered sendfile calls per second |\n")
	w("| `BENCH_PHASES` | tight,rates,nginx,profile | phases to run |\n")
	w("| `BENCH_PROFILE_RATE`, `BENCH_PROFILE_SECONDS` | 50000, 8 | the profiled load |\n")
	w("| `GOGC`, `OTEL_BSP_*` | the agent's | passed to the agent, for experiments with its span pipeline |\n\n")
	w("To change only the page's text or plots, rewrite them from the stored results,\n")
	w("measuring nothing: `cd test/bench && go run . -report-from\n")
	w("../../docs/benchmarks/%s`.\n\n", resultsJSON)
	w("Each run rewrites this page, the plots in `docs/benchmarks/` and\n")
	w("`docs/benchmarks/%s`. Logs of the tracers stay in a temporary directory that\n", resultsJSON)
	w("`test/bench/run.sh` prints and removes unless `BENCH_KEEP=1`.\n")
}
