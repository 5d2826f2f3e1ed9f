package deploytest

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/types"
)

// agentService is the agent's service name in docker-compose.yaml.
const agentService = "sendfile-otel"

// composeScenarios are the ways the demo stack is started: the default
// (COMPOSE_PROFILES from .env) and the Tempo profile. Each names the trace
// backend service that must run and the one that must not.
var composeScenarios = []struct {
	name     string
	profiles []string // nil: the default profiles from .env
	backend  string   // must be enabled
	absent   string   // must be disabled
}{
	{"default", nil, "jaeger", "tempo"},
	{"tempo", []string{"tempo"}, "tempo", "jaeger"},
}

// loadCompose loads docker-compose.yaml with compose-go, as `docker compose`
// does in the repository root: .env read, the given profiles active (nil:
// COMPOSE_PROFILES from .env; "*": all), paths resolved. compose-go
// validates the file against the Compose specification's schema, so an
// unknown key fails here. The OS environment is left out so that the
// result does not depend on the shell running the test.
func loadCompose(t *testing.T, profiles []string) *types.Project {
	t.Helper()
	root := repoRoot(t)
	profileOpt := cli.WithDefaultProfiles()
	if profiles != nil {
		profileOpt = cli.WithProfiles(profiles)
	}
	opts, err := cli.NewProjectOptions(
		[]string{filepath.Join(root, "docker-compose.yaml")},
		cli.WithWorkingDirectory(root),
		cli.WithEnvFiles(),
		cli.WithDotEnv,
		profileOpt,
		cli.WithResolvedPaths(true),
	)
	if err != nil {
		t.Fatalf("docker-compose.yaml: project options: %v", err)
	}
	project, err := opts.LoadProject(context.Background())
	if err != nil {
		which := fmt.Sprintf("profiles %v", profiles)
		if profiles == nil {
			which = "default profiles from .env"
		}
		t.Fatalf("docker-compose.yaml: compose-go cannot load it (%s): %v", which, err)
	}
	return project
}

// allServices returns every service of the file, whatever its profiles.
func allServices(t *testing.T) types.Services {
	t.Helper()
	return loadCompose(t, []string{"*"}).Services
}

// versionTag is a tag that names a full version: 1.2.3, v1.2.3,
// 1.2.3-alpine, 1.28.0-alpine3.21, 0.0.0-dev.
var versionTag = regexp.MustCompile(`^v?[0-9]+\.[0-9]+\.[0-9]+([.+-][0-9A-Za-z.+-]+)?$`)

var digestRef = regexp.MustCompile(`^sha256:[0-9a-f]{64}$`)

// splitImage splits an image reference into repository, tag and digest.
func splitImage(ref string) (repo, tag, digest string) {
	repo = ref
	if i := strings.Index(repo, "@"); i >= 0 {
		repo, digest = repo[:i], repo[i+1:]
	}
	if i := strings.LastIndex(repo, ":"); i > strings.LastIndex(repo, "/") {
		repo, tag = repo[:i], repo[i+1:]
	}
	return repo, tag, digest
}

// TestComposeImagesPinned: every service names its image with a full
// version tag, never latest; a digest, if given, is well formed.
func TestComposeImagesPinned(t *testing.T) {
	for name, svc := range allServices(t) {
		if svc.Image == "" {
			t.Errorf("service %s: no image; name it with a version tag even when it is built", name)
			continue
		}
		_, tag, digest := splitImage(svc.Image)
		switch {
		case tag == "":
			t.Errorf("service %s: image %q has no tag; pin a version such as :1.2.3", name, svc.Image)
		case tag == "latest":
			t.Errorf("service %s: image %q uses latest; pin a version such as :1.2.3", name, svc.Image)
		case !versionTag.MatchString(tag):
			t.Errorf("service %s: image %q: tag %q is not a full version (want MAJOR.MINOR.PATCH, optionally with a suffix)", name, svc.Image, tag)
		}
		if digest != "" && !digestRef.MatchString(digest) {
			t.Errorf("service %s: image %q: malformed digest %q", name, svc.Image, digest)
		}
		if svc.Build != nil && svc.PullPolicy != types.PullPolicyBuild {
			t.Errorf("service %s: built locally but pull_policy is %q; set pull_policy: build so compose never pulls %s", name, svc.PullPolicy, svc.Image)
		}
	}
}

