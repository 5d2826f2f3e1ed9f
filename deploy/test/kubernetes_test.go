package deploytest

import (
	"bytes"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	sigsjson "sigs.k8s.io/json"
	"sigs.k8s.io/kustomize/api/krusty"
	kusttypes "sigs.k8s.io/kustomize/api/types"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	sigsyaml "sigs.k8s.io/yaml"
)

// k8sDir is the kustomization directory, relative to the repository root.
var k8sDir = []string{"deploy", "kubernetes"}

// k8sKinds are the kinds the manifests may contain, with the apiVersion
// each must use and a constructor of its typed value.
var k8sKinds = map[string]struct {
	apiVersion string
	newObject  func() any
}{
	"Namespace":          {"v1", func() any { return &corev1.Namespace{} }},
	"ServiceAccount":     {"v1", func() any { return &corev1.ServiceAccount{} }},
	"Service":            {"v1", func() any { return &corev1.Service{} }},
	"ConfigMap":          {"v1", func() any { return &corev1.ConfigMap{} }},
	"DaemonSet":          {"apps/v1", func() any { return &appsv1.DaemonSet{} }},
	"ClusterRole":        {"rbac.authorization.k8s.io/v1", func() any { return &rbacv1.ClusterRole{} }},
	"ClusterRoleBinding": {"rbac.authorization.k8s.io/v1", func() any { return &rbacv1.ClusterRoleBinding{} }},
}

// k8sObject is one decoded manifest.
type k8sObject struct {
	kind, name string
	obj        any
}

// decodeK8sDocs decodes a multi-document YAML stream strictly: each
// document into the k8s.io/api type of its kind, with unknown fields (a
// typo, a field of another API version) as errors.
func decodeK8sDocs(source string, data []byte) ([]k8sObject, error) {
	var objs []k8sObject
	var errs []string
	for i, doc := range regexp.MustCompile(`(?m)^---\s*$`).Split(string(data), -1) {
		if strings.TrimSpace(stripYAMLComments(doc)) == "" {
			continue
		}
		var head struct {
			APIVersion string `json:"apiVersion"`
			Kind       string `json:"kind"`
			Metadata   struct {
				Name string `json:"name"`
			} `json:"metadata"`
		}
		if err := sigsyaml.Unmarshal([]byte(doc), &head); err != nil {
			errs = append(errs, fmt.Sprintf("%s: document %d: %v", source, i+1, err))
			continue
		}
		kind, ok := k8sKinds[head.Kind]
		if !ok {
			errs = append(errs, fmt.Sprintf("%s: document %d: kind %q is not one the tests know (%v); add it to k8sKinds", source, i+1, head.Kind, sortedKeys(k8sKinds)))
			continue
		}
		if head.APIVersion != kind.apiVersion {
			errs = append(errs, fmt.Sprintf("%s: %s %s: apiVersion %q, want %q", source, head.Kind, head.Metadata.Name, head.APIVersion, kind.apiVersion))
			continue
		}
		obj := kind.newObject()
		if err := unmarshalK8sStrict([]byte(doc), obj); err != nil {
			errs = append(errs, fmt.Sprintf("%s: %s %s: %v", source, head.Kind, head.Metadata.Name, err))
			continue
		}
		objs = append(objs, k8sObject{head.Kind, head.Metadata.Name, obj})
	}
	if len(errs) > 0 {
		return objs, fmt.Errorf("%s", strings.Join(errs, "\n"))
	}
	return objs, nil
}

// unmarshalK8sStrict decodes one YAML document the way the API server reads
// JSON: field names are case-sensitive (encoding/json would take hostPid for
// hostPID), and unknown and duplicate fields are errors.
func unmarshalK8sStrict(doc []byte, into any) error {
	j, err := sigsyaml.YAMLToJSONStrict(doc)
	if err != nil {
		return err
	}
	strictErrs, err := sigsjson.UnmarshalStrict(j, into, sigsjson.DisallowDuplicateFields, sigsjson.DisallowUnknownFields)
	if err != nil {
		return err
	}
	if len(strictErrs) > 0 {
		msgs := make([]string, len(strictErrs))
		for i, e := range strictErrs {
			msgs[i] = e.Error()
		}
		return fmt.Errorf("%s", strings.Join(msgs, "; "))
	}
	return nil
}

