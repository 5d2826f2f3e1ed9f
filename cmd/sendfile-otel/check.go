//go:build linux

package main

import (
	"fmt"
	"io"
	"log/slog"
	"runtime"
	"slices"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/sendfile-otel/sendfile-otel/bpf"
)

// check reports what this kernel offers: BTF, tracefs, compat handlers and
// each attach mode tried for real. It returns 2 for an invalid flag, and 1
// when no mode works or, with --probe, when the requested one does not.
func check(cfg *config, out, errOut io.Writer, logger *slog.Logger) int {
	opts, err := cfg.probeOptions(1, logger)
	if err == nil {
		err = cfg.validate()
	}
	if err != nil {
		fmt.Fprintf(errOut, "sendfile-otel: %v\n", err)
		return 2
	}

	var uname unix.Utsname
	release := "unknown"
	if err := unix.Uname(&uname); err == nil {
		release = unix.ByteSliceToString(uname.Release[:])
	}
	fmt.Fprintf(out, "kernel      %s %s\n", release, runtime.GOARCH)

	if err := bpf.KernelBTF(); err != nil {
		fmt.Fprintf(out, "BTF         missing: %v\n", err)
	} else {
		fmt.Fprintf(out, "BTF         /sys/kernel/btf/vmlinux\n")
	}

	if where := bpf.TracefsMounted(cfg.tracefs); where != "" {
		fmt.Fprintf(out, "tracefs     mounted at %s\n", where)
	} else {
		fmt.Fprintf(out, "tracefs     not mounted; the tracepoint and kprobe modes mount it at %s when allowed (by hand: mount -t tracefs tracefs %s)\n", cfg.tracefs, cfg.tracefs)
	}

	// Trying a mode attaches every hook of it for a moment; nothing is read.
	opts.RingBufferBytes = 64 << 10
	opts.WakeupBytes = 0
	quiet := slog.New(slog.DiscardHandler)
	opts.Logger = quiet

	requested := opts.Mode
	var working []bpf.Mode
	for _, mode := range bpf.Modes {
		opts.Mode = mode
		p, err := bpf.Open(opts)
		if err != nil {
			fmt.Fprintf(out, "%-11s refused: %v\n", mode, err)
			continue
		}
		compat := "native only"
		if p.Compat() {
			compat = "native and i386 compat"
		}
		fmt.Fprintf(out, "%-11s works (%s; hooks %s)\n", mode, compat, strings.Join(p.Hooks(), ", "))
		p.Close()
		working = append(working, mode)
	}

	if requested != bpf.Auto {
		if slices.Contains(working, requested) {
			fmt.Fprintf(out, "--probe     %s works\n", requested)
			return 0
		}
		fmt.Fprintf(out, "--probe     %s does not work on this kernel (see above)\n", requested)
		return 1
	}
	if len(working) == 0 {
		fmt.Fprintln(out, "auto        no attach mode works on this kernel")
		return 1
	}
	fmt.Fprintf(out, "auto        would take %s\n", working[0])
	return 0
}
