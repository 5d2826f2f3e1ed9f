package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// fakeQemu writes a shell script that stands in for qemu and returns its path.
func fakeQemu(t *testing.T, script string) string {
	t.Helper()
	name := filepath.Join(t.TempDir(), "qemu")
	if err := os.WriteFile(name, []byte("#!/bin/sh\n"+script), 0o755); err != nil {
		t.Fatal(err)
	}
	return name
}

func fakeVMConfig(t *testing.T, qemu string, timeout time.Duration) vmConfig {
	return vmConfig{
		qemu:      qemu,
		kernel:    "vmlinuz",
		initramfs: "initramfs.cpio.gz",
		memoryMiB: 256,
		cpus:      1,
		tcgThread: "single",
		timeout:   timeout,
		logFile:   filepath.Join(t.TempDir(), "console.log"),
	}
}

func TestRunVMReadsConsoleUntilExit(t *testing.T) {
	qemu := fakeQemu(t, `printf 'SENDFILE-OTEL-VMTEST BOOT kernel=fake\r\n'
printf 'SENDFILE-OTEL-VMTEST DONE\r\n'
`)
	outcome, err := runVM(fakeVMConfig(t, qemu, 10*time.Second))
	if err != nil {
		t.Fatal(err)
	}

	if outcome.timedOut {
		t.Error("timedOut = true, want false")
	}
	if !strings.Contains(outcome.console, "SENDFILE-OTEL-VMTEST DONE") {
		t.Errorf("console = %q, want the DONE marker", outcome.console)
	}
	if outcome.bootTime <= 0 {
		t.Errorf("bootTime = %s, want the time to the BOOT marker", outcome.bootTime)
	}
}

func TestRunVMKillsHungVM(t *testing.T) {
	// The shell waits for its child, which keeps the console pipe open, so
	// this passes only if the whole process group is killed.
	qemu := fakeQemu(t, `printf 'SENDFILE-OTEL-VMTEST BOOT kernel=fake\n'
sleep 60
`)
	start := time.Now()
	outcome, err := runVM(fakeVMConfig(t, qemu, time.Second))
	if err != nil {
		t.Fatal(err)
	}

	if !outcome.timedOut {
		t.Error("timedOut = false, want true")
	}
	if elapsed := time.Since(start); elapsed > 10*time.Second {
		t.Errorf("runVM returned after %s, want about 1 s", elapsed)
	}
	if !strings.Contains(outcome.console, "BOOT") {
		t.Errorf("console = %q, want the BOOT marker", outcome.console)
	}
}

func TestRunVMMissingQemu(t *testing.T) {
	_, err := runVM(fakeVMConfig(t, filepath.Join(t.TempDir(), "missing-qemu"), time.Second))
	if err == nil {
		t.Fatal("runVM with a missing qemu returned no error")
	}
}