func stripYAMLComments(doc string) string {
	var b strings.Builder
	for _, line := range strings.Split(doc, "\n") {
		if !strings.HasPrefix(strings.TrimSpace(line), "#") {
			b.WriteString(line)
			b.WriteByte('\n')
		}
	}
	return b.String()
}

// loadKustomization decodes deploy/kubernetes/kustomization.yaml strictly
// into kustomize's Kustomization type.
func loadKustomization(t *testing.T) kusttypes.Kustomization {
	t.Helper()
	var k kusttypes.Kustomization
	if err := unmarshalK8sStrict(readRepoFile(t, append(k8sDir, "kustomization.yaml")...), &k); err != nil {
		t.Fatalf("deploy/kubernetes/kustomization.yaml: %v", err)
	}
	return k
}

// renderedK8s is the output of `kubectl kustomize deploy/kubernetes`,
// decoded strictly.
type renderedK8s struct {
	daemonSets          map[string]*appsv1.DaemonSet
	services            map[string]*corev1.Service
	serviceAccounts     map[string]*corev1.ServiceAccount
	configMaps          map[string]*corev1.ConfigMap
	clusterRoles        map[string]*rbacv1.ClusterRole
	clusterRoleBindings map[string]*rbacv1.ClusterRoleBinding
	namespaces          map[string]*corev1.Namespace
}

// renderK8s renders the kustomization with kustomize's library (what
// `kubectl apply -k` runs) and decodes every object strictly.
func renderK8s(t *testing.T) renderedK8s {
	t.Helper()
	dir := repoPath(t, k8sDir...)
	resMap, err := krusty.MakeKustomizer(krusty.MakeDefaultOptions()).Run(filesys.MakeFsOnDisk(), dir)
	if err != nil {
		t.Fatalf("kustomize cannot render deploy/kubernetes: %v", err)
	}
	out, err := resMap.AsYaml()
	if err != nil {
		t.Fatalf("kustomize output: %v", err)
	}
	objs, err := decodeK8sDocs("kustomize output of deploy/kubernetes", out)
	if err != nil {
		t.Fatal(err)
	}
	r := renderedK8s{
		daemonSets:          map[string]*appsv1.DaemonSet{},
		services:            map[string]*corev1.Service{},
		serviceAccounts:     map[string]*corev1.ServiceAccount{},
		configMaps:          map[string]*corev1.ConfigMap{},
		clusterRoles:        map[string]*rbacv1.ClusterRole{},
		clusterRoleBindings: map[string]*rbacv1.ClusterRoleBinding{},
		namespaces:          map[string]*corev1.Namespace{},
	}
	for _, o := range objs {
		switch v := o.obj.(type) {
		case *appsv1.DaemonSet:
			r.daemonSets[o.name] = v
		case *corev1.Service:
			r.services[o.name] = v
		case *corev1.ServiceAccount:
			r.serviceAccounts[o.name] = v
		case *corev1.ConfigMap:
			r.configMaps[o.name] = v
		case *rbacv1.ClusterRole:
			r.clusterRoles[o.name] = v
		case *rbacv1.ClusterRoleBinding:
			r.clusterRoleBindings[o.name] = v
		case *corev1.Namespace:
			r.namespaces[o.name] = v
		}
	}
	return r
}

