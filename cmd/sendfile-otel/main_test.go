//go:build linux

package main

import (
	"bytes"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/sendfile-otel/sendfile-otel/otelbridge"
)

// runArgs runs the command in-process with a clean environment for the
// variables it reads, and returns its exit status and output.
func runArgs(t *testing.T, env map[string]string, args ...string) (int, string, string) {
	t.Helper()
	for _, name := range []string{"OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_TRACES_EXPORTER", "OTEL_METRICS_EXPORTER", "OTEL_TRACES_SAMPLER", "OTEL_TRACES_SAMPLER_ARG", "SENDFILE_OTEL_MIN_BYTES", "SENDFILE_OTEL_PROBE"} {
		t.Setenv(name, "") // restored after the test
		os.Unsetenv(name)
	}
	for name, value := range env {
		t.Setenv(name, value)
	}
	var stdout, stderr bytes.Buffer
	done := make(chan int, 1)
	go func() { done <- runMain(args, &stdout, &stderr) }()
	select {
	case status := <-done:
		return status, stdout.String(), stderr.String()
	case <-time.After(20 * time.Second):
		// An accepted configuration runs until a signal: fail, and let the
		// test binary's exit detach whatever it attached.
		t.Fatalf("%v did not exit within 20 s: the configuration was accepted", args)
		return 0, "", ""
	}
}

func TestVersionForms(t *testing.T) {
	for _, args := range [][]string{{"version"}, {"--version"}, {"-version"}} {
		status, stdout, stderr := runArgs(t, nil, args...)
		if status != 0 || !strings.HasPrefix(stdout, "sendfile-otel ") {
			t.Errorf("%v: status %d, stdout %q, stderr %q; want 0 and the version", args, status, stdout, stderr)
		}
	}
}

// Every case is rejected before anything is loaded into the kernel, so
// these run without privileges.
func TestInvalidConfigurationExitsTwo(t *testing.T) {
	cases := []struct {
		name    string
		env     map[string]string
		args    []string
		mention string
	}{
		{"unknown command", nil, []string{"start"}, `unknown command "start"`},
		{"version with an argument", nil, []string{"version", "--foo"}, "no arguments"},
		{"unknown flag", nil, []string{"--colour"}, "colour"},
		{"extra argument", nil, []string{"run", "now"}, `unexpected argument "now"`},
		{"bad log level", nil, []string{"--log-level=trace"}, "--log-level"},
		{"bad twin number", map[string]string{"SENDFILE_OTEL_MIN_BYTES": "abc"}, nil, "want a whole number"},
		{"bad probe", nil, []string{"--probe=bogus"}, "bogus"},
		{"negative min bytes", nil, []string{"--min-bytes=-5"}, "--min-bytes"},
		{"small ring buffer", nil, []string{"--ring-buffer-size=1000"}, "power of two"},
		{"bad pid list", nil, []string{"--pid=12,abc"}, "--pid"},
		{"bad endpoint", map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "collector:4317"}, nil, "OTEL_EXPORTER_OTLP_ENDPOINT"},
		{"bad exporter", map[string]string{"OTEL_TRACES_EXPORTER": "zipkin"}, nil, "OTEL_TRACES_EXPORTER"},
		{"bad ratio", map[string]string{"OTEL_TRACES_SAMPLER": "traceidratio", "OTEL_TRACES_SAMPLER_ARG": "2"}, nil, "OTEL_TRACES_SAMPLER_ARG"},
		{"zero shutdown timeout", nil, []string{"--shutdown-timeout=0s"}, "--shutdown-timeout"},
		{"check with a bad probe", nil, []string{"check", "--probe=bogus"}, "bogus"},
		{"check with a zero shutdown timeout", nil, []string{"check", "--shutdown-timeout=0s"}, "--shutdown-timeout"},
		{"flush interval below 10ms", nil, []string{"--flush-interval=1ms"}, "--flush-interval"},
		{"zero ring buffer", nil, []string{"--ring-buffer-size=0"}, "power of two"},
		{"twin named in the message", map[string]string{"SENDFILE_OTEL_PROBE": "bogus"}, nil, "SENDFILE_OTEL_PROBE"},
		{"not a cgroup", nil, []string{"--cgroup=/proc/self/status"}, "not on a cgroup v2 file system"},
		{"long comm", nil, []string{"--comm=a-very-long-thread-name"}, "--comm"},
		{"1025 pids", nil, []string{"--pid=" + strings.Repeat("1,", 1024) + "1"}, "1025 pids"},
		{"NaN ratio", map[string]string{"OTEL_TRACES_SAMPLER": "traceidratio", "OTEL_TRACES_SAMPLER_ARG": "NaN"}, nil, "OTEL_TRACES_SAMPLER_ARG"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			status, stdout, stderr := runArgs(t, c.env, c.args...)
			if status != 2 {
				t.Errorf("status %d, want 2 (stderr %q)", status, stderr)
			}
			if !strings.Contains(stdout+stderr, c.mention) {
				t.Errorf("output does not mention %q:\nstdout: %s\nstderr: %s", c.mention, stdout, stderr)
			}
		})
	}
}

func TestEmptyTwinCountsAsUnset(t *testing.T) {
	// With SENDFILE_OTEL_MIN_BYTES empty, the next check to fail is the
	// invalid --probe given on the command line.
	status, _, stderr := runArgs(t, map[string]string{"SENDFILE_OTEL_MIN_BYTES": ""}, "--probe=bogus")
	if status != 2 || strings.Contains(stderr, "SENDFILE_OTEL_MIN_BYTES") || !strings.Contains(stderr, "bogus") {
		t.Errorf("status %d, stderr %q: want the --probe error only", status, stderr)
	}
}

func TestCgroupFileIsRejected(t *testing.T) {
	mount := otelbridge.Cgroup2Mount()
	if mount == "" {
		t.Skip("no cgroup2 file system mounted here")
	}
	// cgroup.procs sits on cgroup2 but is a file, whose inode no task has
	// as its cgroup id.
	status, _, stderr := runArgs(t, nil, "--cgroup="+mount+"/cgroup.procs")
	if status != 2 || !strings.Contains(stderr, "not a cgroup directory") {
		t.Errorf("status %d, stderr %q: want 2 and a message that it is not a cgroup directory", status, stderr)
	}
}
