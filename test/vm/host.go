package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// hostResult is the suite's run on the host.
type hostResult struct {
	release string // uname -r of the host
	run     *modeRun
	err     error // the test binary could not start
}

// runHost runs the test binary on the host in opts.hostMode with the same
// environment as in the VMs, except SENDFILE_OTEL_VM. It gets SIGQUIT after
// opts.modeTimeout or at deadline, whichever comes first. It runs in an empty
// directory, as in the VM, so that a test that reads files from the source
// tree fails on both.
func runHost(opts *options, deadline time.Time) *hostResult {
	result := &hostResult{release: hostRelease()}
	fmt.Printf("vmtest: running the suite on the host (%s) in %s mode\n", result.release, opts.hostMode)

	binary, err := filepath.Abs(opts.testBinary)
	if err != nil {
		result.err = err
		return result
	}
	dir, err := os.MkdirTemp("", "sendfile-otel-vmtest-host-")
	if err != nil {
		result.err = err
		return result
	}
	defer os.RemoveAll(dir)

	args := []string{"-test.v", "-test.count=1"}
	args = append(args, strings.Fields(opts.testArgs)...)
	timeout := opts.modeTimeout
	if !deadline.IsZero() {
		timeout = min(timeout, time.Until(deadline))
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, args...)
	cmd.Dir = dir
	// As in the VM: SIGQUIT prints every goroutine's stack, SIGKILL follows.
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGQUIT) }
	cmd.WaitDelay = 10 * time.Second
	cmd.Env = append(os.Environ(),
		"SENDFILE_OTEL_TEST_PROBE="+opts.hostMode,
		"SENDFILE_OTEL_REQUIRE_PRIVILEGED=1",
	)
	if opts.callersDir != "" {
		callers, err := filepath.Abs(opts.callersDir)
		if err != nil {
			result.err = err
			return result
		}
		cmd.Env = append(cmd.Env, "SENDFILE_OTEL_CALLERS_DIR="+callers)
	}
	for key, value := range opts.env {
		cmd.Env = append(cmd.Env, key+"="+value)
	}

	start := time.Now()
	output, err := cmd.CombinedOutput()
	seconds := int(time.Since(start).Seconds())
	status := 0
	var exitErr *exec.ExitError
	switch {
	case errors.As(err, &exitErr):
		status = exitErr.ExitCode()
	case err != nil:
		result.err = err
		return result
	}
	logFile := filepath.Join(opts.workDir, "host.log")
	if err := os.WriteFile(logFile, output, 0o644); err != nil {
		fmt.Fprintf(os.Stderr, "vmtest: failed to save the host log: %v\n", err)
	}
	result.run = parseSuiteOutput(opts.hostMode, string(output), status, seconds)
	fmt.Printf("vmtest: host run finished in %d s\n", seconds)
	return result
}

func hostRelease() string {
	var uts syscall.Utsname
	if err := syscall.Uname(&uts); err != nil {
		return "unknown"
	}
	var b strings.Builder
	for _, c := range uts.Release {
		if c == 0 {
			break
		}
		b.WriteByte(byte(c))
	}
	return b.String()
}
