//go:build linux

package e2e

import (
	"bufio"
	"compress/gzip"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"testing"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"golang.org/x/sys/unix"
)

func sendfile(t testing.TB, out, in int, off *int64, count int) int {
	t.Helper()
	n, err := unix.Sendfile(out, in, off, count)
	if err != nil {
		t.Fatalf("sendfile: %v", err)
	}
	return n
}

// kernelConfig reads one option from /proc/config.gz: "y", "m", or "" when
// it is not set. ok is false when the kernel does not publish its config.
func kernelConfig(option string) (value string, ok bool) {
	f, err := os.Open("/proc/config.gz")
	if err != nil {
		return "", false
	}
	defer f.Close()
	gz, err := gzip.NewReader(f)
	if err != nil {
		return "", false
	}
	scanner := bufio.NewScanner(gz)
	for scanner.Scan() {
		line := scanner.Text()
		if v, found := strings.CutPrefix(line, option+"="); found {
			return v, true
		}
	}
	return "", true
}

// fentryLoads loads a trivial fentry program of the test's own, to learn
// whether this kernel accepts fentry at all.
func fentryLoads() bool {
	target := "__x64_sys_getpid"
	if runtime.GOARCH == "arm64" {
		target = "__arm64_sys_getpid"
	}
	prog, err := ebpf.NewProgram(&ebpf.ProgramSpec{
		Type:         ebpf.Tracing,
		AttachType:   ebpf.AttachTraceFEntry,
		AttachTo:     target,
		License:      "GPL",
		Instructions: asm.Instructions{asm.Mov.Imm(asm.R0, 0), asm.Return()},
	})
	if err != nil {
		return false
	}
	prog.Close()
	return true
}

func TestCheckReportsThisKernel(t *testing.T) {
	requireRoot(t)
	kprobes, published := kernelConfig("CONFIG_KPROBES")
	if !published {
		skipOrFail(t, "the kernel does not publish /proc/config.gz, so the expected kprobe support is unknown")
	}

	out, err := exec.Command(agentBinary(t), "check").CombinedOutput()
	report := string(out)
	t.Logf("sendfile-otel check:\n%s", report)
	if err != nil {
		t.Fatalf("check exited with %v; the tracepoint mode should work here", err)
	}

	line := func(prefix string) string {
		for _, l := range strings.Split(report, "\n") {
			if strings.HasPrefix(l, prefix) {
				return l
			}
		}
		t.Fatalf("no %q line in the report", prefix)
		return ""
	}
	if l := line("tracepoint"); !strings.Contains(l, "works") {
		t.Errorf("tracepoint line %q, want works", l)
	}
	if l := line("kprobe"); (kprobes == "y") != strings.Contains(l, "works") {
		t.Errorf("kprobe line %q, but CONFIG_KPROBES=%q", l, kprobes)
	}
	if l := line("kprobe"); kprobes != "y" && !strings.Contains(l, "CONFIG_KPROBES") {
		t.Errorf("kprobe line %q should name the missing CONFIG_KPROBES", l)
	}
	if l := line("fentry"); fentryLoads() != strings.Contains(l, "works") {
		t.Errorf("fentry line %q disagrees with a direct fentry load (loads: %v)", l, fentryLoads())
	}
	if l := line("auto"); !strings.Contains(l, "would take") {
		t.Errorf("auto line %q", l)
	}
}
