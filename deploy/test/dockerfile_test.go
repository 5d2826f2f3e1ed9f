package deploytest

import (
	"bufio"
	"bytes"
	"regexp"
	"strings"
	"testing"
)

// dockerfileFroms returns the image of every FROM line of the Dockerfile
// (without --platform and AS NAME).
func dockerfileFroms(t *testing.T) []string {
	t.Helper()
	var froms []string
	sc := bufio.NewScanner(bytes.NewReader(readRepoFile(t, "Dockerfile")))
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 2 || !strings.EqualFold(fields[0], "FROM") {
			continue
		}
		for _, f := range fields[1:] {
			if !strings.HasPrefix(f, "--") {
				froms = append(froms, f)
				break
			}
		}
	}
	return froms
}

// dockerfileCapabilities returns the capability list of the Dockerfile's
// io.github.sendfile-otel.capabilities label.
func dockerfileCapabilities(t *testing.T) []string {
	t.Helper()
	m := regexp.MustCompile(`io\.github\.sendfile-otel\.capabilities="([^"]*)"`).FindSubmatch(readRepoFile(t, "Dockerfile"))
	if m == nil {
		t.Fatalf("Dockerfile: no io.github.sendfile-otel.capabilities label")
	}
	return strings.Split(string(m[1]), ",")
}

// readmeCapabilities returns the list of the `cap_add: [...]` line that
// deploy/README.md documents.
func readmeCapabilities(t *testing.T) []string {
	t.Helper()
	m := regexp.MustCompile(`(?m)^\s*cap_add:\s*\[([^\]]*)\]`).FindSubmatch(readRepoFile(t, "deploy", "README.md"))
	if m == nil {
		t.Fatalf("deploy/README.md: no `cap_add: [...]` line documenting the capability set")
	}
	return strings.Split(string(m[1]), ",")
}

// TestDockerfile: a pinned Go builder matching go.mod, a static build, a
// minimal final image.
func TestDockerfile(t *testing.T) {
	froms := dockerfileFroms(t)
	if len(froms) < 2 {
		t.Fatalf("Dockerfile: want a multi-stage build, found FROM %v", froms)
	}
	goMod := string(readRepoFile(t, "go.mod"))
	goVersion := regexp.MustCompile(`(?m)^go ([0-9.]+)$`).FindStringSubmatch(goMod)
	if goVersion == nil {
		t.Fatal("go.mod: no go directive")
	}
	builder := froms[0]
	if want := "golang:" + goVersion[1]; builder != want && !strings.HasPrefix(builder, want+"-") && !strings.HasPrefix(builder, want+"@") {
		t.Errorf("Dockerfile: builder %q, want %s (the go directive of go.mod)", builder, want)
	}
	final := froms[len(froms)-1]
	if final != "scratch" && !strings.HasPrefix(final, "gcr.io/distroless/static") {
		t.Errorf("Dockerfile: final image %q; want scratch or distroless static", final)
	}
	if strings.HasPrefix(final, "gcr.io/distroless") && !strings.Contains(final, "@sha256:") {
		t.Errorf("Dockerfile: distroless has no version tags; pin %q by digest", final)
	}
	df := string(readRepoFile(t, "Dockerfile"))
	for _, want := range []string{"CGO_ENABLED=0", "./cmd/sendfile-otel"} {
		if !strings.Contains(df, want) {
			t.Errorf("Dockerfile: does not contain %q", want)
		}
	}
}

// TestCapabilitySetsAgree compares the agent's capability set in every
// place that states it with agentCapabilities: the Dockerfile label,
// docker-compose.yaml, the Kubernetes DaemonSet and deploy/README.md.
func TestCapabilitySetsAgree(t *testing.T) {
	var k8sAdd []string
	_, c := agentDaemonSet(t, renderK8s(t))
	if c.SecurityContext != nil && c.SecurityContext.Capabilities != nil {
		for _, cp := range c.SecurityContext.Capabilities.Add {
			k8sAdd = append(k8sAdd, string(cp))
		}
	}
	sources := []struct {
		where string
		caps  []string
	}{
		{"Dockerfile label io.github.sendfile-otel.capabilities", dockerfileCapabilities(t)},
		{"docker-compose.yaml cap_add of " + agentService, allServices(t)[agentService].CapAdd},
		{"deploy/kubernetes agent capabilities.add", k8sAdd},
		{"deploy/README.md cap_add line", readmeCapabilities(t)},
	}
	for _, s := range sources {
		if !sameCaps(s.caps, agentCapabilities) {
			t.Errorf("%s: %v, want %v (agentCapabilities in deploy/test/helpers_test.go)", s.where, normalizeCaps(s.caps), normalizeCaps(agentCapabilities))
		}
	}
}