// TestKubernetesManifestsStrict decodes every manifest file of the
// kustomization strictly into k8s.io/api types, and makes sure every YAML
// file of the directory is part of it.
func TestKubernetesManifestsStrict(t *testing.T) {
	k := loadKustomization(t)
	listed := map[string]bool{"kustomization.yaml": true}
	for _, r := range k.Resources {
		listed[r] = true
	}
	for _, g := range k.ConfigMapGenerator {
		for _, f := range g.FileSources {
			listed[f] = true
		}
	}
	entries, err := os.ReadDir(repoPath(t, k8sDir...))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if (strings.HasSuffix(e.Name(), ".yaml") || strings.HasSuffix(e.Name(), ".yml")) && !listed[e.Name()] {
			t.Errorf("deploy/kubernetes/%s is neither a resource nor a configMapGenerator file of kustomization.yaml, so `kubectl apply -k` skips it", e.Name())
		}
	}
	for _, r := range k.Resources {
		source := filepath.Join(append(k8sDir, r)...)
		if _, err := decodeK8sDocs(source, readRepoFile(t, source)); err != nil {
			t.Error(err)
		}
	}
}

// TestKubernetesRenders renders the kustomization and checks what every
// object needs.
func TestKubernetesRenders(t *testing.T) {
	r := renderK8s(t)
	if len(r.namespaces) != 1 {
		t.Errorf("want one Namespace, got %v", sortedKeys(r.namespaces))
	}
	for name, ds := range r.daemonSets {
		if ds.Namespace == "" {
			t.Errorf("DaemonSet %s: no namespace", name)
		}
		if _, ok := r.namespaces[ds.Namespace]; !ok {
			t.Errorf("DaemonSet %s: namespace %q is not created by the kustomization", name, ds.Namespace)
		}
		spec := ds.Spec.Template.Spec
		if !slices.ContainsFunc(spec.Tolerations, func(tol corev1.Toleration) bool {
			return tol.Operator == corev1.TolerationOpExists && tol.Key == "" && tol.Effect == ""
		}) {
			t.Errorf("DaemonSet %s: no toleration {operator: Exists}; it must run on every node, tainted or not", name)
		}
		if sa := spec.ServiceAccountName; sa != "" {
			if _, ok := r.serviceAccounts[sa]; !ok {
				t.Errorf("DaemonSet %s: service account %q is not in the kustomization", name, sa)
			}
		}
		for _, c := range spec.Containers {
			res := c.Resources
			for _, want := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
				if _, ok := res.Requests[want]; !ok {
					t.Errorf("DaemonSet %s, container %s: no %s request", name, c.Name, want)
				}
			}
			if _, ok := res.Limits[corev1.ResourceMemory]; !ok {
				t.Errorf("DaemonSet %s, container %s: no memory limit", name, c.Name)
			}
			if c.SecurityContext != nil && c.SecurityContext.Privileged != nil && *c.SecurityContext.Privileged {
				t.Errorf("DaemonSet %s, container %s: privileged; grant capabilities instead", name, c.Name)
			}
			if _, tag, _ := splitImage(c.Image); !versionTag.MatchString(tag) {
				t.Errorf("DaemonSet %s, container %s: image %q is not pinned to a full version", name, c.Name, c.Image)
			}
		}
	}
}

// agentDaemonSet returns the rendered agent DaemonSet and its container.
func agentDaemonSet(t *testing.T, r renderedK8s) (*appsv1.DaemonSet, corev1.Container) {
	t.Helper()
	ds, ok := r.daemonSets["sendfile-otel"]
	if !ok {
		t.Fatalf("no DaemonSet sendfile-otel (have %v)", sortedKeys(r.daemonSets))
	}
	if len(ds.Spec.Template.Spec.Containers) != 1 {
		t.Fatalf("DaemonSet sendfile-otel: want one container, got %d", len(ds.Spec.Template.Spec.Containers))
	}
	return ds, ds.Spec.Template.Spec.Containers[0]
}

