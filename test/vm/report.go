package main

import (
	"fmt"
	"io"
	"runtime"
	"sort"
	"strings"
	"text/tabwriter"
	"time"
)

// Console lines printed for a VM that hung or stopped early, and for one
// failed mode.
const (
	vmLogLines   = 50
	modeLogLines = 100
)

// Coverage keys of the suite's COVERAGE line and their column titles: the
// native x86-64 syscall and the i386 compat syscalls 187 (sendfile) and 239
// (sendfile64).
var coverageColumns = []struct{ key, title string }{
	{"native", "native"},
	{"sendfile32", "187"},
	{"sendfile64_ia32", "239"},
}

type matrixReport struct {
	opts     *options
	kernels  []*kernelResult
	host     *hostResult
	wallTime time.Duration
}

// matrixRow is one cell group of the matrix: one kernel in one attach mode.
type matrixRow struct {
	kernel  string // kernel release
	version string // Debian package version, or "host"
	run     *modeRun
	verdict string
	reason  string
}

// failure is one reason for a non-zero exit, with the console lines that
// show it.
type failure struct {
	title string
	lines []string
	// kernelLevel marks a failure of the VM itself rather than of one mode.
	kernelLevel bool
	kernel      string
}

func (r *matrixReport) rows() []matrixRow {
	var rows []matrixRow
	for _, result := range r.kernels {
		for _, mode := range r.opts.modes {
			row := matrixRow{kernel: result.kernel.name(), version: result.kernel.version}
			if result.console != nil {
				row.run = result.console.run(mode)
			}
			row.verdict, row.reason = row.run.verdict(result.kernel.mustOffer[mode])
			if row.run == nil {
				row.run = &modeRun{mode: mode}
			}
			rows = append(rows, row)
		}
	}
	if r.host != nil {
		row := matrixRow{kernel: r.host.release, version: "host", run: r.host.run}
		switch {
		case r.host.err != nil:
			row.verdict, row.reason = verdictNotRun, r.host.err.Error()
		default:
			// The host's kernel must offer the mode that the host run uses.
			row.verdict, row.reason = row.run.verdict(true)
		}
		if row.run == nil {
			row.run = &modeRun{mode: r.opts.hostMode}
		}
		rows = append(rows, row)
	}
	return rows
}

func verdictFails(verdict string) bool {
	return verdict != verdictPassed && verdict != verdictNotOffered
}

func (r *matrixReport) failures() []failure {
	var failures []failure
	for _, result := range r.kernels {
		name := result.kernel.name()
		switch {
		case result.err != nil:
			failures = append(failures, failure{
				title:       fmt.Sprintf("%s: the VM did not run: %v", name, result.err),
				kernelLevel: true, kernel: name,
			})
			continue
		case result.outcome.timedOut:
			failures = append(failures, failure{
				title:       fmt.Sprintf("%s: the VM hung or ran too long and was killed after %s", name, result.outcome.timeout.Round(time.Second)),
				lines:       lastLines(result.console.lines, vmLogLines),
				kernelLevel: true, kernel: name,
			})
		case !result.console.booted:
			failures = append(failures, failure{
				title:       fmt.Sprintf("%s: the VM stopped before /init started the suite%s", name, stopCause(result)),
				lines:       lastLines(result.console.lines, vmLogLines),
				kernelLevel: true, kernel: name,
			})
		case !result.console.done:
			failures = append(failures, failure{
				title:       fmt.Sprintf("%s: the VM stopped before /init finished%s", name, stopCause(result)),
				lines:       lastLines(result.console.lines, vmLogLines),
				kernelLevel: true, kernel: name,
			})
		}
		for _, mode := range r.opts.modes {
			run := result.console.run(mode)
			verdict, reason := run.verdict(result.kernel.mustOffer[mode])
			if !verdictFails(verdict) {
				continue
			}
			f := failure{title: fmt.Sprintf("%s %s: %s: %s", name, mode, verdict, reason)}
			// A mode that did not end is covered by the VM's log above.
			if run != nil && run.ended {
				f.lines = run.logExcerpt(modeLogLines)
			}
			failures = append(failures, f)
		}
	}
	if r.host != nil {
		if r.host.err != nil {
			failures = append(failures, failure{title: "host: the test binary did not run: " + r.host.err.Error()})
		} else if verdict, reason := r.host.run.verdict(true); verdictFails(verdict) {
			failures = append(failures, failure{
				title: fmt.Sprintf("host %s: %s: %s", r.opts.hostMode, verdict, reason),
				lines: r.host.run.logExcerpt(modeLogLines),
			})
		}
	}
	return failures
}

