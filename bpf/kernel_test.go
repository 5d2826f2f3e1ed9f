//go:build linux

package bpf

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

func TestLoadErrorDropsMemlockHint(t *testing.T) {
	// The text cilium/ebpf gives an EPERM program load.
	cause := fmt.Errorf("program fexit_sendfile_exit: load program: %w%s", unix.EPERM, memlockHint)
	err := loadError(Fentry, cause)
	if strings.Contains(err.Error(), "MEMLOCK") {
		t.Errorf("error %q still suggests raising MEMLOCK", err)
	}
	if !strings.Contains(err.Error(), "load program: operation not permitted") {
		t.Errorf("error %q lost the cause", err)
	}
	if !errors.Is(err, unix.EPERM) {
		t.Errorf("error %q no longer matches EPERM", err)
	}
}

func TestTracefsFromMountinfo(t *testing.T) {
	path := filepath.Join(t.TempDir(), "mountinfo")
	lines := []string{
		"22 28 0:21 / /sys rw,nosuid,nodev,noexec,relatime shared:7 - sysfs sysfs rw",
		// A bind mount of a subdirectory is not a whole tracefs.
		"40 28 0:12 /instances/a /srv/trace rw,relatime - tracefs tracefs rw",
		"41 22 0:12 / /host/sys/kernel/tracing rw,nosuid,nodev,noexec,relatime shared:18 - tracefs tracefs rw",
	}
	if err := os.WriteFile(path, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if got := tracefsFromMountinfo(path); got != "/host/sys/kernel/tracing" {
		t.Errorf("tracefsFromMountinfo = %q, want /host/sys/kernel/tracing", got)
	}
	if err := os.WriteFile(path, []byte(lines[0]+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if got := tracefsFromMountinfo(path); got != "" {
		t.Errorf("tracefsFromMountinfo without tracefs = %q, want empty", got)
	}
}