// envValue returns a container's env var: its value, or "fieldRef:PATH"
// for a downward API reference.
func envValue(c corev1.Container, name string) (string, bool) {
	for _, e := range c.Env {
		if e.Name != name {
			continue
		}
		if e.ValueFrom != nil && e.ValueFrom.FieldRef != nil {
			return "fieldRef:" + e.ValueFrom.FieldRef.FieldPath, true
		}
		return e.Value, true
	}
	return "", false
}

// TestKubernetesAgent checks the agent DaemonSet: host PID namespace, the
// capability set shared with the Dockerfile and compose, the mounts, and
// an OTLP endpoint that reaches the collector on the same node.
func TestKubernetesAgent(t *testing.T) {
	r := renderK8s(t)
	ds, c := agentDaemonSet(t, r)
	spec := ds.Spec.Template.Spec
	if !spec.HostPID {
		t.Errorf("agent: hostPID is false; the agent traces host pids and reads their /proc")
	}
	if spec.HostNetwork {
		t.Errorf("agent: hostNetwork is true; the agent needs no host network")
	}
	checkMemoryLimitAboveGoLimit(t, c)

	sc := c.SecurityContext
	if sc == nil || sc.Capabilities == nil {
		t.Fatalf("agent container: no securityContext.capabilities")
	}
	var add, drop []string
	for _, c := range sc.Capabilities.Add {
		add = append(add, string(c))
	}
	for _, c := range sc.Capabilities.Drop {
		drop = append(drop, string(c))
	}
	if !sameCaps(add, agentCapabilities) {
		t.Errorf("agent container: capabilities.add %v, want %v (the set of the Dockerfile label and docker-compose.yaml)", normalizeCaps(add), normalizeCaps(agentCapabilities))
	}
	if !slices.Equal(normalizeCaps(drop), []string{"ALL"}) {
		t.Errorf("agent container: capabilities.drop %v, want [ALL]", drop)
	}
	if sc.SeccompProfile == nil || sc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
		t.Errorf("agent container: seccompProfile must be RuntimeDefault (it allows bpf with CAP_BPF; see deploy/README.md)")
	}
	if sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem {
		t.Errorf("agent container: readOnlyRootFilesystem must be true")
	}

	// Mounts: host path, mount path, read-only.
	hostPaths := map[string]string{} // volume name -> host path
	for _, v := range spec.Volumes {
		if v.HostPath != nil {
			hostPaths[v.Name] = v.HostPath.Path
		}
	}
	mounted := map[string]corev1.VolumeMount{} // host path -> mount
	for _, m := range c.VolumeMounts {
		if hp, ok := hostPaths[m.Name]; ok {
			mounted[hp] = m
		}
	}
	for hostPath, mountPath := range map[string]string{
		"/sys/kernel/tracing": "/sys/kernel/tracing",
		"/sys/fs/cgroup":      "/sys/fs/cgroup",
		"/etc/passwd":         "/host/etc/passwd",
	} {
		m, ok := mounted[hostPath]
		switch {
		case !ok:
			t.Errorf("agent: host path %s is not mounted (want it at %s, read-only)", hostPath, mountPath)
		case m.MountPath != mountPath:
			t.Errorf("agent: host path %s is mounted at %s, want %s", hostPath, m.MountPath, mountPath)
		case !m.ReadOnly:
			t.Errorf("agent: host path %s is mounted read-write; mount it read-only", hostPath)
		}
	}
	for _, hp := range hostPaths {
		if !hostBindSources[hp] {
			t.Errorf("agent: hostPath volume %s is not one the agent needs (%v)", hp, sortedKeys(hostBindSources))
		}
	}
	if v, _ := envValue(c, "SENDFILE_OTEL_PASSWD_FILE"); v != mounted["/etc/passwd"].MountPath {
		t.Errorf("agent: SENDFILE_OTEL_PASSWD_FILE=%q, but the host's /etc/passwd is mounted at %q", v, mounted["/etc/passwd"].MountPath)
	}
	if v, _ := envValue(c, "OTEL_SERVICE_NAME"); v != "sendfile-otel" {
		t.Errorf("agent: OTEL_SERVICE_NAME=%q, want sendfile-otel", v)
	}

	// The OTLP endpoint: a node-local Service in front of the collector
	// DaemonSet, on a port that reaches the collector's otlp receiver.
	raw, _ := envValue(c, "OTEL_EXPORTER_OTLP_ENDPOINT")
	u, err := url.Parse(raw)
	if err != nil || u.Hostname() == "" || u.Port() == "" {
		t.Fatalf("agent: OTEL_EXPORTER_OTLP_ENDPOINT=%q is not a URL with host and port", raw)
	}
	svcName := strings.Split(u.Hostname(), ".")[0]
	svc, ok := r.services[svcName]
	if !ok {
		t.Fatalf("agent: OTEL_EXPORTER_OTLP_ENDPOINT host %s names no Service of the kustomization (have %v)", u.Hostname(), sortedKeys(r.services))
	}
	if parts := strings.Split(u.Hostname(), "."); len(parts) > 1 && parts[1] != svc.Namespace {
		t.Errorf("agent: OTEL_EXPORTER_OTLP_ENDPOINT host %s points at namespace %s, but the Service is in %s", u.Hostname(), parts[1], svc.Namespace)
	}
	if svc.Spec.InternalTrafficPolicy == nil || *svc.Spec.InternalTrafficPolicy != corev1.ServiceInternalTrafficPolicyLocal {
		t.Errorf("Service %s: internalTrafficPolicy must be Local, so each agent reaches the collector of its own node", svcName)
	}
	collectorDS, collector := collectorFor(t, r, svc)
	var port *corev1.ServicePort
	for i := range svc.Spec.Ports {
		if fmt.Sprint(svc.Spec.Ports[i].Port) == u.Port() {
			port = &svc.Spec.Ports[i]
		}
	}
	if port == nil {
		t.Fatalf("Service %s has no port %s (the agent's endpoint)", svcName, u.Port())
	}
	containerPort := ""
	for _, p := range collector.Ports {
		if (port.TargetPort.StrVal != "" && p.Name == port.TargetPort.StrVal) || (port.TargetPort.IntVal != 0 && p.ContainerPort == port.TargetPort.IntVal) {
			containerPort = fmt.Sprint(p.ContainerPort)
		}
	}
	if containerPort == "" {
		t.Fatalf("Service %s port %s: target port %s is not a port of DaemonSet %s", svcName, u.Port(), port.TargetPort.String(), collectorDS.Name)
	}
	col := loadRenderedCollectorConfig(t, r, collectorDS, collector)
	if got := portOf(t, col.otlpGRPCEndpoint(t)); got != containerPort {
		t.Errorf("the agent reaches container port %s of %s, but its otlp receiver listens for gRPC on %s", containerPort, collectorDS.Name, got)
	}
	if !slices.ContainsFunc(collectorDS.Spec.Template.Spec.Tolerations, func(tol corev1.Toleration) bool { return tol.Operator == corev1.TolerationOpExists && tol.Key == "" }) {
		t.Errorf("DaemonSet %s must tolerate every taint like the agent, or some agents have no local collector", collectorDS.Name)
	}
}

