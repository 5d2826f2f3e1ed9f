package main

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// markerPrefix starts every line that /init prints for the host.
const markerPrefix = "SENDFILE-OTEL-VMTEST "

var (
	// A result line of `go test -v`. Subtests are indented.
	testResultPattern = regexp.MustCompile(`^\s*--- (PASS|FAIL|SKIP): (\S+)`)
	// The line `go test -v` prints when a test or subtest starts.
	testRunPattern = regexp.MustCompile(`^=== RUN\s+(\S+)`)
	// Printed by the suite when the kernel does not offer the attach mode.
	unsupportedPattern = regexp.MustCompile(`MODE-UNSUPPORTED: (\S+): (.*)$`)
	// COVERAGE: <mode> native=<bool> sendfile32=<bool> sendfile64_ia32=<bool>
	coveragePattern = regexp.MustCompile(`COVERAGE: (\S+)((?: \S+=\S+)+)\s*$`)
	// VERIFIER: <mode> <program> <instructions>
	verifierPattern = regexp.MustCompile(`VERIFIER: (\S+) (\S+) (\d+)\s*$`)
	// VERIFIER: <mode> refused-by-kernel, when the kernel rejects the
	// mode's program type before the verifier runs.
	verifierRejectedPattern = regexp.MustCompile(`VERIFIER: (\S+) refused-by-kernel\s*$`)
	// The Go runtime's first line after SIGQUIT, which /init sends on timeout.
	sigquitPattern = regexp.MustCompile(`^SIGQUIT: quit`)
	// The kernel's panic message, such as "Kernel panic - not syncing: Oops".
	kernelPanicPattern = regexp.MustCompile(`Kernel panic - not syncing: .*$`)
	// Marker fields, such as "mode=kprobe".
	markerFieldPattern = regexp.MustCompile(`(\w+)=(\S*)`)
)

// Verdicts of one suite run in one attach mode.
const (
	verdictPassed     = "passed"
	verdictFailed     = "failed"
	verdictNotOffered = "not offered"
	verdictTimedOut   = "timed out"
	verdictUnfinished = "did not finish"
	verdictNotRun     = "not run"
)

// testCounts counts `go test -v` result lines, subtests included.
type testCounts struct {
	run, passed, skipped, failed int
}

// verifierResults collects the suite's VERIFIER lines by attach mode. The
// suite loads the programs of every mode in each run, whatever mode it
// attaches, so any run may print the counts of any mode.
type verifierResults struct {
	// counts maps mode, then program, to the instructions that the
	// verifier processed to load it.
	counts map[string]map[string]int
	// rejected contains the modes whose program type the kernel rejected
	// before verification ("VERIFIER: <mode> refused-by-kernel").
	rejected map[string]bool
}

// add records line if it is a VERIFIER line and reports whether it was. The
// first count of a program wins.
func (v *verifierResults) add(line string) bool {
	if m := verifierPattern.FindStringSubmatch(line); m != nil {
		if v.counts == nil {
			v.counts = map[string]map[string]int{}
		}
		if v.counts[m[1]] == nil {
			v.counts[m[1]] = map[string]int{}
		}
		if _, seen := v.counts[m[1]][m[2]]; !seen {
			v.counts[m[1]][m[2]] = atoiOr(m[3], 0)
		}
		return true
	}
	if m := verifierRejectedPattern.FindStringSubmatch(line); m != nil {
		if v.rejected == nil {
			v.rejected = map[string]bool{}
		}
		v.rejected[m[1]] = true
		return true
	}
	return false
}

// modeRun is the output of the suite in one attach mode.
type modeRun struct {
	mode     string
	begun    bool
	ended    bool
	status   int // exit status of the test binary, valid when ended
	seconds  int // wall time of the run, valid when ended
	lines    []string
	counts   testCounts
	failures []string // names of failed tests
	// unsupported is the reason from a MODE-UNSUPPORTED line, or empty.
	unsupported string
	// coverage maps "native", "sendfile32" and "sendfile64_ia32" to the
	// suite's "true" or "false"; nil without a COVERAGE line.
	coverage map[string]string
	verifier verifierResults
	// running lists the tests that started and have no result line yet.
	running []string
	// sigquitLine is the index in lines of the Go runtime's "SIGQUIT: quit"
	// line, or -1.
	sigquitLine int
}

// consoleResult is what one VM printed on its serial console.
type consoleResult struct {
	booted   bool
	release  string // uname -r inside the VM
	done     bool   // /init reached its last step
	runs     []*modeRun
	warnings []string        // WARNING markers from /init
	panic    string          // the first kernel panic message, or empty
	verifier verifierResults // VERIFIER lines of all runs
	lines    []string        // every console line
}

func (c *consoleResult) run(mode string) *modeRun {
	for _, r := range c.runs {
		if r.mode == mode {
			return r
		}
	}
	return nil
}