// stopCause returns ": " and the kernel's panic message or qemu's error for a
// VM that stopped early, or "" if the console and qemu name no cause.
func stopCause(result *kernelResult) string {
	if result.console.panic != "" {
		return ": " + result.console.panic
	}
	if result.outcome.qemuErr != nil {
		return ": qemu: " + result.outcome.qemuErr.Error()
	}
	return ""
}

// summary counts the matrix's runs: one per kernel and mode, and the host
// run. A VM that failed while all its modes passed, such as one that hung
// after the last mode, counts as one more failed run.
func (r *matrixReport) summary() (passed, failed, notOffered int) {
	rows := r.rows()
	for _, row := range rows {
		switch {
		case row.verdict == verdictPassed:
			passed++
		case row.verdict == verdictNotOffered:
			notOffered++
		default:
			failed++
		}
	}
	for _, f := range r.failures() {
		if f.kernelLevel && !r.kernelHasFailedMode(f.kernel) {
			failed++
		}
	}
	return passed, failed, notOffered
}

func (r *matrixReport) kernelHasFailedMode(name string) bool {
	for _, row := range r.rows() {
		if row.version != "host" && row.kernel == name && verdictFails(row.verdict) {
			return true
		}
	}
	return false
}

// print writes the failures with their logs, then the matrix and timings.
func (r *matrixReport) print(w io.Writer) {
	for _, f := range r.failures() {
		fmt.Fprintf(w, "\nFAILED: %s\n", f.title)
		for _, line := range f.lines {
			fmt.Fprintf(w, "    | %s\n", line)
		}
	}
	for _, result := range r.kernels {
		if result.console == nil {
			continue
		}
		for _, warning := range result.console.warnings {
			fmt.Fprintf(w, "vmtest: %s: /init: %s\n", result.kernel.name(), warning)
		}
		if result.console.booted && result.console.release != result.kernel.name() {
			fmt.Fprintf(w, "vmtest: %s: the VM reports kernel release %q\n", result.kernel.name(), result.console.release)
		}
	}

	fmt.Fprintln(w)
	table := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(table, "KERNEL\tMODE\tRESULT\tRUN\tPASSED\tSKIPPED\tFAILED\tNATIVE\t187\t239\tSECONDS")
	for _, row := range r.rows() {
		fmt.Fprintf(table, "%s\t%s\t%s\t%d\t%d\t%d\t%d\t%s\t%s\t%s\t%d\n",
			row.kernel, row.run.mode, row.verdict,
			row.run.counts.run, row.run.counts.passed, row.run.counts.skipped, row.run.counts.failed,
			coverageCell(row.run, "native"), coverageCell(row.run, "sendfile32"), coverageCell(row.run, "sendfile64_ia32"),
			row.run.seconds)
	}
	table.Flush()

	fmt.Fprintln(w)
	for _, result := range r.kernels {
		if result.outcome == nil {
			continue
		}
		fmt.Fprintf(w, "vmtest: %s: boot %.1f s, VM %.1f s\n", result.kernel.name(), result.outcome.bootTime.Seconds(), result.outcome.wallTime.Seconds())
	}
	fmt.Fprintf(w, "vmtest: matrix wall time %.1f s; console logs in %s\n", r.wallTime.Seconds(), r.opts.workDir)
	// The last line has the form that CI logs are scanned for. Modes that a
	// kernel does not offer count as skipped.
	passed, failed, notOffered := r.summary()
	fmt.Fprintf(w, "vmtest: %d passed, %d failed, %d skipped\n", passed, failed, notOffered)
}

