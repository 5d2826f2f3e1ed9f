//go:build linux

package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/sendfile-otel/sendfile-otel/bpf"
	"github.com/sendfile-otel/sendfile-otel/otelbridge"
)

// envPrefix starts the environment twin of every flag: --min-bytes is
// SENDFILE_OTEL_MIN_BYTES. A flag given on the command line wins.
const envPrefix = "SENDFILE_OTEL_"

// config is everything the command line and the environment set.
type config struct {
	probe           string
	compat          string
	spans           bool
	pids            string
	uids            string
	comms           string
	cgroups         string
	minBytes        int64
	errorsOnly      bool
	enrich          bool
	capturePaths    bool
	ringBufferBytes uint
	flushInterval   time.Duration
	maxInflight     uint
	passwdFile      string
	tracefs         string
	shutdownTimeout time.Duration
	maxUserSeries   int
	logLevel        string
	logFormat       string

	fromEnv  map[string]bool // flags set by their environment twin
	explicit map[string]bool // flags set on the command line or by their twin, true for each
}

// newFlagSet defines the flags of run and check on cfg.
func newFlagSet(name string, cfg *config, output io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(output)
	fs.StringVar(&cfg.probe, "probe", "auto", "attach mode: auto, fentry, kprobe or tracepoint (auto tries them in that order)")
	fs.StringVar(&cfg.compat, "compat", "auto", "trace i386 compat calls (sendfile32 and the i386 sendfile64): auto, on or off")
	fs.BoolVar(&cfg.spans, "spans", true, "make a span per call; false keeps only the per-user metrics, at the lowest cost")
	fs.StringVar(&cfg.pids, "pid", "", "comma-separated process ids whose calls become spans (default all)")
	fs.StringVar(&cfg.uids, "uid", "", "comma-separated real user ids whose calls become spans (default all)")
	fs.StringVar(&cfg.comms, "comm", "", "comma-separated thread names (up to 15 bytes each) whose calls become spans (default all)")
	fs.StringVar(&cfg.cgroups, "cgroup", "", "comma-separated cgroup v2 directories (absolute, or relative to the cgroup2 mount) whose tasks' calls become spans; descendants are not included (default all)")
	fs.Int64Var(&cfg.minBytes, "min-bytes", 0, "skip spans for successful calls that moved fewer bytes (failed calls are kept)")
	fs.BoolVar(&cfg.errorsOnly, "errors-only", false, "make spans for failed calls only")
	fs.BoolVar(&cfg.enrich, "enrich", true, "add what the fds refer to (file, socket ends, executable, container) to spans")
	fs.BoolVar(&cfg.capturePaths, "capture-paths", true, "read file and unix socket paths; false keeps file names off spans on hosts where they are sensitive")
	fs.UintVar(&cfg.ringBufferBytes, "ring-buffer-size", 8<<20, "size in bytes of the kernel's event ring buffer, a power of two (an enriched event takes about 1.7 KiB)")
	fs.DurationVar(&cfg.flushInterval, "flush-interval", 100*time.Millisecond, "longest time an event waits in the ring buffer before it is read")
	fs.UintVar(&cfg.maxInflight, "max-inflight", 16384, "calls tracked between enter and exit at once")
	fs.StringVar(&cfg.passwdFile, "passwd-file", "/etc/passwd", "passwd file that maps user ids to names (in a container, mount the host's)")
	fs.StringVar(&cfg.tracefs, "tracefs", "/sys/kernel/tracing", "where to mount tracefs when /proc/self/mountinfo lists it nowhere")
	fs.DurationVar(&cfg.shutdownTimeout, "shutdown-timeout", 5*time.Second, "longest time to flush spans and metrics after SIGINT, SIGTERM or SIGHUP")
	fs.IntVar(&cfg.maxUserSeries, "max-user-series", 2000, "most metric series per instrument; more users go to the SDK's overflow series")
	fs.StringVar(&cfg.logLevel, "log-level", "info", "log level: debug, info, warn or error")
	fs.StringVar(&cfg.logFormat, "log-format", "text", "log format: text or json")
	return fs
}

