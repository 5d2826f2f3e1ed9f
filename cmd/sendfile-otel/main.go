//go:build linux

// Command sendfile-otel traces every sendfile call on the host with eBPF and
// exports each call as an OpenTelemetry span and per-user byte counters as
// OpenTelemetry metrics, over OTLP.
//
//	sendfile-otel [run] [flags]   run until SIGINT, SIGTERM or SIGHUP
//	sendfile-otel check [flags]   report what this kernel offers
//	sendfile-otel version         print the version
//
// It exits with 0 after a clean stop, 2 for an invalid command line,
// environment twin or OTEL_* value, and 1 when the kernel or the host
// cannot run it.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime"
	"strings"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

const usage = `Usage:
  sendfile-otel [run] [flags]   trace sendfile calls and export spans and metrics
  sendfile-otel check [flags]   report what this kernel offers and which mode auto takes
  sendfile-otel version         print the version

Every flag has an environment twin: --min-bytes is SENDFILE_OTEL_MIN_BYTES.
A flag on the command line wins over its twin. The standard OTEL_* variables
set the exporters, the endpoint, the sampler and the resource.

Flags of run and check:
`

func main() {
	os.Exit(runMain(os.Args[1:], os.Stdout, os.Stderr))
}

// runMain runs one subcommand and returns the exit status.
func runMain(args []string, stdout, stderr io.Writer) int {
	command := "run"
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		command, args = args[0], args[1:]
	}
	if command == "run" && len(args) == 1 && (args[0] == "--version" || args[0] == "-version") {
		command, args = "version", nil
	}

	var cfg config
	fs := newFlagSet("sendfile-otel "+command, &cfg, stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, usage)
		fs.PrintDefaults()
	}

	switch command {
	case "version":
		if len(args) > 0 {
			fmt.Fprintf(stderr, "sendfile-otel: version takes no arguments, got %q\n", strings.Join(args, " "))
			return 2
		}
		fmt.Fprintf(stdout, "sendfile-otel %s (%s, %s/%s)\n", version, runtime.Version(), runtime.GOOS, runtime.GOARCH)
		return 0
	case "help":
		fs.Usage()
		return 0
	case "run", "check":
	default:
		fmt.Fprintf(stderr, "sendfile-otel: unknown command %q: want run, check or version\n", command)
		return 2
	}

	fromEnv, explicit, err := parseArgs(fs, args)
	cfg.fromEnv, cfg.explicit = fromEnv, explicit
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		fmt.Fprintf(stderr, "sendfile-otel: %v\n", err)
		return 2
	}
	logger, err := newLogger(cfg.logLevel, cfg.logFormat, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "sendfile-otel: %v\n", err)
		return 2
	}

	if command == "check" {
		return check(&cfg, stdout, stderr, logger)
	}
	if err := run(&cfg, logger); err != nil {
		logger.Error("sendfile-otel stopped", "error", err)
		var invalid *configError
		if errors.As(err, &invalid) {
			return 2
		}
		return 1
	}
	return 0
}

// configError marks an invalid flag, environment twin or OTEL_* value,
// which exits with status 2 like a command line that does not parse.
type configError struct{ err error }

func (e *configError) Error() string { return e.err.Error() }
func (e *configError) Unwrap() error { return e.err }

// invalidConfig wraps a non-nil err as a configError.
func invalidConfig(err error) error {
	if err == nil {
		return nil
	}
	return &configError{err: err}
}