// collectorFor returns the DaemonSet, and its container, that a Service
// selects.
func collectorFor(t *testing.T, r renderedK8s, svc *corev1.Service) (*appsv1.DaemonSet, corev1.Container) {
	t.Helper()
	for _, ds := range r.daemonSets {
		labels := ds.Spec.Template.Labels
		match := len(svc.Spec.Selector) > 0
		for k, v := range svc.Spec.Selector {
			if labels[k] != v {
				match = false
			}
		}
		if match {
			if len(ds.Spec.Template.Spec.Containers) != 1 {
				t.Fatalf("DaemonSet %s: want one container", ds.Name)
			}
			return ds, ds.Spec.Template.Spec.Containers[0]
		}
	}
	t.Fatalf("Service %s selects %v, which matches no DaemonSet's pods", svc.Name, svc.Spec.Selector)
	return nil, corev1.Container{}
}

// loadRenderedCollectorConfig finds the collector's configuration as the
// pod sees it (the --config argument, the mount it lies under, the
// ConfigMap key behind it), writes it to a file and loads it with the
// collector's packages, with the env vars the container sets.
func loadRenderedCollectorConfig(t *testing.T, r renderedK8s, ds *appsv1.DaemonSet, c corev1.Container) loadedCollector {
	t.Helper()
	configArg := ""
	for _, a := range append(slices.Clone(c.Command), c.Args...) {
		if v, ok := strings.CutPrefix(a, "--config="); ok {
			configArg = v
		}
	}
	if configArg == "" {
		t.Fatalf("DaemonSet %s: the collector has no --config= argument", ds.Name)
	}
	var data, source string
	for _, m := range c.VolumeMounts {
		key, ok := strings.CutPrefix(configArg, strings.TrimSuffix(m.MountPath, "/")+"/")
		if !ok {
			continue
		}
		for _, v := range ds.Spec.Template.Spec.Volumes {
			if v.Name != m.Name || v.ConfigMap == nil {
				continue
			}
			cm, ok := r.configMaps[v.ConfigMap.Name]
			if !ok {
				t.Fatalf("DaemonSet %s: volume %s refers to ConfigMap %s, which the kustomization does not create (have %v)", ds.Name, v.Name, v.ConfigMap.Name, sortedKeys(r.configMaps))
			}
			if data, ok = cm.Data[key]; !ok {
				t.Fatalf("DaemonSet %s: --config=%s, but ConfigMap %s has no key %s", ds.Name, configArg, cm.Name, key)
			}
			source = fmt.Sprintf("deploy/kubernetes/%s (ConfigMap %s)", key, cm.Name)
		}
	}
	if data == "" {
		t.Fatalf("DaemonSet %s: --config=%s is not a file of a mounted ConfigMap", ds.Name, configArg)
	}

	// The collector runs with the container's environment: plain values as
	// they are, downward API fields with a placeholder. Every ${env:NAME}
	// the configuration uses must be among them.
	env := map[string]string{}
	for _, e := range c.Env {
		v, _ := envValue(c, e.Name)
		if e.ValueFrom != nil {
			v = "placeholder-" + strings.ToLower(e.Name)
		}
		env[e.Name] = v
	}
	for _, m := range regexp.MustCompile(`\$\{env:([A-Za-z_][A-Za-z0-9_]*)`).FindAllStringSubmatch(data, -1) {
		if _, ok := env[m[1]]; !ok {
			t.Errorf("DaemonSet %s: the collector configuration uses ${env:%s}, which the container does not set", ds.Name, m[1])
		}
	}
	path := filepath.Join(t.TempDir(), "collector.yaml")
	if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
	return loadCollectorConfigNamed(t, path, source, env)
}