// envName returns the environment twin of a flag.
func envName(flagName string) string {
	return envPrefix + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

// parseArgs parses the command line, then fills every flag not given there
// from its environment twin, unless the twin is empty.
func parseArgs(fs *flag.FlagSet, args []string) (fromEnv, explicit map[string]bool, err error) {
	if err := fs.Parse(args); err != nil {
		return nil, nil, err
	}
	if fs.NArg() > 0 {
		return nil, nil, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	fromEnv = map[string]bool{}
	explicit = map[string]bool{}
	fs.Visit(func(f *flag.Flag) { explicit[f.Name] = true })

	var errs []error
	fs.VisitAll(func(f *flag.Flag) {
		if explicit[f.Name] {
			return
		}
		// An empty twin counts as unset, as an empty OTEL_* variable does.
		value := os.Getenv(envName(f.Name))
		if value == "" {
			return
		}
		if err := fs.Set(f.Name, value); err != nil {
			errs = append(errs, fmt.Errorf("invalid %s %q: want %s", envName(f.Name), value, valueKind(f)))
			return
		}
		fromEnv[f.Name] = true
	})
	for name := range fromEnv {
		explicit[name] = true
	}
	return fromEnv, explicit, errors.Join(errs...)
}

// spanOnlyFlags have no effect when the kernel sends no span events.
var spanOnlyFlags = []string{"pid", "uid", "comm", "cgroup", "min-bytes", "errors-only", "enrich", "capture-paths", "ring-buffer-size", "flush-interval", "max-inflight"}

// ignoredSettings returns the settings set explicitly that have no effect in this
// configuration, so that the agent can warn about them.
func (c *config) ignoredSettings() []string {
	var ignored []string
	if !c.spans {
		for _, name := range spanOnlyFlags {
			if c.explicit[name] {
				ignored = append(ignored, c.ref(name))
			}
		}
	}
	return ignored
}

// valueKind describes the values a flag accepts, for error messages.
func valueKind(f *flag.Flag) string {
	getter, ok := f.Value.(flag.Getter)
	if !ok {
		return "a value like the flag's default " + f.DefValue
	}
	switch getter.Get().(type) {
	case bool:
		return "true or false"
	case int, int64:
		return "a whole number"
	case uint, uint64:
		return "a whole number of 0 or more"
	case time.Duration:
		return "a duration such as 100ms or 5s"
	}
	return "a value like the flag's default " + f.DefValue
}

// validate checks the settings that probeOptions does not use.
func (c *config) validate() error {
	if c.shutdownTimeout <= 0 {
		return fmt.Errorf("invalid %s %s: want a positive duration", c.ref("shutdown-timeout"), c.shutdownTimeout)
	}
	if c.maxUserSeries <= 0 {
		return fmt.Errorf("invalid %s %d: want a positive number", c.ref("max-user-series"), c.maxUserSeries)
	}
	return nil
}

// ref names a setting as the user gave it: SENDFILE_OTEL_MIN_BYTES when the
// value came from the environment, --min-bytes otherwise.
func (c *config) ref(flagName string) string {
	if c.fromEnv[flagName] {
		return envName(flagName)
	}
	return "--" + flagName
}

// probeOptions turns the configuration into options for bpf.Open.
func (c *config) probeOptions(sampleRatio float64, logger *slog.Logger) (bpf.Options, error) {
	mode, err := bpf.ParseMode(c.probe)
	if err != nil {
		return bpf.Options{}, fmt.Errorf("%s: %w", c.ref("probe"), err)
	}
	compat, err := bpf.ParseCompat(c.compat)
	if err != nil {
		return bpf.Options{}, fmt.Errorf("%s: %w", c.ref("compat"), err)
	}
	if c.ringBufferBytes > 1<<30 || c.ringBufferBytes < 4096 || c.ringBufferBytes&(c.ringBufferBytes-1) != 0 {
		return bpf.Options{}, fmt.Errorf("invalid %s %d: want a power of two from 4096 to 1073741824 (1 GiB)", c.ref("ring-buffer-size"), c.ringBufferBytes)
	}
	if c.maxInflight == 0 || c.maxInflight > 1<<24 {
		return bpf.Options{}, fmt.Errorf("invalid %s %d: want 1 to %d", c.ref("max-inflight"), c.maxInflight, 1<<24)
	}
	if c.minBytes < 0 {
		return bpf.Options{}, fmt.Errorf("invalid %s %d: want 0 or more", c.ref("min-bytes"), c.minBytes)
	}
	if c.flushInterval < bpf.MinFlushInterval || c.flushInterval > time.Minute {
		return bpf.Options{}, fmt.Errorf("invalid %s %s: want %s to 1m", c.ref("flush-interval"), c.flushInterval, bpf.MinFlushInterval)
	}

	filter := bpf.Filter{
		MinBytes:       c.minBytes,
		ErrorsOnly:     c.errorsOnly,
		SampleRatio:    sampleRatio,
		SampleRatioSet: true,
	}
	if filter.TGIDs, err = parseIDs(c.ref("pid"), c.pids); err != nil {
		return bpf.Options{}, err
	}
	if filter.UIDs, err = parseIDs(c.ref("uid"), c.uids); err != nil {
		return bpf.Options{}, err
	}
	for _, comm := range splitList(c.comms) {
		if len(comm) > 15 {
			return bpf.Options{}, fmt.Errorf("invalid %s value %q: want at most 15 bytes, the kernel's task name length", c.ref("comm"), comm)
		}
		filter.Comms = append(filter.Comms, comm)
	}
	for _, dir := range splitList(c.cgroups) {
		id, err := cgroupID(dir)
		if err != nil {
			return bpf.Options{}, fmt.Errorf("%s: %w", c.ref("cgroup"), err)
		}
		filter.CgroupIDs = append(filter.CgroupIDs, id)
	}

	opts := bpf.Options{
		Mode:            mode,
		Compat:          compat,
		NoSpans:         !c.spans,
		NoEnrich:        !c.enrich,
		NoPaths:         !c.capturePaths,
		Filter:          filter,
		RingBufferBytes: uint32(c.ringBufferBytes),
		FlushInterval:   c.flushInterval,
		MaxInflight:     uint32(c.maxInflight),
		TracefsPath:     c.tracefs,
		Logger:          logger.With("component", "bpf"),
	}
	if err := opts.Validate(); err != nil {
		return bpf.Options{}, err
	}
	return opts, nil
}

func splitList(value string) []string {
	var out []string
	for _, item := range strings.Split(value, ",") {
		if item = strings.TrimSpace(item); item != "" {
			out = append(out, item)
		}
	}
	return out
}

func parseIDs(flagName, value string) ([]uint32, error) {
	var ids []uint32
	for _, item := range splitList(value) {
		id, err := strconv.ParseUint(item, 10, 32)
		if err != nil {
			return nil, fmt.Errorf("invalid %s value %q: want a comma-separated list of numbers", flagName, item)
		}
		ids = append(ids, uint32(id))
	}
	return ids, nil
}

// cgroupID returns the cgroup v2 id of a cgroup directory: its inode number,
// which is what bpf_get_current_cgroup_id reports. A relative path is taken
// under the cgroup2 mount.
func cgroupID(dir string) (uint64, error) {
	if !strings.HasPrefix(dir, "/") {
		mount := otelbridge.Cgroup2Mount()
		if mount == "" {
			return 0, fmt.Errorf("cgroup %s: no cgroup2 file system is mounted; give an absolute path", dir)
		}
		dir = mount + "/" + dir
	}
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		return 0, fmt.Errorf("cgroup %s: %w", dir, err)
	}
	if st.Type != unix.CGROUP2_SUPER_MAGIC {
		return 0, fmt.Errorf("cgroup %s is not on a cgroup v2 file system", dir)
	}
	var stat unix.Stat_t
	if err := unix.Stat(dir, &stat); err != nil {
		return 0, fmt.Errorf("cgroup %s: %w", dir, err)
	}
	if stat.Mode&unix.S_IFMT != unix.S_IFDIR {
		return 0, fmt.Errorf("cgroup %s is a file, not a cgroup directory", dir)
	}
	return stat.Ino, nil
}

// newLogger builds the process logger from --log-level and --log-format.
func newLogger(level, format string, output io.Writer) (*slog.Logger, error) {
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("invalid --log-level %q: want debug, info, warn or error", level)
	}
	opts := &slog.HandlerOptions{Level: lvl}
	switch format {
	case "text":
		return slog.New(slog.NewTextHandler(output, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(output, opts)), nil
	}
	return nil, fmt.Errorf("invalid --log-format %q: want text or json", format)
}