// parseConsole splits the serial console output of one VM into per-mode runs.
func parseConsole(output string) *consoleResult {
	result := &consoleResult{}
	var current *modeRun
	for _, line := range splitLines(output) {
		result.lines = append(result.lines, line)
		if m := kernelPanicPattern.FindString(line); m != "" && result.panic == "" {
			result.panic = m
		}
		result.verifier.add(line)
		index := strings.Index(line, markerPrefix)
		if index < 0 {
			if current != nil {
				current.addLine(line)
			}
			continue
		}
		marker := line[index+len(markerPrefix):]
		verb, _, _ := strings.Cut(marker, " ")
		fields := markerFields(marker)
		switch verb {
		case "BOOT":
			result.booted = true
			result.release = fields["kernel"]
		case "BEGIN":
			current = newModeRun(fields["mode"])
			current.begun = true
			result.runs = append(result.runs, current)
		case "END":
			if current == nil || current.mode != fields["mode"] {
				result.warnings = append(result.warnings, "END marker without BEGIN: "+marker)
				continue
			}
			current.ended = true
			current.status = atoiOr(fields["status"], -1)
			current.seconds = atoiOr(fields["seconds"], 0)
			current = nil
		case "DONE":
			result.done = true
		case "WARNING":
			result.warnings = append(result.warnings, strings.TrimPrefix(marker, "WARNING "))
		}
	}
	return result
}

// parseSuiteOutput parses the output of one suite run outside a VM.
func parseSuiteOutput(mode, output string, status, seconds int) *modeRun {
	run := newModeRun(mode)
	run.begun, run.ended, run.status, run.seconds = true, true, status, seconds
	for _, line := range splitLines(output) {
		run.addLine(line)
	}
	return run
}

func newModeRun(mode string) *modeRun {
	return &modeRun{mode: mode, sigquitLine: -1}
}

func (r *modeRun) addLine(line string) {
	r.lines = append(r.lines, line)
	if m := testRunPattern.FindStringSubmatch(line); m != nil {
		r.running = append(r.running, m[1])
		return
	}
	if m := testResultPattern.FindStringSubmatch(line); m != nil {
		r.running = slices.DeleteFunc(r.running, func(name string) bool { return name == m[2] })
		r.counts.run++
		switch m[1] {
		case "PASS":
			r.counts.passed++
		case "SKIP":
			r.counts.skipped++
		case "FAIL":
			r.counts.failed++
			r.failures = append(r.failures, m[2])
		}
		return
	}
	if m := unsupportedPattern.FindStringSubmatch(line); m != nil && m[1] == r.mode {
		r.unsupported = strings.TrimSpace(m[2])
		return
	}
	if m := coveragePattern.FindStringSubmatch(line); m != nil && m[1] == r.mode {
		r.coverage = markerFields(m[2])
		return
	}
	if r.verifier.add(line) {
		return
	}
	if sigquitPattern.MatchString(line) && r.sigquitLine < 0 {
		r.sigquitLine = len(r.lines) - 1
	}
}

// verdict returns the run's verdict and, unless it passed, the reason.
// mustOffer is true when the kernel is known to offer the mode, which turns
// a MODE-UNSUPPORTED report into a failure.
func (r *modeRun) verdict(mustOffer bool) (string, string) {
	switch {
	case r == nil || !r.begun:
		return verdictNotRun, "the VM stopped before this mode started"
	case !r.ended:
		reason := "the VM stopped while this mode ran"
		if len(r.running) > 0 {
			reason += ", running " + strings.Join(r.running, " ")
		}
		return verdictUnfinished, reason
	case r.sigquitLine >= 0:
		reason := fmt.Sprintf("the suite reached its time limit after %d s and got SIGQUIT", r.seconds)
		if len(r.running) > 0 {
			reason += ", running " + strings.Join(r.running, " ")
		}
		return verdictTimedOut, reason
	case r.unsupported != "" && r.status == 0 && mustOffer:
		return verdictFailed, "the suite reported the mode unsupported, but this kernel offers it: " + r.unsupported
	case r.unsupported != "" && r.status == 0:
		return verdictNotOffered, r.unsupported
	case r.status != 0:
		reason := fmt.Sprintf("exit status %d", r.status)
		if len(r.failures) > 0 {
			reason += ", failed tests: " + strings.Join(r.failures, " ")
		}
		return verdictFailed, reason
	case r.counts.failed > 0:
		return verdictFailed, "exit status 0, but failed tests: " + strings.Join(r.failures, " ")
	case r.counts.run == 0:
		return verdictFailed, "no tests ran"
	}
	return verdictPassed, ""
}

func markerFields(s string) map[string]string {
	fields := map[string]string{}
	for _, m := range markerFieldPattern.FindAllStringSubmatch(s, -1) {
		fields[m[1]] = m[2]
	}
	return fields
}

// splitLines splits console output into lines without "\r" or "\n".
func splitLines(output string) []string {
	output = strings.TrimSuffix(strings.ReplaceAll(output, "\r", ""), "\n")
	if output == "" {
		return nil
	}
	return strings.Split(output, "\n")
}

func atoiOr(s string, fallback int) int {
	n, err := strconv.Atoi(s)
	if err != nil {
		return fallback
	}
	return n
}

// logExcerpt returns the lines that best show why the run failed: its last
// lines, or for a run that got SIGQUIT, the lines before that signal and the
// start of the goroutine dump that follows it.
func (r *modeRun) logExcerpt(max int) []string {
	if r.sigquitLine < 0 {
		return lastLines(r.lines, max)
	}
	before := lastLines(r.lines[:r.sigquitLine], max/2)
	after := r.lines[r.sigquitLine:]
	if len(after) > max-len(before) {
		after = after[:max-len(before)]
	}
	return append(slices.Clone(before), after...)
}

// lastLines returns at most n lines from the end of lines.
func lastLines(lines []string, n int) []string {
	if len(lines) > n {
		return lines[len(lines)-n:]
	}
	return lines
}
