//go:build linux

package bpf

import (
	"fmt"
	"log/slog"
	"time"
)

// Mode is an attach mode: the kind of hook the programs use.
type Mode string

// Attach modes, in the order Auto tries them.
const (
	// Auto tries Fentry, then Kprobe, then Tracepoint, by a real load and attach.
	Auto Mode = "auto"
	// Fentry uses fentry/fexit on the syscall handlers (Linux 5.5+, BTF, the
	// lowest overhead).
	Fentry Mode = "fentry"
	// Kprobe uses kprobe/kretprobe on the syscall handlers (CONFIG_KPROBES).
	Kprobe Mode = "kprobe"
	// Tracepoint uses the syscalls:sys_{enter,exit}_sendfile64 tracepoints for
	// native calls and the raw sys_enter/sys_exit tracepoints, filtered in the
	// kernel, for compat calls.
	Tracepoint Mode = "tracepoint"
)

// Modes lists the concrete attach modes in the order Auto tries them.
var Modes = []Mode{Fentry, Kprobe, Tracepoint}

// ParseMode returns the Mode named by s.
func ParseMode(s string) (Mode, error) {
	switch m := Mode(s); m {
	case Auto, Fentry, Kprobe, Tracepoint:
		return m, nil
	}
	return "", fmt.Errorf("invalid attach mode %q: want auto, fentry, kprobe or tracepoint", s)
}

// Compat selects whether the i386 compat calls (sendfile32 and the i386
// sendfile64) are traced.
type Compat string

const (
	// CompatAuto traces compat calls when the kernel has ia32 emulation and
	// logs that they are skipped otherwise.
	CompatAuto Compat = "auto"
	// CompatOn fails Open when compat calls cannot be traced.
	CompatOn Compat = "on"
	// CompatOff never traces compat calls. In tracepoint mode this removes the
	// raw tracepoints that otherwise run on every syscall of the host.
	CompatOff Compat = "off"
)

// ParseCompat returns the Compat named by s.
func ParseCompat(s string) (Compat, error) {
	switch c := Compat(s); c {
	case CompatAuto, CompatOn, CompatOff:
		return c, nil
	}
	return "", fmt.Errorf("invalid compat setting %q: want auto, on or off", s)
}

// Filter selects the calls that become span events. The per-user totals
// count every call whatever the filter. Empty sets match everything.
type Filter struct {
	// TGIDs keeps calls made by these processes (thread group ids).
	TGIDs []uint32
	// UIDs keeps calls made by these real user ids.
	UIDs []uint32
	// Comms keeps calls made by threads with these names (up to 15 bytes,
	// compared exactly).
	Comms []string
	// CgroupIDs keeps calls made by tasks in these cgroup v2 cgroups (the
	// cgroup itself, not its descendants).
	CgroupIDs []uint64
	// MinBytes drops successful calls that moved fewer bytes. Failed calls
	// are kept.
	MinBytes int64
	// ErrorsOnly keeps failed calls only.
	ErrorsOnly bool
	// SampleRatio keeps this share of the calls, chosen at random in the
	// kernel, in [0, 1]. Zero is taken as 1 unless SampleRatioSet.
	SampleRatio float64
	// SampleRatioSet makes a SampleRatio of 0 mean "no calls".
	SampleRatioSet bool
}

// Options configure Open. The zero value is usable: it gives the defaults.
type Options struct {
	// Mode is the attach mode; the default is Auto.
	Mode Mode
	// Compat chooses whether compat calls are traced; the default is CompatAuto.
	Compat Compat
	// NoSpans keeps only the per-user totals: no enter hooks, no events.
	NoSpans bool
	// Filter selects the calls that become events.
	Filter Filter
	// NoEnrich skips reading what the fds refer to (paths, sockets,
	// executable): events then carry only the syscall's own arguments.
	NoEnrich bool
	// NoPaths skips reading file and unix socket paths, for hosts where file
	// names are sensitive. Inodes, addresses and ports are still read.
	NoPaths bool
	// MaxEnriched bounds how many calls at once keep their enrichment
	// between enter and exit; default 4096 (about 1.6 KiB each). A call
	// past it gets an event without enrichment.
	MaxEnriched uint32
	// RingBufferBytes is the size of the event ring buffer, a power of two
	// and a multiple of the page size; default 8 MiB, room for about 4700
	// events of 1.7 KiB.
	RingBufferBytes uint32
	// WakeupBytes is how much data must wait in the ring buffer before the
	// reader is woken; below that it is drained every FlushInterval. The
	// default is a quarter of RingBufferBytes.
	WakeupBytes uint32
	// FlushInterval bounds how long an event may wait in the ring buffer
	// before it is read; default 100 ms, at least MinFlushInterval.
	FlushInterval time.Duration
	// MaxInflight bounds the map of calls between enter and exit; default 16384.
	MaxInflight uint32
	// MaxUserKeys bounds the per-user totals map, counted in (uid, errno)
	// pairs; default 10240. Calls past it are counted as TotalsFull.
	MaxUserKeys uint32
	// KretprobeMaxActive is how many calls of one handler a kretprobe can
	// follow at once; default 4096 (the kernel's maximum). The kernel misses the
	// exits of calls past it, and Probe.Counters reports them as KprobeMissed.
	KretprobeMaxActive int
	// TracefsPath is where tracefs is mounted when /proc/self/mountinfo
	// lists it nowhere; default /sys/kernel/tracing.
	TracefsPath string
	// Logger receives what Open decides; default slog.Default().
	Logger *slog.Logger

	// rawCompatTracepoints skips the BTF tracepoints for compat calls in
	// tracepoint mode, so that tests reach the raw tracepoint fallback.
	rawCompatTracepoints bool
}

