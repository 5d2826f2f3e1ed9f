//go:build linux

package otelbridge

import (
	"bufio"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"golang.org/x/sys/unix"

	"github.com/sendfile-otel/sendfile-otel/bpf"
	"github.com/sendfile-otel/sendfile-otel/semconv"
)

// Protocol numbers of Event.Enrich.Protocol.
const (
	ipprotoTCP = 6
	ipprotoUDP = 17
)

// cacheLimit bounds each cache of KernelEnricher; a full cache is emptied.
const cacheLimit = 4096

// KernelEnricher turns what the kernel read about a call's fds into span
// attributes: the source file, the destination's kind, path or socket ends,
// the caller's executable and its container. Paths and peers go on spans
// only, never on metrics.
type KernelEnricher struct {
	procRoot   string // the /proc mount point, replaced in tests
	noPaths    bool   // no process.executable.path
	cgroupV2   bool   // the default hierarchy is cgroup v2, so cgroup ids name cgroups
	cgroups    *cgroupIndex
	buf        []byte
	paths      map[string]string // interns path strings, so a repeated path allocates once
	exes       map[exeKey]exeInfo
	containers map[containerKey]string
}

type exeKey struct {
	tgid uint32
	dev  uint32
	ino  uint64
}

type exeInfo struct {
	path string
}

type containerKey struct {
	cgroupID uint64
	tgid     uint32 // 0 on cgroup v2 hosts, where the cgroup id alone names the cgroup
}

var _ Enricher = (*KernelEnricher)(nil)

// EnricherOptions configures NewKernelEnricher.
type EnricherOptions struct {
	// NoPaths leaves process.executable.path off the spans, to match
	// bpf.Options.NoPaths, which keeps file and unix socket paths off.
	NoPaths bool
}

// NewKernelEnricher returns an enricher that reads /proc for executable
// paths and container ids.
func NewKernelEnricher(opts EnricherOptions) *KernelEnricher {
	k := newKernelEnricher("/proc", isCgroupV2("/sys/fs/cgroup"), newCgroupIndex(cgroup2Mount("/proc/self/mountinfo")))
	k.noPaths = opts.NoPaths
	return k
}

func newKernelEnricher(procRoot string, cgroupV2 bool, cgroups *cgroupIndex) *KernelEnricher {
	return &KernelEnricher{
		procRoot:   procRoot,
		cgroupV2:   cgroupV2,
		cgroups:    cgroups,
		buf:        make([]byte, 0, 1024),
		paths:      make(map[string]string),
		exes:       make(map[exeKey]exeInfo),
		containers: make(map[containerKey]string),
	}
}

func isCgroupV2(mount string) bool {
	var st unix.Statfs_t
	return unix.Statfs(mount, &st) == nil && st.Type == unix.CGROUP2_SUPER_MAGIC
}

// Enrich appends the attributes of ev's enrichment to dst.
func (k *KernelEnricher) Enrich(dst []attribute.KeyValue, ev *bpf.Event) []attribute.KeyValue {
	if id := k.containerID(ev); id != "" {
		dst = append(dst, semconv.ContainerID(id))
	}
	if !ev.Enriched() {
		return dst
	}
	enr := &ev.Enrich

	if name := ev.ExeNameBytes(); len(name) > 0 {
		dst = append(dst, semconv.ProcessExecutableName(k.intern(name)))
		if !k.noPaths {
			if path := k.executablePath(ev); path != "" {
				dst = append(dst, semconv.ProcessExecutablePath(path))
			}
		}
	}

	if enr.InIno != 0 {
		dst = append(dst,
			semconv.FileInode(strconv.FormatUint(enr.InIno, 10)),
			semconv.SendfileFileDeviceKey.String(deviceString(enr.InDev)),
		)
	}
	var ok bool
	if k.buf, ok = ev.AppendInPath(k.buf[:0]); ok {
		dst = append(dst, semconv.FilePath(k.intern(k.buf)))
		if enr.InPathFlags&bpf.PathTruncated != 0 {
			dst = append(dst, semconv.SendfileFilePathTruncatedKey.Bool(true))
		}
	}
	if enr.InPathFlags&bpf.PathDeleted != 0 {
		dst = append(dst, semconv.SendfileFileDeletedKey.Bool(true))
	}

	switch enr.OutKind {
	case bpf.OutKindSocket:
		dst = append(dst, semconv.SendfileOutKindSocket)
		dst = k.appendSocket(dst, ev)
	case bpf.OutKindPipe:
		dst = append(dst, semconv.SendfileOutKindPipe)
	case bpf.OutKindFile, bpf.OutKindCharDevice:
		if enr.OutKind == bpf.OutKindFile {
			dst = append(dst, semconv.SendfileOutKindFile)
		} else {
			dst = append(dst, semconv.SendfileOutKindCharDevice)
		}
		if k.buf, ok = ev.AppendOutPath(k.buf[:0]); ok {
			dst = append(dst, semconv.SendfileOutPath(k.intern(k.buf)))
			if enr.OutPathFlags&bpf.PathTruncated != 0 {
				dst = append(dst, semconv.SendfileOutPathTruncatedKey.Bool(true))
			}
		}
		if enr.OutPathFlags&bpf.PathDeleted != 0 {
			dst = append(dst, semconv.SendfileOutDeletedKey.Bool(true))
		}
	case bpf.OutKindOther:
		dst = append(dst, semconv.SendfileOutKindOther)
	}
	return dst
}

