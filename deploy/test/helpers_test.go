package deploytest

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
)

// agentCapabilities is the one capability set of the agent container, without
// the CAP_ prefix. The Dockerfile's io.github.sendfile-otel.capabilities
// label, cap_add in docker-compose.yaml, capabilities.add in
// deploy/kubernetes/agent-daemonset.yaml and the cap_add line in
// deploy/README.md must all equal it (TestCapabilitySetsAgree and the
// compose and Kubernetes tests). deploy/README.md explains each one.
var agentCapabilities = []string{"BPF", "PERFMON", "DAC_READ_SEARCH", "SYS_PTRACE"}

// hostBindSources are the host paths docker-compose.yaml may bind-mount into
// a container. Any other bind source must be a file or directory of this
// repository.
var hostBindSources = map[string]bool{
	"/sys/kernel/tracing": true,
	"/sys/fs/cgroup":      true,
	"/etc/passwd":         true,
}

var (
	rootOnce sync.Once
	rootDir  string
	rootErr  error
)

// repoRoot returns the absolute path of the repository: two levels up from
// this module, checked by the root go.mod's module line.
func repoRoot(t testing.TB) string {
	t.Helper()
	rootOnce.Do(func() {
		dir, err := filepath.Abs(filepath.Join("..", ".."))
		if err != nil {
			rootErr = err
			return
		}
		mod, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err != nil {
			rootErr = err
			return
		}
		if !bytes.Contains(mod, []byte("module github.com/sendfile-otel/sendfile-otel\n")) {
			rootErr = os.ErrNotExist
			return
		}
		rootDir = dir
	})
	if rootErr != nil {
		t.Fatalf("finding the repository root from %s: %v (run the tests from deploy/test)", mustGetwd(), rootErr)
	}
	return rootDir
}

func mustGetwd() string {
	wd, err := os.Getwd()
	if err != nil {
		return "?"
	}
	return wd
}

// repoPath joins parts below the repository root.
func repoPath(t testing.TB, parts ...string) string {
	t.Helper()
	return filepath.Join(append([]string{repoRoot(t)}, parts...)...)
}

// readRepoFile returns a repository file's content.
func readRepoFile(t testing.TB, parts ...string) []byte {
	t.Helper()
	b, err := os.ReadFile(repoPath(t, parts...))
	if err != nil {
		t.Fatalf("reading %s: %v", filepath.Join(parts...), err)
	}
	return b
}

// rel returns path relative to the repository root, for messages.
func rel(t testing.TB, path string) string {
	t.Helper()
	r, err := filepath.Rel(repoRoot(t), path)
	if err != nil || strings.HasPrefix(r, "..") {
		return path
	}
	return r
}

// normalizeCaps returns capability names without the CAP_ prefix, upper
// case, sorted and without duplicates, so that "cap_bpf" and "BPF" compare
// equal.
func normalizeCaps(caps []string) []string {
	out := make([]string, 0, len(caps))
	for _, c := range caps {
		c = strings.ToUpper(strings.TrimSpace(c))
		c = strings.TrimPrefix(c, "CAP_")
		if c != "" {
			out = append(out, c)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// sameCaps reports whether two capability lists name the same set.
func sameCaps(a, b []string) bool {
	return slices.Equal(normalizeCaps(a), normalizeCaps(b))
}