// TestKubernetesCollector checks the node-local collector: its
// configuration (with k8s_attributes) loads and validates, k8s_attributes
// filters on an env var set from spec.nodeName, and its service account
// may read pods, namespaces and replicasets.
func TestKubernetesCollector(t *testing.T) {
	r := renderK8s(t)
	svc, ok := r.services["sendfile-otel-collector"]
	if !ok {
		t.Fatalf("no Service sendfile-otel-collector (have %v)", sortedKeys(r.services))
	}
	ds, c := collectorFor(t, r, svc)
	col := loadRenderedCollectorConfig(t, r, ds, c)

	var k8sAttrs map[string]any
	for _, key := range col.conf.AllKeys() {
		if strings.HasPrefix(key, "processors::k8s_attributes") {
			sub, err := col.conf.Sub("processors::" + strings.Split(key, "::")[1])
			if err == nil {
				k8sAttrs = sub.ToStringMap()
			}
		}
	}
	if k8sAttrs == nil {
		t.Fatalf("the Kubernetes collector configuration has no k8s_attributes processor")
	}
	nodeVar, _ := k8sAttrs["filter"].(map[string]any)["node_from_env_var"].(string)
	if v, ok := envValue(c, nodeVar); nodeVar == "" || !ok || v != "fieldRef:spec.nodeName" {
		t.Errorf("k8s_attributes filter.node_from_env_var=%q must name an env var set from spec.nodeName (got %q), or every collector watches every pod of the cluster", nodeVar, v)
	}

	// RBAC: the collector's service account is bound to a ClusterRole that
	// reads pods, namespaces and replicasets.
	sa := ds.Spec.Template.Spec.ServiceAccountName
	need := map[string]bool{"/pods": false, "/namespaces": false, "apps/replicasets": false}
	for _, crb := range r.clusterRoleBindings {
		bound := slices.ContainsFunc(crb.Subjects, func(s rbacv1.Subject) bool {
			return s.Kind == "ServiceAccount" && s.Name == sa && s.Namespace == ds.Namespace
		})
		if !bound || crb.RoleRef.Kind != "ClusterRole" {
			continue
		}
		role, ok := r.clusterRoles[crb.RoleRef.Name]
		if !ok {
			t.Errorf("ClusterRoleBinding %s refers to ClusterRole %s, which the kustomization does not create", crb.Name, crb.RoleRef.Name)
			continue
		}
		for _, rule := range role.Rules {
			verbs := strings.Join(rule.Verbs, ",")
			if !(strings.Contains(verbs, "get") && strings.Contains(verbs, "list") && strings.Contains(verbs, "watch")) {
				continue
			}
			for _, g := range rule.APIGroups {
				for _, res := range rule.Resources {
					if _, ok := need[g+"/"+res]; ok {
						need[g+"/"+res] = true
					}
				}
			}
		}
	}
	for res, ok := range need {
		if !ok {
			t.Errorf("service account %s/%s may not get, list and watch %s (k8s_attributes needs it)", ds.Namespace, sa, res)
		}
	}
}

