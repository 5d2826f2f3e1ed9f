// Package testenv decides what a privileged test does when it cannot run:
// skip with the reason, or fail when SENDFILE_OTEL_REQUIRE_PRIVILEGED=1
// demands that every such test run, as CI does. Standard library only.
package testenv

import (
	"fmt"
	"os"
	"testing"
)

// EnvRequire, set to "1", turns every SkipOrFail into a failure.
const EnvRequire = "SENDFILE_OTEL_REQUIRE_PRIVILEGED"

// SkipOrFail skips t with the formatted reason, or fails it when
// EnvRequire is "1".
func SkipOrFail(t testing.TB, format string, args ...any) {
	t.Helper()
	reason := fmt.Sprintf(format, args...)
	if os.Getenv(EnvRequire) == "1" {
		t.Fatalf("required test cannot run: %s (%s=1, so this fails instead of skipping)", reason, EnvRequire)
	}
	t.Skip(reason)
}

// RequireRoot calls SkipOrFail unless the test runs as root, which loading
// BPF programs needs.
func RequireRoot(t testing.TB) {
	t.Helper()
	if uid := os.Geteuid(); uid != 0 {
		SkipOrFail(t, "needs root to load BPF programs (running as uid %d)", uid)
	}
}
