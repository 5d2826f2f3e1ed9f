//go:build linux

package otelbridge

import (
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/sendfile-otel/sendfile-otel/bpf"
)

func TestContainerIDFromCgroupPath(t *testing.T) {
	const id = "3f2a9c0b5e7d41f8a6b2c9d0e1f2a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4"
	cases := []struct {
		path string
		want string
	}{
		{"/docker/" + id, id},
		{"/system.slice/docker-" + id + ".scope", id},
		{"/kubepods/besteffort/pod0d1e2f3a-1111-2222-3333-444455556666/" + id, id},
		{"/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod1.slice/cri-containerd-" + id + ".scope", id},
		{"/kubepods.slice/kubepods-pod1.slice/crio-" + id + ".scope", id},
		{"/machine.slice/libpod-" + id + ".scope", id},
		{"/machine.slice/libpod-conmon-" + id + ".scope", ""},
		{"/system.slice/nginx.service", ""},
		{"/", ""},
		{"/docker/" + id[:63], ""},
		{"/docker/" + id[:63] + "G", ""},
	}
	for _, tc := range cases {
		if got := ContainerIDFromCgroupPath(tc.path); got != tc.want {
			t.Errorf("ContainerIDFromCgroupPath(%q) = %q, want %q", tc.path, got, tc.want)
		}
	}
}

func TestDeviceString(t *testing.T) {
	// The kernel's dev_t keeps the major number above the low 20 bits.
	if got := deviceString(259<<20 | 3); got != "259:3" {
		t.Errorf("deviceString = %s, want 259:3", got)
	}
}