// TestKubernetesCommandDocumented: deploy/README.md tells how to apply the
// kustomization.
func TestKubernetesCommandDocumented(t *testing.T) {
	if !bytes.Contains(readRepoFile(t, "deploy", "README.md"), []byte("kubectl apply -k deploy/kubernetes")) {
		t.Errorf("deploy/README.md does not show `kubectl apply -k deploy/kubernetes`")
	}
}

// checkMemoryLimitAboveGoLimit checks that GOMEMLIMIT, a soft cap on the Go
// heap, leaves room under the container's memory limit for memory the Go
// runtime does not manage, such as the mapped BPF ring buffer.
func checkMemoryLimitAboveGoLimit(t *testing.T, c corev1.Container) {
	t.Helper()
	limit, ok := c.Resources.Limits[corev1.ResourceMemory]
	if !ok {
		t.Errorf("container %s: no memory limit", c.Name)
		return
	}
	var goLimit string
	for _, e := range c.Env {
		if e.Name == "GOMEMLIMIT" {
			goLimit = e.Value
		}
	}
	if goLimit == "" {
		t.Errorf("container %s: no literal GOMEMLIMIT; set one below the memory limit %s", c.Name, limit.String())
		return
	}
	// Go writes binary units as MiB and GiB, Kubernetes as Mi and Gi.
	goBytes, err := resource.ParseQuantity(strings.TrimSuffix(goLimit, "B"))
	if err != nil {
		t.Errorf("container %s: GOMEMLIMIT %q is not a size in MiB or GiB: %v", c.Name, goLimit, err)
		return
	}
	if room := limit.Value() - goBytes.Value(); room < 32<<20 {
		t.Errorf("container %s: GOMEMLIMIT %s leaves %d MiB under the memory limit %s, want at least 32 MiB for the ring buffer and stacks", c.Name, goLimit, room>>20, limit.String())
	}
}