// appendSocket adds the transport, type, addresses and ports of the
// destination socket. IPv4-mapped IPv6 addresses are shown as IPv4.
func (k *KernelEnricher) appendSocket(dst []attribute.KeyValue, ev *bpf.Event) []attribute.KeyValue {
	enr := &ev.Enrich
	switch enr.Family {
	case unix.AF_UNIX:
		dst = append(dst, semconv.NetworkTransportUnix)
		var ok bool
		if k.buf, ok = ev.AppendOutPath(k.buf[:0]); ok && len(k.buf) > 0 {
			if enr.OutPathFlags&bpf.PathPeer != 0 {
				dst = append(dst, semconv.NetworkPeerAddress(k.intern(k.buf)))
			} else {
				dst = append(dst, semconv.NetworkLocalAddress(k.intern(k.buf)))
			}
		}
		return dst
	case unix.AF_INET, unix.AF_INET6:
	default:
		return dst
	}

	switch enr.Protocol {
	case ipprotoTCP:
		dst = append(dst, semconv.NetworkTransportTCP)
	case ipprotoUDP:
		dst = append(dst, semconv.NetworkTransportUDP)
	}
	var local, peer netip.Addr
	if enr.Family == unix.AF_INET {
		local = netip.AddrFrom4([4]byte(enr.LocalAddr[:4]))
		peer = netip.AddrFrom4([4]byte(enr.PeerAddr[:4]))
	} else {
		local = netip.AddrFrom16(enr.LocalAddr).Unmap()
		peer = netip.AddrFrom16(enr.PeerAddr).Unmap()
	}
	if local.Is4() {
		dst = append(dst, semconv.NetworkTypeIPv4)
	} else {
		dst = append(dst, semconv.NetworkTypeIPv6)
	}
	k.buf = local.AppendTo(k.buf[:0])
	dst = append(dst, semconv.NetworkLocalAddress(k.intern(k.buf)), semconv.NetworkLocalPort(int(enr.LocalPort)))
	k.buf = peer.AppendTo(k.buf[:0])
	dst = append(dst, semconv.NetworkPeerAddress(k.intern(k.buf)), semconv.NetworkPeerPort(int(enr.PeerPort)))
	return dst
}

// intern returns b as a string, reusing an earlier copy of the same bytes.
func (k *KernelEnricher) intern(b []byte) string {
	if s, ok := k.paths[string(b)]; ok {
		return s
	}
	if len(k.paths) >= cacheLimit {
		clear(k.paths)
	}
	s := string(b)
	k.paths[s] = s
	return s
}

// executablePath reads /proc/<tgid>/exe once per executable of a process:
// the key includes the executable's inode, so an exec, or a reused pid,
// reads it anew. It returns "" when the link cannot be read, because the
// process is gone or access is denied, and remembers that, so a process
// whose link is unreadable costs one readlink, not one per event.
func (k *KernelEnricher) executablePath(ev *bpf.Event) string {
	key := exeKey{tgid: ev.Tgid, dev: ev.Enrich.ExeDev, ino: ev.Enrich.ExeIno}
	if info, ok := k.exes[key]; ok {
		return info.path
	}
	path, err := os.Readlink(k.procRoot + "/" + strconv.FormatUint(uint64(ev.Tgid), 10) + "/exe")
	if err != nil {
		path = ""
	} else if filepath.Base(strings.TrimSuffix(path, " (deleted)")) != string(ev.ExeNameBytes()) && len(ev.ExeNameBytes()) < 63 {
		// The process exec'd since the event: its next events carry the
		// new executable's inode, under which the link is read again.
		return ""
	}
	if len(k.exes) >= cacheLimit {
		clear(k.exes)
	}
	k.exes[key] = exeInfo{path: path}
	return path
}

// containerID returns the container id of the event's cgroup, or "".
// The cgroup id names a cgroup v2 directory, whose path names the
// container; one lookup serves every process in it. When the id resolves
// to no directory with a container id (cgroup v1 runtimes on hosts that
// mix v1 and v2), /proc/<pid>/cgroup of the caller is read instead.
func (k *KernelEnricher) containerID(ev *bpf.Event) string {
	key := containerKey{cgroupID: ev.CgroupId}
	if id, ok := k.containers[key]; ok {
		return id
	}
	if !k.cgroupV2 {
		key.tgid = ev.Tgid
		if id, ok := k.containers[key]; ok {
			return id
		}
	}
	path, found := k.cgroups.path(ev.CgroupId)
	id := ContainerIDFromCgroupPath(path)
	switch {
	case id != "":
		key.tgid = 0
	case !k.cgroupV2:
		var err error
		if id, err = containerIDOfProcess(k.procRoot, ev.Tgid); err != nil {
			// The process is gone: try again with its next event.
			return ""
		}
	case !found:
		// A cgroup newer than the last walk of the index: try again later.
		return ""
	}
	if len(k.containers) >= cacheLimit {
		clear(k.containers)
	}
	k.containers[key] = id
	return id
}