func TestCgroup2MountFromMountinfo(t *testing.T) {
	mountinfo := filepath.Join(t.TempDir(), "mountinfo")
	content := "25 1 0:22 / /sys rw,nosuid shared:7 - sysfs sysfs rw\n" +
		"31 25 0:26 / /sys/fs/cgroup/unified rw,nosuid shared:10 - cgroup2 cgroup2 rw,nsdelegate\n"
	if err := os.WriteFile(mountinfo, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	if got := cgroup2Mount(mountinfo); got != "/sys/fs/cgroup/unified" {
		t.Errorf("cgroup2Mount = %q, want /sys/fs/cgroup/unified", got)
	}
}

// pathBuffer lays out components leaf first, NUL after each, as the kernel does.
func pathBuffer(components ...string) ([768]int8, uint16) {
	var buf [768]int8
	n := 0
	for i := len(components) - 1; i >= 0; i-- {
		for _, c := range []byte(components[i]) {
			buf[n] = int8(c)
			n++
		}
		buf[n] = 0
		n++
	}
	return buf, uint16(n)
}

func TestEnricherFileAndSocketAttributes(t *testing.T) {
	var ev bpf.Event
	ev.Enrich.Enriched = 1
	ev.Enrich.InIno = 1234
	ev.Enrich.InDev = 8<<20 | 1
	ev.Enrich.InPath, ev.Enrich.InPathLen = pathBuffer("srv", "www", "index.html")
	ev.Enrich.InPathFlags = bpf.PathPresent
	ev.Enrich.OutKind = bpf.OutKindSocket
	ev.Enrich.Family = 10 // AF_INET6
	ev.Enrich.Protocol = 6
	ev.Enrich.LocalPort = 443
	ev.Enrich.PeerPort = 51234
	// ::ffff:203.0.113.5, an IPv4-mapped address, is shown as IPv4.
	copy(ev.Enrich.PeerAddr[:], []byte{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 203, 0, 113, 5})
	copy(ev.Enrich.LocalAddr[:], []byte{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 192, 0, 2, 1})

	k := newKernelEnricher(t.TempDir(), true, nil)
	attrs := map[string]string{}
	for _, kv := range k.Enrich(nil, &ev) {
		attrs[string(kv.Key)] = kv.Value.Emit()
	}
	want := map[string]string{
		"file.path":             "/srv/www/index.html",
		"file.inode":            "1234",
		"sendfile.file.device":  "8:1",
		"sendfile.out.kind":     "socket",
		"network.transport":     "tcp",
		"network.type":          "ipv4",
		"network.peer.address":  "203.0.113.5",
		"network.peer.port":     "51234",
		"network.local.address": "192.0.2.1",
		"network.local.port":    "443",
	}
	for key, value := range want {
		if attrs[key] != value {
			t.Errorf("%s = %q, want %q", key, attrs[key], value)
		}
	}
	if _, ok := attrs["sendfile.file.path_truncated"]; ok {
		t.Error("a complete path is marked truncated")
	}
}

func TestEnricherTruncatedPathIsSuffix(t *testing.T) {
	var ev bpf.Event
	ev.Enrich.Enriched = 1
	ev.Enrich.InPath, ev.Enrich.InPathLen = pathBuffer("deep", "er", "file.bin")
	ev.Enrich.InPathFlags = bpf.PathPresent | bpf.PathTruncated | bpf.PathDeleted

	k := newKernelEnricher(t.TempDir(), true, nil)
	attrs := map[string]string{}
	for _, kv := range k.Enrich(nil, &ev) {
		attrs[string(kv.Key)] = kv.Value.Emit()
	}
	if attrs["file.path"] != "deep/er/file.bin" {
		t.Errorf("file.path = %q, want deep/er/file.bin without a leading slash", attrs["file.path"])
	}
	if attrs["sendfile.file.path_truncated"] != "true" {
		t.Errorf("sendfile.file.path_truncated = %q, want true", attrs["sendfile.file.path_truncated"])
	}
	if attrs["sendfile.file.deleted"] != "true" {
		t.Errorf("sendfile.file.deleted = %q, want true", attrs["sendfile.file.deleted"])
	}
}

func TestEnricherUnenrichedEventAddsNothing(t *testing.T) {
	var ev bpf.Event
	k := newKernelEnricher(t.TempDir(), true, nil)
	if got := k.Enrich(nil, &ev); len(got) != 0 {
		t.Errorf("attributes %v for an event without enrichment", got)
	}
}

// exeEvent returns an enriched event of pid whose executable is name.
func exeEvent(pid uint32, name string, ino uint64) bpf.Event {
	var ev bpf.Event
	ev.Tgid = pid
	ev.Enrich.Enriched = 1
	ev.Enrich.ExeIno = ino
	for i, c := range []byte(name) {
		ev.Enrich.ExeName[i] = int8(c)
	}
	return ev
}

func TestExecutablePathCache(t *testing.T) {
	proc := t.TempDir()
	link := func(pid int, target string) {
		t.Helper()
		dir := filepath.Join(proc, strconv.Itoa(pid))
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		os.Remove(filepath.Join(dir, "exe"))
		if err := os.Symlink(target, filepath.Join(dir, "exe")); err != nil {
			t.Fatal(err)
		}
	}
	k := newKernelEnricher(proc, true, nil)

	// A live process: read once, then served from the cache.
	link(10, "/usr/sbin/nginx")
	ev := exeEvent(10, "nginx", 1)
	if got := k.executablePath(&ev); got != "/usr/sbin/nginx" {
		t.Fatalf("live process: %q, want /usr/sbin/nginx", got)
	}
	link(10, "/elsewhere/nginx")
	if got := k.executablePath(&ev); got != "/usr/sbin/nginx" {
		t.Errorf("second event of the same executable: %q, want the cached /usr/sbin/nginx", got)
	}

	// An unreadable link: "" and remembered, so no readlink per event.
	exited := exeEvent(20, "cat", 2)
	if got := k.executablePath(&exited); got != "" {
		t.Errorf("process without /proc entry: %q, want empty", got)
	}
	link(20, "/usr/bin/cat")
	if got := k.executablePath(&exited); got != "" {
		t.Errorf("process whose link failed once: %q, want the cached empty path", got)
	}

	// A process that exec'd since the event: not cached, read again later.
	link(30, "/usr/bin/python3")
	execd := exeEvent(30, "sh", 3)
	if got := k.executablePath(&execd); got != "" {
		t.Errorf("process that exec'd python3 after an event of sh: %q, want empty", got)
	}
	link(30, "/bin/sh")
	if got := k.executablePath(&execd); got != "/bin/sh" {
		t.Errorf("same event once the link names sh: %q, want /bin/sh", got)
	}
}

func TestEnricherNoPathsOmitsExecutablePath(t *testing.T) {
	proc := t.TempDir()
	if err := os.MkdirAll(filepath.Join(proc, "10"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("/usr/sbin/nginx", filepath.Join(proc, "10", "exe")); err != nil {
		t.Fatal(err)
	}
	ev := exeEvent(10, "nginx", 1)
	for _, noPaths := range []bool{false, true} {
		k := newKernelEnricher(proc, true, nil)
		k.noPaths = noPaths
		attrs := map[string]string{}
		for _, kv := range k.Enrich(nil, &ev) {
			attrs[string(kv.Key)] = kv.Value.Emit()
		}
		if attrs["process.executable.name"] != "nginx" {
			t.Errorf("noPaths %v: process.executable.name %q, want nginx", noPaths, attrs["process.executable.name"])
		}
		path, ok := attrs["process.executable.path"]
		if noPaths && ok {
			t.Errorf("noPaths: process.executable.path %q is set, want it absent", path)
		}
		if !noPaths && path != "/usr/sbin/nginx" {
			t.Errorf("paths on: process.executable.path %q, want /usr/sbin/nginx", path)
		}
	}
}