func coverageCell(run *modeRun, key string) string {
	if run == nil || run.coverage == nil {
		return "n/a"
	}
	switch value, ok := run.coverage[key]; {
	case !ok:
		return "n/a"
	case value == "true":
		return "yes"
	case value == "false":
		return "no"
	default:
		return value
	}
}

// markdown returns the matrix as the Markdown page docs/kernel-matrix.md.
func (r *matrixReport) markdown() string {
	var b strings.Builder
	b.WriteString("# Kernel matrix\n\n")
	b.WriteString("`make vmtest` (test/vm/run.sh) writes this page. It boots each kernel below under qemu\n")
	b.WriteString("with software emulation (TCG) into an initramfs that runs the privileged suite of\n")
	b.WriteString("`./bpf/` once per attach mode, with `SENDFILE_OTEL_REQUIRE_PRIVILEGED=1` and\n")
	b.WriteString("`SENDFILE_OTEL_VM=1`. The host row runs the same test binary on the build machine.\n")
	b.WriteString("The kernels are Debian's cloud kernels, pinned in test/vm/kernels.txt.\n\n")

	fmt.Fprintf(&b, "Last run: %d VM(s) with %d vCPU(s) and %d MiB each, on a host with %d CPU(s), %s in all.\n",
		len(r.kernels), r.opts.cpus, r.opts.memoryMiB, runtime.NumCPU(), r.wallTime.Round(time.Second))
	// The page names the options that narrowed the run.
	if r.opts.testArgs != "" {
		fmt.Fprintf(&b, "Extra test arguments: `%s`.\n", r.opts.testArgs)
	}
	if len(r.opts.env) > 0 {
		keys := make([]string, 0, len(r.opts.env))
		for key := range r.opts.env {
			keys = append(keys, key)
		}
		sort.Strings(keys)
		fmt.Fprintf(&b, "Extra environment variables: %s.\n", strings.Join(keys, ", "))
	}
	if r.host == nil {
		b.WriteString("The host run was skipped.\n")
	}
	b.WriteString("\n")

	b.WriteString("| Kernel | Package version | Mode | Result | Run | Passed | Skipped | Failed |")
	for _, column := range coverageColumns {
		fmt.Fprintf(&b, " %s |", column.title)
	}
	b.WriteString(" Seconds |\n")
	b.WriteString("|---|---|---|---|---:|---:|---:|---:|:---:|:---:|:---:|---:|\n")
	for _, row := range r.rows() {
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %d | %d | %d | %d |",
			row.kernel, row.version, row.run.mode, row.verdict,
			row.run.counts.run, row.run.counts.passed, row.run.counts.skipped, row.run.counts.failed)
		for _, column := range coverageColumns {
			fmt.Fprintf(&b, " %s |", coverageCell(row.run, column.key))
		}
		fmt.Fprintf(&b, " %d |\n", row.run.seconds)
	}

	b.WriteString("\n- Result:\n")
	b.WriteString("  - *passed*: exit status 0, no failed test and at least one test run.\n")
	b.WriteString("  - *failed*: any other exit, or `MODE-UNSUPPORTED` for a mode that\n")
	b.WriteString("    test/vm/kernels.txt requires of the kernel.\n")
	b.WriteString("  - *not offered*: the suite printed `MODE-UNSUPPORTED` for a mode that the\n")
	b.WriteString("    kernel need not offer.\n")
	fmt.Fprintf(&b, "  - *timed out*: the suite ran longer than %s and got SIGQUIT.\n", r.opts.modeTimeout)
	b.WriteString("  - *did not finish*, *not run*: the VM hung or stopped during or before the mode.\n")
	b.WriteString("- Run, Passed, Skipped, Failed count the `--- PASS`, `--- SKIP` and `--- FAIL` lines\n")
	b.WriteString("  of `go test -v`, subtests included.\n")
	b.WriteString("- native, 187, 239: whether the suite saw calls of the native x86-64 sendfile, of the\n")
	b.WriteString("  i386 compat sendfile (syscall 187) and of the i386 compat sendfile64 (syscall 239),\n")
	b.WriteString("  from the suite's `COVERAGE` line. n/a means that the suite printed none.\n")
	b.WriteString("- Seconds: wall time of the suite in that mode, measured inside the VM or on the host.\n")

	var notOffered []string
	for _, row := range r.rows() {
		if row.verdict == verdictNotOffered {
			notOffered = append(notOffered, fmt.Sprintf("- %s, %s: %s\n", row.kernel, row.run.mode, row.reason))
		}
	}
	if len(notOffered) > 0 {
		b.WriteString("\nModes not offered, with the reason the suite printed:\n\n")
		b.WriteString(strings.Join(notOffered, ""))
	}

	b.WriteString(r.verifierMarkdown())

	b.WriteString("\n## Boot times\n\n")
	b.WriteString("| Kernel | Boot to /init (s) | VM from start to power-off (s) |\n|---|---:|---:|\n")
	for _, result := range r.kernels {
		if result.outcome == nil {
			fmt.Fprintf(&b, "| %s | n/a | n/a |\n", result.kernel.name())
			continue
		}
		fmt.Fprintf(&b, "| %s | %.1f | %.1f |\n", result.kernel.name(), result.outcome.bootTime.Seconds(), result.outcome.wallTime.Seconds())
	}

	if failures := r.failures(); len(failures) > 0 {
		b.WriteString("\n## Failures\n\n")
		for _, f := range failures {
			fmt.Fprintf(&b, "- %s\n", strings.ReplaceAll(f.title, "|", "\\|"))
		}
	}
	return b.String()
}

