package main

import (
	"bufio"
	"fmt"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
)

// profileTop is how many symbols of each list the report keeps.
const profileTop = 15

// readPerfReport summarises a perf.data file: the symbols with the most
// samples of their own (self), and those whose call trees hold the most
// (children).
func readPerfReport(dataPath string) (*profileResult, error) {
	selfOut, err := perfReport(dataPath, "--no-children", "--percent-limit", "0")
	if err != nil {
		return nil, err
	}
	childrenOut, err := perfReport(dataPath, "--children", "--percent-limit", "2")
	if err != nil {
		return nil, err
	}

	self := parsePerfReport(selfOut)
	profile := &profileResult{Samples: perfSamples(selfOut)}
	for _, line := range self {
		if line.Kernel {
			profile.KernelPct += line.Percent
		}
	}
	profile.Self = self[:min(len(self), profileTop)]
	children := parsePerfReport(childrenOut)
	profile.Children = children[:min(len(children), profileTop)]
	return profile, nil
}

func perfReport(dataPath string, args ...string) (string, error) {
	args = append([]string{"report", "-i", dataPath, "--stdio", "--sort", "symbol", "-g", "none"}, args...)
	out, err := exec.Command("perf", args...).Output()
	if err != nil {
		return "", fmt.Errorf("perf %s: %w", strings.Join(args, " "), err)
	}
	return string(out), nil
}

// perfLinePattern matches a report line: the first percentage (children
// or self), an optional second one (self), the [k] or [.] marker, the symbol.
var perfLinePattern = regexp.MustCompile(`^\s*([0-9.]+)%\s+(?:[0-9.]+%\s+)?\[(.)\]\s+(.+?)\s*$`)

// parsePerfReport returns the symbol lines of `perf report --stdio -g none`
// output in the order perf printed them, highest first.
func parsePerfReport(out string) []profileLine {
	var lines []profileLine
	scanner := bufio.NewScanner(strings.NewReader(out))
	scanner.Buffer(make([]byte, 64<<10), 1<<20)
	for scanner.Scan() {
		text := scanner.Text()
		if strings.HasPrefix(text, "#") {
			continue
		}
		m := perfLinePattern.FindStringSubmatch(text)
		if m == nil {
			continue
		}
		percent, err := strconv.ParseFloat(m[1], 64)
		if err != nil {
			continue
		}
		// perf pads the symbol column and may add columns after it ("-  -"
		// for IPC); symbols hold no runs of two spaces.
		symbol, _, _ := strings.Cut(m[3], "  ")
		lines = append(lines, profileLine{Percent: percent, Kernel: m[2] == "k", Symbol: symbol})
	}
	return lines
}

// perfSamples returns the "Samples: 12K of event 'cpu-clock'" header value.
func perfSamples(out string) string {
	for line := range strings.SplitSeq(out, "\n") {
		if value, ok := strings.CutPrefix(line, "# Samples: "); ok {
			return value
		}
	}
	return "unknown"
}