// containerIDOfProcess reads /proc/<pid>/cgroup and returns the container
// id that any of its cgroup paths names, or "" when none does.
func containerIDOfProcess(procRoot string, pid uint32) (string, error) {
	f, err := os.Open(fmt.Sprintf("%s/%d/cgroup", procRoot, pid))
	if err != nil {
		return "", err
	}
	defer f.Close()
	scanner := bufio.NewScanner(f)
	for scanner.Scan() {
		// Lines read "hierarchy-id:controllers:path".
		parts := strings.SplitN(scanner.Text(), ":", 3)
		if len(parts) != 3 {
			continue
		}
		if id := ContainerIDFromCgroupPath(parts[2]); id != "" {
			return id, nil
		}
	}
	return "", scanner.Err()
}

// ContainerIDFromCgroupPath returns the 64-hex-digit container id that a
// cgroup path names, as docker, containerd (CRI), CRI-O and podman lay
// them out under cgroup v1 and v2 and under systemd scopes:
//
//	/docker/<id>
//	/system.slice/docker-<id>.scope
//	/kubepods/besteffort/pod<uid>/<id>
//	/kubepods.slice/.../cri-containerd-<id>.scope
//	/machine.slice/libpod-<id>.scope
//
// The component nearest the leaf wins; conmon scopes of podman are skipped.
func ContainerIDFromCgroupPath(path string) string {
	components := strings.Split(path, "/")
	for i := len(components) - 1; i >= 0; i-- {
		c := strings.TrimSuffix(components[i], ".scope")
		if strings.Contains(c, "conmon") {
			continue
		}
		if j := strings.LastIndexAny(c, "-:"); j >= 0 {
			c = c[j+1:]
		}
		if isHex64(c) {
			return c
		}
	}
	return ""
}

func isHex64(s string) bool {
	if len(s) != 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

// deviceString formats a kernel dev_t (major in the top 12 bits, minor in
// the low 20) as "major:minor".
func deviceString(dev uint32) string {
	return strconv.FormatUint(uint64(dev>>20), 10) + ":" + strconv.FormatUint(uint64(dev&0xfffff), 10)
}

// cgroupIndex maps cgroup v2 ids (directory inode numbers) to paths
// relative to the cgroup2 mount, by walking the mount. It walks again on a
// miss, at most once per second.
type cgroupIndex struct {
	mount    string
	paths    map[uint64]string
	lastWalk time.Time
}

func newCgroupIndex(mount string) *cgroupIndex {
	return &cgroupIndex{mount: mount, paths: map[uint64]string{}}
}

// path returns the cgroup path of id, such as "/system.slice/docker-<id>.scope".
func (c *cgroupIndex) path(id uint64) (string, bool) {
	if c == nil || c.mount == "" {
		return "", false
	}
	if p, ok := c.paths[id]; ok {
		return p, true
	}
	if time.Since(c.lastWalk) < time.Second {
		return "", false
	}
	c.lastWalk = time.Now()
	paths := map[uint64]string{}
	filepath.WalkDir(c.mount, func(path string, d os.DirEntry, err error) error {
		if err != nil || !d.IsDir() {
			return nil
		}
		var st unix.Stat_t
		if unix.Stat(path, &st) == nil {
			rel := strings.TrimPrefix(path, c.mount)
			if rel == "" {
				rel = "/"
			}
			paths[st.Ino] = rel
		}
		return nil
	})
	c.paths = paths
	p, ok := paths[id]
	return p, ok
}

// Cgroup2Mount returns where this process sees the cgroup2 file system
// mounted (/sys/fs/cgroup, or /sys/fs/cgroup/unified on hosts that mix v1
// and v2), or "" when it is not mounted.
func Cgroup2Mount() string { return cgroup2Mount("/proc/self/mountinfo") }

// cgroup2Mount returns where the cgroup2 file system is mounted, from a
// mountinfo file, or "" when it is not.
func cgroup2Mount(mountinfo string) string {
	data, err := os.ReadFile(mountinfo)
	if err != nil {
		return ""
	}
	for _, line := range strings.Split(string(data), "\n") {
		// Fields: id parent major:minor root mount-point options... - type source options
		before, after, ok := strings.Cut(line, " - ")
		if !ok || !strings.HasPrefix(after, "cgroup2 ") {
			continue
		}
		if fields := strings.Fields(before); len(fields) >= 5 {
			return fields[4]
		}
	}
	return ""
}
