//go:build linux

package bpf

import (
	"bufio"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"

	"github.com/cilium/ebpf/btf"
	"github.com/cilium/ebpf/rlimit"
	"golang.org/x/sys/unix"
)

// kernelHasFunction reports whether the running kernel has a function of
// that name, from its BTF or, without BTF, from /proc/kallsyms.
func kernelHasFunction(name string) bool {
	if spec, err := btf.LoadKernelSpec(); err == nil {
		var fn *btf.Func
		return spec.TypeByName(name, &fn) == nil
	}
	return kallsyms()[name]
}

var kallsyms = sync.OnceValue(func() map[string]bool {
	syms := map[string]bool{}
	f, err := os.Open("/proc/kallsyms")
	if err != nil {
		return syms
	}
	defer f.Close()
	scanner := bufio.NewScanner(f)
	for scanner.Scan() {
		// Lines read "address type name [module]".
		fields := strings.Fields(scanner.Text())
		if len(fields) >= 3 && (fields[1] == "T" || fields[1] == "t") {
			syms[fields[2]] = true
		}
	}
	return syms
})

// ensureTracefs mounts tracefs at path when it is mounted nowhere, neither
// on its own nor inside debugfs. Tracepoints and tracefs-based kprobes need
// it; the loader finds a mount wherever /proc/self/mountinfo lists it.
func ensureTracefs(path string, log *slog.Logger) error {
	if TracefsMounted(path) != "" {
		return nil
	}
	if err := unix.Mount("tracefs", path, "tracefs", 0, ""); err != nil {
		return fmt.Errorf("tracefs is not mounted and mounting it at %s failed: %w; run `mount -t tracefs tracefs %s` as root, or bind-mount the host's into the container", path, err, path)
	}
	log.Info("mounted tracefs", "path", path)
	return nil
}

// TracefsMounted reports where tracefs is mounted, or "" when it is not:
// the first tracefs in /proc/self/mountinfo, else path or the copy inside
// debugfs when they hold tracing events.
func TracefsMounted(path string) string {
	if mount := tracefsFromMountinfo("/proc/self/mountinfo"); mount != "" {
		return mount
	}
	for _, dir := range []string{path, "/sys/kernel/debug/tracing"} {
		if _, err := os.Stat(dir + "/events"); err == nil {
			return dir
		}
	}
	return ""
}

// tracefsFromMountinfo returns the mount point of the first whole tracefs
// (root "/") that a mountinfo file lists, or "".
func tracefsFromMountinfo(mountinfo string) string {
	data, err := os.ReadFile(mountinfo)
	if err != nil {
		return ""
	}
	for _, line := range strings.Split(string(data), "\n") {
		// Fields: id parent major:minor root mount-point options... - type source options
		before, after, ok := strings.Cut(line, " - ")
		if !ok || !strings.HasPrefix(after, "tracefs ") {
			continue
		}
		if fields := strings.Fields(before); len(fields) >= 5 && fields[3] == "/" {
			return fields[4]
		}
	}
	return ""
}

// removeMemlock lifts the memlock limit that BPF memory counted against
// before Linux 5.11. cilium/ebpf skips that on newer kernels, but can only
// tell them apart with a privilege check of its own, so an EPERM here means
// the process may not load BPF programs at all.
func removeMemlock() error {
	err := rlimit.RemoveMemlock()
	if errors.Is(err, unix.EPERM) {
		return fmt.Errorf("permission denied: loading BPF programs needs root, or CAP_BPF and CAP_PERFMON (and CAP_SYS_RESOURCE before Linux 5.11): %w", err)
	}
	if err != nil {
		return fmt.Errorf("removing the memlock limit (needed before Linux 5.11): %w", err)
	}
	return nil
}

// KernelBTF reports whether the kernel exposes its BTF, which CO-RE and
// fentry need.
func KernelBTF() error {
	_, err := btf.LoadKernelSpec()
	if errors.Is(err, btf.ErrNotSupported) {
		return fmt.Errorf("kernel BTF not found at /sys/kernel/btf/vmlinux (needs CONFIG_DEBUG_INFO_BTF): %w", err)
	}
	return err
}

// preflight checks what a mode needs before anything loads, so that a
// missing feature is reported by name rather than by a low-level errno.
func preflight(opts Options, mode Mode, log *slog.Logger) error {
	switch mode {
	case Tracepoint:
		return ensureTracefs(opts.TracefsPath, log)
	case Kprobe:
		// A kretprobe with a maxactive is created through tracefs.
		if err := ensureTracefs(opts.TracefsPath, log); err != nil {
			log.Warn("tracefs unavailable, kretprobes keep the kernel's default maxactive", "error", err)
		}
		if !kprobesAvailable(opts.TracefsPath) {
			return errors.New("the kernel has no kprobes (built without CONFIG_KPROBES: neither the kprobe PMU nor tracefs kprobe_events exists)")
		}
	case Fentry:
		if err := KernelBTF(); err != nil {
			return err
		}
	}
	return nil
}

func kprobesAvailable(tracefs string) bool {
	for _, path := range []string{
		"/sys/bus/event_source/devices/kprobe/type",
		tracefs + "/kprobe_events",
		"/sys/kernel/debug/tracing/kprobe_events",
	} {
		if _, err := os.Stat(path); err == nil {
			return true
		}
	}
	return false
}

// loadError explains a failed load in terms of the mode.
func loadError(mode Mode, err error) error {
	if errors.Is(err, unix.EPERM) {
		err = withoutMemlockHint{err}
		if mode == Fentry {
			return fmt.Errorf("the kernel rejected the fentry/fexit programs with EPERM (kernel lockdown, a security module or a kernel without the BPF trampoline can block tracing programs); use --probe=kprobe or tracepoint: %w", err)
		}
		return fmt.Errorf("the kernel rejected the %s programs with EPERM (run as root or with CAP_BPF and CAP_PERFMON): %w", mode, err)
	}
	return fmt.Errorf("loading %s programs: %w", mode, verifierSummary(err))
}

// memlockHint is the suffix cilium/ebpf appends to an EPERM load error.
// Open has already lifted the memlock limit, so the hint would mislead.
const memlockHint = " (MEMLOCK may be too low, consider rlimit.RemoveMemlock)"

// withoutMemlockHint is an error with memlockHint cut from its text. It
// still unwraps to the original, so errors.Is keeps working.
type withoutMemlockHint struct{ err error }

func (e withoutMemlockHint) Error() string { return strings.Replace(e.err.Error(), memlockHint, "", 1) }
func (e withoutMemlockHint) Unwrap() error { return e.err }