// TestComposeBindMountsExist: every bind-mounted file or directory is in the
// repository, except the few host paths the agent needs.
func TestComposeBindMountsExist(t *testing.T) {
	root := repoRoot(t)
	for name, svc := range allServices(t) {
		for _, v := range svc.Volumes {
			if v.Type != types.VolumeTypeBind {
				continue
			}
			src := filepath.Clean(v.Source)
			if !strings.HasPrefix(src, root+string(filepath.Separator)) {
				if !hostBindSources[src] {
					t.Errorf("service %s: bind mount of host path %s; only %v may come from the host, everything else from this repository",
						name, src, sortedKeys(hostBindSources))
				}
				continue
			}
			if _, err := os.Stat(src); err != nil {
				t.Errorf("service %s: bind mount source %s (-> %s) is missing from the repository: %v", name, rel(t, src), v.Target, err)
			}
		}
	}
}

// TestComposeNotPrivileged: no service is privileged; the agent gets
// capabilities instead.
func TestComposeNotPrivileged(t *testing.T) {
	for name, svc := range allServices(t) {
		if svc.Privileged {
			t.Errorf("service %s: privileged: true; grant the capabilities it needs instead (the agent's: %v)", name, agentCapabilities)
		}
		for _, opt := range svc.SecurityOpt {
			if strings.Contains(opt, "unconfined") {
				t.Errorf("service %s: security_opt %q turns off a security profile; deploy/README.md explains why the defaults suffice", name, opt)
			}
		}
	}
}

// TestComposePortsOnLoopback: every published port is bound to 127.0.0.1.
func TestComposePortsOnLoopback(t *testing.T) {
	for name, svc := range allServices(t) {
		for _, p := range svc.Ports {
			if p.Published == "" {
				continue
			}
			if ip := net.ParseIP(p.HostIP); ip == nil || !ip.Equal(net.IPv4(127, 0, 0, 1)) {
				t.Errorf("service %s: port %s:%d published on %q; publish it on 127.0.0.1 only (\"127.0.0.1:%s:%d\")",
					name, p.Published, p.Target, p.HostIP, p.Published, p.Target)
			}
		}
	}
}

// TestComposeAgent checks the agent's service: host PID namespace, the
// capability set, the mounts and the environment.
func TestComposeAgent(t *testing.T) {
	svc, ok := allServices(t)[agentService]
	if !ok {
		t.Fatalf("docker-compose.yaml has no service %q", agentService)
	}
	if svc.Pid != "host" {
		t.Errorf("service %s: pid %q, want host (the agent traces host pids and reads their /proc)", agentService, svc.Pid)
	}
	if len(svc.Profiles) != 0 {
		t.Errorf("service %s: in profiles %v; it must run in every profile", agentService, svc.Profiles)
	}
	if !sameCaps(svc.CapAdd, agentCapabilities) {
		t.Errorf("service %s: cap_add %v, want %v (the set of the Dockerfile label and deploy/kubernetes)", agentService, normalizeCaps(svc.CapAdd), normalizeCaps(agentCapabilities))
	}
	if !slices.Equal(normalizeCaps(svc.CapDrop), []string{"ALL"}) {
		t.Errorf("service %s: cap_drop %v, want [ALL] so that only cap_add remains", agentService, svc.CapDrop)
	}

	// Mounts: tracefs, the cgroup fs and the host's passwd, all read-only.
	mounts := map[string]types.ServiceVolumeConfig{}
	for _, v := range svc.Volumes {
		mounts[filepath.Clean(v.Source)] = v
	}
	for src, target := range map[string]string{
		"/sys/kernel/tracing": "/sys/kernel/tracing",
		"/sys/fs/cgroup":      "/sys/fs/cgroup",
		"/etc/passwd":         "/host/etc/passwd",
	} {
		v, ok := mounts[src]
		switch {
		case !ok:
			t.Errorf("service %s: no bind mount of %s (want %s:%s:ro)", agentService, src, src, target)
		case v.Target != target:
			t.Errorf("service %s: %s is mounted at %s, want %s", agentService, src, v.Target, target)
		case !v.ReadOnly:
			t.Errorf("service %s: %s is mounted read-write; mount it read-only", agentService, src)
		}
	}
	env := func(k string) string {
		if v, ok := svc.Environment[k]; ok && v != nil {
			return *v
		}
		return ""
	}
	if got := env("SENDFILE_OTEL_PASSWD_FILE"); got != mounts["/etc/passwd"].Target {
		t.Errorf("service %s: SENDFILE_OTEL_PASSWD_FILE=%q, but the host's /etc/passwd is mounted at %q", agentService, got, mounts["/etc/passwd"].Target)
	}
	if got := env("OTEL_SERVICE_NAME"); got != "sendfile-otel" {
		t.Errorf("service %s: OTEL_SERVICE_NAME=%q, want sendfile-otel (the dashboard and span metrics select on it)", agentService, got)
	}
}

