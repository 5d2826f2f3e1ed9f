//go:build linux

package e2e

import (
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// consoleEnv runs an agent that exports to stdout and nowhere else.
var consoleEnv = []string{"OTEL_TRACES_EXPORTER=console", "OTEL_METRICS_EXPORTER=console"}

// testComm returns this test process's task name, which the kernel cuts to
// 15 bytes.
func testComm() string {
	comm := filepath.Base(os.Args[0])
	return comm[:min(15, len(comm))]
}

// sendfileToNull makes calls sendfile calls of size bytes from a new file
// to /dev/null, each from offset 0.
func sendfileToNull(t *testing.T, calls, size int) {
	t.Helper()
	inPath := filepath.Join(t.TempDir(), "in")
	writeFile(t, inPath, 4096)
	in, err := os.Open(inPath)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	out, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	for i := 0; i < calls; i++ {
		off := int64(0)
		if _, err := unix.Sendfile(int(out.Fd()), int(in.Fd()), &off, size); err != nil {
			t.Fatal(err)
		}
	}
}

// waitExit waits for the agent's exit and returns its status.
func waitExit(t *testing.T, a *agent, bound time.Duration) int {
	t.Helper()
	select {
	case <-a.exited:
		return a.cmd.ProcessState.ExitCode()
	case <-time.After(bound):
		t.Fatalf("agent did not exit within %s:\n%s", bound, a.log.String())
		return -1
	}
}

func TestSIGHUPStopsWithFlush(t *testing.T) {
	requireRoot(t)
	a := startAgent(t, consoleEnv, "--comm", "nosuchtask")
	if err := a.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	if status := waitExit(t, a, 15*time.Second); status != 0 {
		t.Errorf("exit status %d after SIGHUP, want 0:\n%s", status, a.log.String())
	}
	if !strings.Contains(a.log.String(), "msg=stopped") {
		t.Errorf("no stopped line after SIGHUP: the flush did not run:\n%s", a.log.String())
	}
}

func TestSecondSignalDoesNotCutTheFlush(t *testing.T) {
	requireRoot(t)
	a := startAgent(t, consoleEnv, "--comm", "nosuchtask")
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGTERM} {
		if err := a.cmd.Process.Signal(sig); err != nil {
			t.Fatal(err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if status := waitExit(t, a, 15*time.Second); status != 0 {
		t.Errorf("exit status %d after two SIGTERMs, want 0:\n%s", status, a.log.String())
	}
	if !strings.Contains(a.log.String(), "msg=stopped") {
		t.Errorf("no stopped line: the second signal cut the flush:\n%s", a.log.String())
	}
}

func TestSignalDuringStartupStopsCleanly(t *testing.T) {
	requireRoot(t)
	log := &lockedBuffer{}
	cmd := exec.Command(agentBinary(t), "--comm", "nosuchtask")
	cmd.Env = append(os.Environ(), consoleEnv...)
	cmd.Stderr = log
	cmd.Stdout = io.Discard
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}

	// "starting" comes once the signal handlers are in place, before the
	// programs load, which takes a few hundred milliseconds at least.
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(log.String(), "msg=starting") {
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			t.Fatalf("agent did not log starting within 30 s:\n%s", log.String())
		}
		time.Sleep(time.Millisecond)
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}

	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		cmd.Process.Kill()
		t.Fatalf("agent did not exit within 30 s of a SIGTERM during start-up:\n%s", log.String())
	}

	if status := cmd.ProcessState.ExitCode(); status != 0 {
		t.Errorf("exit status %d after a SIGTERM during start-up, want 0:\n%s", status, log.String())
	}
	if !strings.Contains(log.String(), "msg=stopped") {
		t.Errorf("no stopped line after a SIGTERM during start-up:\n%s", log.String())
	}
}

func TestClosedStdoutPipeCountsFailedExports(t *testing.T) {
	requireRoot(t)
	reader, writer, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	log := &lockedBuffer{}
	cmd := exec.Command(agentBinary(t), "--comm", testComm())
	cmd.Env = append(os.Environ(), consoleEnv...)
	cmd.Stdout = writer
	cmd.Stderr = log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	writer.Close()
	reader.Close() // the next write to stdout gets EPIPE, or SIGPIPE unless ignored
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()

	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(log.String(), "sendfile-otel running") && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	// Calls of this test process become spans the console exporter writes.
	sendfileToNull(t, 10, 100)
	time.Sleep(2 * time.Second) // past the batch delay, so an export is tried
	select {
	case err := <-done:
		t.Fatalf("agent died writing to a closed pipe: %v:\n%s", err, log.String())
	default:
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-done:
	case <-time.After(15 * time.Second):
		cmd.Process.Kill()
		t.Fatalf("agent did not exit within 15 s of SIGTERM:\n%s", log.String())
	}
	if status := cmd.ProcessState.ExitCode(); status != 0 {
		t.Errorf("exit status %d, want 0:\n%s", status, log.String())
	}
	if !strings.Contains(log.String(), "broken pipe") {
		t.Errorf("log does not mention the broken pipe of the failed export:\n%s", log.String())
	}
}
