//go:build linux

package main

import (
	"fmt"
	"io"
	"log/slog"
	"runtime"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/sendfile-otel/sendfile-otel/bpf"
)

// check reports what this kernel offers: BTF, tracefs, compat handlers and
// each attach mode tried for real. It returns 1 when no mode works.
func check(cfg *config, out io.Writer, logger *slog.Logger) int {
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

	opts, err := cfg.probeOptions(1, logger)
	if err != nil {
		fmt.Fprintf(out, "config      %v\n", err)
		return 2
	}
	// Trying a mode attaches every hook of it for a moment; nothing is read.
	opts.RingBufferBytes = 64 << 10
	opts.WakeupBytes = 0
	quiet := slog.New(slog.DiscardHandler)
	opts.Logger = quiet

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

	if len(working) == 0 {
		fmt.Fprintln(out, "auto        no attach mode works on this kernel")
		return 1
	}
	fmt.Fprintf(out, "auto        would take %s\n", working[0])
	return 0
}
