package main

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// clockTicksPerSecond is the unit of utime and stime in /proc/PID/stat.
// USER_HZ is 100 on every Linux architecture this agent supports.
const clockTicksPerSecond = 100

// cpuTime returns the user plus system CPU time of a process so far, from
// fields 14 and 15 of /proc/PID/stat.
func cpuTime(pid int) (time.Duration, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	return parseStatCPU(data)
}

// parseStatCPU reads utime and stime from the text of /proc/PID/stat. The
// command name in field 2 may hold spaces and parentheses, so the fields
// are counted from the last ')'.
func parseStatCPU(data []byte) (time.Duration, error) {
	end := bytes.LastIndexByte(data, ')')
	if end < 0 {
		return 0, fmt.Errorf("malformed /proc stat line: no ')' in %q", data)
	}
	// After ')' come field 3 (state) onwards: utime is field 14, stime 15.
	fields := strings.Fields(string(data[end+1:]))
	const utimeIndex, stimeIndex = 14 - 3, 15 - 3
	if len(fields) <= stimeIndex {
		return 0, fmt.Errorf("malformed /proc stat line: %d fields after the command name", len(fields))
	}
	utime, err1 := strconv.ParseUint(fields[utimeIndex], 10, 64)
	stime, err2 := strconv.ParseUint(fields[stimeIndex], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("malformed utime %q or stime %q in /proc stat", fields[utimeIndex], fields[stimeIndex])
	}
	return time.Duration(utime+stime) * time.Second / clockTicksPerSecond, nil
}

// peakRSS returns VmHWM, the peak resident set size of a process, in bytes.
func peakRSS(pid int) (int64, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	return parseStatusKiB(data, "VmHWM")
}

// parseStatusKiB returns a "Key:  123 kB" line of /proc/PID/status in bytes.
func parseStatusKiB(data []byte, key string) (int64, error) {
	scanner := bufio.NewScanner(bytes.NewReader(data))
	for scanner.Scan() {
		name, value, ok := strings.Cut(scanner.Text(), ":")
		if !ok || name != key {
			continue
		}
		fields := strings.Fields(value)
		if len(fields) != 2 || fields[1] != "kB" {
			return 0, fmt.Errorf("malformed %s line in /proc status: %q", key, value)
		}
		kib, err := strconv.ParseInt(fields[0], 10, 64)
		if err != nil {
			return 0, fmt.Errorf("malformed %s line in /proc status: %q", key, value)
		}
		return kib << 10, nil
	}
	return 0, fmt.Errorf("no %s line in /proc status", key)
}

// programIDs returns the ids of the BPF programs a process holds open,
// from the prog_id lines of /proc/PID/fdinfo (program and link fds alike).
func programIDs(pid int) ([]uint32, error) {
	dir := fmt.Sprintf("/proc/%d/fdinfo", pid)
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	seen := make(map[uint32]bool)
	var ids []uint32
	for _, entry := range entries {
		data, err := os.ReadFile(filepath.Join(dir, entry.Name()))
		if err != nil {
			continue // the fd was closed meanwhile
		}
		for line := range strings.SplitSeq(string(data), "\n") {
			value, ok := strings.CutPrefix(line, "prog_id:")
			if !ok {
				continue
			}
			id, err := strconv.ParseUint(strings.TrimSpace(value), 10, 32)
			if err == nil && !seen[uint32(id)] {
				seen[uint32(id)] = true
				ids = append(ids, uint32(id))
			}
		}
	}
	return ids, nil
}

// taskFdQueryAttr is the task_fd_query member of union bpf_attr
// (include/uapi/linux/bpf.h).
type taskFdQueryAttr struct {
	Pid         uint32
	Fd          uint32
	Flags       uint32
	BufLen      uint32
	Buf         uint64
	ProgID      uint32
	FdType      uint32
	ProbeOffset uint64
	ProbeAddr   uint64
}

// attachedTracepoints returns the tracepoints that a process has BPF
// programs attached to through perf event fds, as BPF_TASK_FD_QUERY
// reports them (what `bpftool perf show` prints).
func attachedTracepoints(pid int) ([]string, error) {
	dir := fmt.Sprintf("/proc/%d/fd", pid)
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var names []string
	for _, entry := range entries {
		target, err := os.Readlink(filepath.Join(dir, entry.Name()))
		if err != nil || target != "anon_inode:[perf_event]" {
			continue
		}
		fd, err := strconv.ParseUint(entry.Name(), 10, 32)
		if err != nil {
			continue
		}
		buf := make([]byte, 256)
		attr := taskFdQueryAttr{
			Pid:    uint32(pid),
			Fd:     uint32(fd),
			BufLen: uint32(len(buf)),
			Buf:    uint64(uintptr(unsafe.Pointer(&buf[0]))),
		}
		_, _, errno := unix.Syscall(unix.SYS_BPF, unix.BPF_TASK_FD_QUERY,
			uintptr(unsafe.Pointer(&attr)), unsafe.Sizeof(attr))
		runtime.KeepAlive(buf)
		if errno != 0 || attr.FdType != unix.BPF_FD_TYPE_TRACEPOINT || attr.ProgID == 0 {
			continue // a perf event without a program, such as an output buffer
		}
		name, _, _ := bytes.Cut(buf, []byte{0})
		names = append(names, string(name))
	}
	return names, nil
}
