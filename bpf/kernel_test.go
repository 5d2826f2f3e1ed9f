//go:build linux

package bpf

import (
	"errors"
	"fmt"
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