const (
	defaultRingBufferBytes    = 8 << 20
	defaultFlushInterval      = 100 * time.Millisecond
	defaultMaxInflight        = 16384
	defaultMaxUserKeys        = 10240
	defaultMaxEnriched        = 4096
	defaultKretprobeMaxActive = 4096
	defaultTracefsPath        = "/sys/kernel/tracing"
)

func (o Options) withDefaults() Options {
	if o.Mode == "" {
		o.Mode = Auto
	}
	if o.Compat == "" {
		o.Compat = CompatAuto
	}
	if o.RingBufferBytes == 0 {
		o.RingBufferBytes = defaultRingBufferBytes
	}
	if o.WakeupBytes == 0 {
		o.WakeupBytes = o.RingBufferBytes / 4
	}
	if o.FlushInterval <= 0 {
		o.FlushInterval = defaultFlushInterval
	}
	if o.MaxInflight == 0 {
		o.MaxInflight = defaultMaxInflight
	}
	if o.MaxEnriched == 0 {
		o.MaxEnriched = defaultMaxEnriched
	}
	if o.MaxUserKeys == 0 {
		o.MaxUserKeys = defaultMaxUserKeys
	}
	if o.KretprobeMaxActive == 0 {
		o.KretprobeMaxActive = defaultKretprobeMaxActive
	}
	if o.TracefsPath == "" {
		o.TracefsPath = defaultTracefsPath
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return o
}

// MinFlushInterval is the shortest Options.FlushInterval. The reader waits
// in epoll, whose timeout counts whole milliseconds, so a shorter interval
// would round to no wait at all and keep a core busy polling.
const MinFlushInterval = 10 * time.Millisecond

// MaxFilterEntries is how many values each filter set (pids, uids, comms,
// cgroups) can hold: the size of its map in bpf/sendfile.bpf.c.
const MaxFilterEntries = 1024

// Validate reports the first invalid option, with defaults applied first as
// Open applies them. Open validates too; Validate lets a caller tell a bad
// option apart from a kernel that cannot run the programs.
func (o Options) Validate() error { return o.withDefaults().validate() }

func (o Options) validate() error {
	if _, err := ParseMode(string(o.Mode)); err != nil {
		return err
	}
	if _, err := ParseCompat(string(o.Compat)); err != nil {
		return err
	}
	size := o.RingBufferBytes
	if size&(size-1) != 0 || size < 4096 {
		return fmt.Errorf("invalid ring buffer size %d: want a power of two of at least 4096 bytes", size)
	}
	if o.FlushInterval < MinFlushInterval {
		return fmt.Errorf("invalid flush interval %s: want at least %s", o.FlushInterval, MinFlushInterval)
	}
	if o.WakeupBytes > size {
		return fmt.Errorf("invalid wakeup threshold %d: larger than the ring buffer (%d bytes)", o.WakeupBytes, size)
	}
	if r := o.Filter.SampleRatio; !(r >= 0 && r <= 1) { // NaN fails both comparisons
		return fmt.Errorf("invalid sample ratio %g: want a number in [0, 1]", r)
	}
	for _, set := range []struct {
		name string
		n    int
	}{{"pids", len(o.Filter.TGIDs)}, {"uids", len(o.Filter.UIDs)}, {"comms", len(o.Filter.Comms)}, {"cgroups", len(o.Filter.CgroupIDs)}} {
		if set.n > MaxFilterEntries {
			return fmt.Errorf("invalid filter: %d %s, want at most %d, the size of the kernel's filter map", set.n, set.name, MaxFilterEntries)
		}
	}
	for _, comm := range o.Filter.Comms {
		if len(comm) == 0 || len(comm) > 15 {
			return fmt.Errorf("invalid comm filter %q: want 1 to 15 bytes, the kernel's task name length", comm)
		}
	}
	if o.KretprobeMaxActive < 0 || o.KretprobeMaxActive > 4096 {
		return fmt.Errorf("invalid kretprobe maxactive %d: want 1 to 4096", o.KretprobeMaxActive)
	}
	return nil
}

// sampleThreshold converts a ratio to the kernel's test
// bpf_get_prandom_u32() < threshold, where 1<<32 keeps every call.
func (f Filter) sampleThreshold() uint64 {
	ratio := f.SampleRatio
	if ratio == 0 && !f.SampleRatioSet {
		ratio = 1
	}
	return uint64(ratio * (1 << 32))
}
