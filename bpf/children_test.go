//go:build linux

package bpf

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// Child scenarios run in a separate process, so that they can run as
// another user and their calls are distinguished by uid.
const (
	// childOneByte makes N one-byte calls from a file to /dev/null; arg "N,PATH".
	childOneByte = "one-byte"
	// childCopy makes one call moving a whole file to /dev/null; arg PATH.
	childCopy = "copy"
)

func runChild(scenario, arg string) int {
	var err error
	switch scenario {
	case childOneByte:
		err = childOneByteCalls(arg)
	case childCopy:
		err = childCopyFile(arg)
	default:
		err = fmt.Errorf("unknown child scenario %q", scenario)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

func childOneByteCalls(arg string) error {
	countText, path, _ := strings.Cut(arg, ",")
	calls, err := strconv.Atoi(countText)
	if err != nil {
		return err
	}
	in, err := os.Open(path)
	if err != nil {
		return err
	}
	out, err := os.OpenFile("/dev/null", os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	var moved int64
	for i := 0; i < calls; i++ {
		off := int64(0)
		n, err := unix.Sendfile(int(out.Fd()), int(in.Fd()), &off, 1)
		if err != nil {
			return fmt.Errorf("call %d: %w", i, err)
		}
		moved += int64(n)
	}
	fmt.Printf("calls=%d bytes=%d pid=%d\n", calls, moved, os.Getpid())
	return nil
}

func childCopyFile(path string) error {
	in, err := os.Open(path)
	if err != nil {
		return err
	}
	out, err := os.OpenFile("/dev/null", os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	off := int64(0)
	n, err := unix.Sendfile(int(out.Fd()), int(in.Fd()), &off, 1<<20)
	if err != nil {
		return err
	}
	fmt.Printf("bytes=%d in_fd=%d out_fd=%d pid=%d\n", n, in.Fd(), out.Fd(), os.Getpid())
	return nil
}

var (
	childBinaryOnce sync.Once
	childBinary     string
	childBinaryErr  error
)

// sharedTestBinary copies the test binary where any user may run it: go
// test builds it in a directory private to the user running the tests.
func sharedTestBinary(t testing.TB) string {
	t.Helper()
	childBinaryOnce.Do(func() {
		dir, err := os.MkdirTemp("", "sendfile-otel-child-")
		if err != nil {
			childBinaryErr = err
			return
		}
		if err := os.Chmod(dir, 0o755); err != nil {
			childBinaryErr = err
			return
		}
		data, err := os.ReadFile(os.Args[0])
		if err != nil {
			childBinaryErr = err
			return
		}
		childBinary = filepath.Join(dir, "bpf.test")
		childBinaryErr = os.WriteFile(childBinary, data, 0o755)
	})
	if childBinaryErr != nil {
		t.Fatalf("copying the test binary for child processes: %v", childBinaryErr)
	}
	return childBinary
}

// runChildAs runs a child scenario as uid and gid and returns its report.
func runChildAs(t testing.TB, uid, gid uint32, scenario, arg string) callerReport {
	t.Helper()
	cmd := exec.Command(sharedTestBinary(t), "-test.run=^$", arg)
	cmd.Env = append(os.Environ(), envChild+"="+scenario)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uid, Gid: gid}}
	out, err := cmd.Output()
	if err != nil {
		stderr := ""
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = string(ee.Stderr)
		}
		t.Fatalf("child %s as uid %d: %v: %s", scenario, uid, err, stderr)
	}
	return parseReport(t, out)
}