// verifierColumn is one kernel's VERIFIER results in the verifier tables.
type verifierColumn struct {
	title   string
	results *verifierResults
}

func (r *matrixReport) verifierColumns() []verifierColumn {
	var columns []verifierColumn
	for _, result := range r.kernels {
		if result.console != nil {
			columns = append(columns, verifierColumn{result.kernel.name(), &result.console.verifier})
		}
	}
	if r.host != nil && r.host.run != nil {
		columns = append(columns, verifierColumn{r.host.release + " (host)", &r.host.run.verifier})
	}
	return columns
}

// verifierMarkdown returns one table per attach mode of the instruction
// counts from the suite's VERIFIER lines, with one column per kernel.
func (r *matrixReport) verifierMarkdown() string {
	columns := r.verifierColumns()
	var b strings.Builder
	b.WriteString("\n## Verifier instruction counts\n\n")
	b.WriteString("Instructions that the verifier processed to load each program, from the suite's\n")
	b.WriteString("`VERIFIER` lines. The suite loads the programs of all modes in every run, so\n")
	b.WriteString("the host and a run that failed early may still report them. n/a means that no run did.\n")
	for _, mode := range allModes {
		programs := map[string]bool{}
		var rejected []string
		for _, column := range columns {
			for program := range column.results.counts[mode] {
				programs[program] = true
			}
			if column.results.rejected[mode] {
				rejected = append(rejected, column.title)
			}
		}
		fmt.Fprintf(&b, "\n### %s\n\n", mode)
		if len(rejected) > 0 {
			fmt.Fprintf(&b, "The kernel rejected the %s program type before verification on: %s.\n\n", mode, strings.Join(rejected, ", "))
		}
		if len(programs) == 0 {
			b.WriteString("n/a\n")
			continue
		}
		names := make([]string, 0, len(programs))
		for name := range programs {
			names = append(names, name)
		}
		sort.Strings(names)
		b.WriteString("| Program |")
		for _, column := range columns {
			fmt.Fprintf(&b, " %s |", column.title)
		}
		b.WriteString("\n|---|" + strings.Repeat("---:|", len(columns)) + "\n")
		for _, name := range names {
			fmt.Fprintf(&b, "| %s |", name)
			for _, column := range columns {
				cell := "n/a"
				if column.results.rejected[mode] {
					cell = "rejected"
				}
				if count, ok := column.results.counts[mode][name]; ok {
					cell = fmt.Sprint(count)
				}
				fmt.Fprintf(&b, " %s |", cell)
			}
			b.WriteString("\n")
		}
	}
	return b.String()
}
