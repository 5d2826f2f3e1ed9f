package jaegertest

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/sendfile-otel/sendfile-otel/internal/testenv"
)

// RepoRoot returns the directory of the go.mod that declares module
// github.com/sendfile-otel/sendfile-otel, searching from the working
// directory upward. Nested modules such as deploy/local are passed over.
func RepoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("get working directory: %w", err)
	}
	start := dir
	for {
		modulePath, err := readModulePath(filepath.Join(dir, "go.mod"))
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			return "", err
		}
		if modulePath == rootModulePath {
			return dir, nil
		}

		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("no go.mod of module %s in %s or its parents", rootModulePath, start)
		}
		dir = parent
	}
}

// readModulePath returns the path in the module directive of a go.mod file.
func readModulePath(goMod string) (string, error) {
	f, err := os.Open(goMod)
	if err != nil {
		return "", err
	}
	defer f.Close()

	scanner := bufio.NewScanner(f)
	for scanner.Scan() {
		line := strings.TrimSpace(scanner.Text())
		rest, ok := strings.CutPrefix(line, "module")
		if !ok || (rest != "" && rest[0] != ' ' && rest[0] != '\t') {
			continue
		}
		if i := strings.Index(rest, "//"); i >= 0 {
			rest = rest[:i]
		}
		return strings.Trim(strings.TrimSpace(rest), `"`), nil
	}
	if err := scanner.Err(); err != nil {
		return "", fmt.Errorf("read %s: %w", goMod, err)
	}
	return "", nil
}

// binaryResult caches the outcome of findBinary, so build-jaeger.sh runs
// once per test process however many tests call Start.
var binaryResult struct {
	sync.Mutex
	done bool
	path string
	err  error
}

// findBinary returns the Jaeger binary to run, or skips or fails t when
// there is none.
func findBinary(t testing.TB, root string) string {
	t.Helper()

	if path := os.Getenv(EnvBinary); path != "" {
		if _, err := os.Stat(path); err != nil {
			t.Fatalf("jaegertest: %s=%s: %v", EnvBinary, path, err)
		}
		return path
	}

	binaryResult.Lock()
	defer binaryResult.Unlock()
	if !binaryResult.done {
		binaryResult.path, binaryResult.err = runBuildScript(t, root, testing.Short())
		binaryResult.done = true
	}
	if binaryResult.err != nil {
		skipOrFail(t, "no Jaeger binary: %v", binaryResult.err)
	}
	return binaryResult.path
}

// errNotCached is returned by runBuildScript in cached-only mode when no
// up-to-date build exists.
var errNotCached = errors.New("no up-to-date cached build")

// runBuildScript runs deploy/local/build-jaeger.sh, forwarding its progress
// lines to t.Log, and returns the path printed on its last stdout line.
// With cachedOnly the script does not build and exits 3 when no build is cached.
func runBuildScript(t testing.TB, root string, cachedOnly bool) (string, error) {
	t.Helper()

	script := filepath.Join(root, "deploy", "local", "build-jaeger.sh")
	args := []string{script}
	if cachedOnly {
		args = append(args, "--cached-only")
	}
	ctx, cancel := context.WithTimeout(context.Background(), buildTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", args...)
	cmd.Dir = filepath.Dir(script)

	var stdout bytes.Buffer
	cmd.Stdout = &stdout
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return "", fmt.Errorf("run %s: %w", script, err)
	}
	if err := cmd.Start(); err != nil {
		return "", fmt.Errorf("run %s: %w", script, err)
	}

	// Keep the last lines for the error message and show each line as it
	// comes, because a first build runs for minutes.
	var lastLines []string
	scanner := bufio.NewScanner(stderr)
	for scanner.Scan() {
		line := scanner.Text()
		t.Logf("build-jaeger.sh: %s", line)
		lastLines = append(lastLines, line)
		if len(lastLines) > 20 {
			lastLines = lastLines[1:]
		}
	}
	// Drain whatever the scanner left, so Wait does not block on the pipe.
	_, _ = io.Copy(io.Discard, stderr)

	if err := cmd.Wait(); err != nil {
		var exitErr *exec.ExitError
		if cachedOnly && errors.As(err, &exitErr) && exitErr.ExitCode() == 3 {
			return "", fmt.Errorf("%w, and -short does not build one (run %s once, or set %s)", errNotCached, script, EnvBinary)
		}
		return "", fmt.Errorf("%s: %w; its last output:\n%s", script, err, strings.Join(lastLines, "\n"))
	}

	lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
	path := strings.TrimSpace(lines[len(lines)-1])
	if path == "" {
		return "", fmt.Errorf("%s printed no binary path", script)
	}
	if _, err := os.Stat(path); err != nil {
		return "", fmt.Errorf("%s printed %q: %w", script, path, err)
	}
	return path, nil
}

// skipOrFail skips t, or fails it when $SENDFILE_OTEL_REQUIRE_PRIVILEGED is "1".
func skipOrFail(t testing.TB, format string, args ...any) {
	t.Helper()
	testenv.SkipOrFail(t, "jaegertest: "+format, args...)
}