// TestComposeAgentReachesCollector: in every scenario, the agent's
// OTEL_EXPORTER_OTLP_ENDPOINT names a running service (by name or network
// alias) whose collector configuration receives OTLP/gRPC on that port;
// that collector exports traces to the scenario's backend, and Prometheus
// scrapes its prometheus exporter.
func TestComposeAgentReachesCollector(t *testing.T) {
	for _, sc := range composeScenarios {
		t.Run(sc.name, func(t *testing.T) {
			project := loadCompose(t, sc.profiles)
			agent, err := project.GetService(agentService)
			if err != nil {
				t.Fatalf("%s: %v", agentService, err)
			}
			raw := ""
			if v := agent.Environment["OTEL_EXPORTER_OTLP_ENDPOINT"]; v != nil {
				raw = *v
			}
			u, err := url.Parse(raw)
			if err != nil || u.Hostname() == "" || u.Port() == "" {
				t.Fatalf("%s: OTEL_EXPORTER_OTLP_ENDPOINT=%q is not a URL with host and port", agentService, raw)
			}

			// The service answering to the endpoint's host name.
			var collectorName string
			for name, svc := range project.Services {
				names := []string{name}
				for _, n := range svc.Networks {
					if n != nil {
						names = append(names, n.Aliases...)
					}
				}
				if slices.Contains(names, u.Hostname()) {
					if collectorName != "" {
						t.Fatalf("both %s and %s answer to %s", collectorName, name, u.Hostname())
					}
					collectorName = name
				}
			}
			if collectorName == "" {
				t.Fatalf("%s sends to %s, but no enabled service has that name or alias (enabled: %v)", agentService, u.Host, project.ServiceNames())
			}
			collector := project.Services[collectorName]
			configPath := ""
			for _, v := range collector.Volumes {
				if v.Type == types.VolumeTypeBind && v.Target == "/etc/otelcol-contrib/config.yaml" {
					configPath = v.Source
				}
			}
			if configPath == "" {
				t.Fatalf("service %s: no configuration mounted at /etc/otelcol-contrib/config.yaml", collectorName)
			}
			col := loadCollectorConfig(t, configPath, nil)
			if port := portOf(t, col.otlpGRPCEndpoint(t)); port != u.Port() {
				t.Errorf("%s sends OTLP to port %s, but %s (%s) receives OTLP/gRPC on port %s", agentService, u.Port(), collectorName, rel(t, configPath), port)
			}

			// The trace backend of this scenario, and only it.
			if _, err := project.GetService(sc.backend); err != nil {
				t.Errorf("backend %s is not enabled: %v", sc.backend, err)
			}
			if _, err := project.GetService(sc.absent); err == nil {
				t.Errorf("%s runs too; this scenario uses %s", sc.absent, sc.backend)
			}
			foundBackend := false
			for id, ec := range col.cfg.Exporters {
				if id.Type().String() != "otlp_grpc" {
					continue
				}
				host, _, err := net.SplitHostPort(otlpExporterEndpoint(ec))
				if err != nil {
					t.Errorf("%s: exporters::%s: %v", rel(t, configPath), id, err)
					continue
				}
				if host == sc.backend {
					foundBackend = true
				} else if _, err := project.GetService(host); err != nil {
					t.Errorf("%s: exporters::%s sends to %s, which is not an enabled service", rel(t, configPath), id, host)
				}
			}
			if !foundBackend {
				t.Errorf("%s: no otlp_grpc exporter sends traces to %s", rel(t, configPath), sc.backend)
			}

			// Prometheus scrapes this collector's prometheus exporter.
			targets := prometheusTargets(t)
			want := net.JoinHostPort(u.Hostname(), portOf(t, col.prometheusEndpoint(t)))
			if !slices.Contains(targets, want) {
				t.Errorf("deploy/prometheus/prometheus.yaml scrapes %v, not %s (the prometheus exporter of %s)", targets, want, collectorName)
			}
		})
	}
}

// TestComposeDefaultProfileFile: .env selects the Jaeger profile, so that
// a plain `docker compose up` runs Jaeger.
func TestComposeDefaultProfileFile(t *testing.T) {
	env := string(readRepoFile(t, ".env"))
	if !regexp.MustCompile(`(?m)^COMPOSE_PROFILES=jaeger$`).MatchString(env) {
		t.Errorf(".env does not set COMPOSE_PROFILES=jaeger:\n%s", env)
	}
}
