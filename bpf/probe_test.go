//go:build linux

package bpf

import (
	"errors"
	"fmt"
	"net"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unsafe"

	"github.com/cilium/ebpf"
	"golang.org/x/sys/unix"
)

// rawSendfile calls sendfile with exactly these register values.
func rawSendfile(outFd, inFd int, offsetPtr uintptr, count uint64) (int64, unix.Errno) {
	r, _, errno := unix.Syscall6(unix.SYS_SENDFILE, uintptr(outFd), uintptr(inFd), offsetPtr, uintptr(count), 0, 0)
	if errno != 0 {
		return -int64(errno), errno
	}
	return int64(r), 0
}

func openDevNull(t testing.TB) *os.File {
	t.Helper()
	f, err := os.OpenFile("/dev/null", os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

func openRead(t testing.TB, path string) *os.File {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

func bootNow() uint64 {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_BOOTTIME, &ts); err != nil {
		panic(err)
	}
	return uint64(ts.Nano())
}

func nativeABI() uint8 {
	if runtime.GOARCH == "arm64" {
		return ABIARM64
	}
	return ABIX8664
}

func nativeNr() uint16 {
	if runtime.GOARCH == "arm64" {
		return NrARM64Sendfile64
	}
	return NrX8664Sendfile
}

func ownFilter() Options {
	return Options{Filter: Filter{TGIDs: []uint32{uint32(os.Getpid())}}}
}

// onlyOne waits for exactly one event matching and returns it.
func onlyOne(t *testing.T, c *collector, p *Probe, match func(*Event) bool) Event {
	t.Helper()
	c.stopAndDrain(t, p)
	got := c.matching(match)
	if len(got) != 1 {
		t.Fatalf("got %d matching events, want 1: %+v", len(got), got)
	}
	return got[0]
}

func TestNativeCallWithOffset(t *testing.T) {
	p := openProbe(t, ownFilter())
	c := collect(p)
	dir := t.TempDir()
	in := openRead(t, writeFile(t, dir, "in", 4096))
	out := openDevNull(t)

	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	tid := unix.Gettid()
	comm, err := os.ReadFile(fmt.Sprintf("/proc/self/task/%d/comm", tid))
	if err != nil {
		t.Fatal(err)
	}
	off := offsetVar(0)
	before := bootNow()
	result, errno := rawSendfile(int(out.Fd()), int(in.Fd()), uintptr(unsafe.Pointer(off)), 12345)
	after := bootNow()
	if errno != 0 || result != 4096 || *off != 4096 {
		t.Fatalf("sendfile returned %d, errno %v, offset %d; the kernel should move the whole 4096-byte file", result, errno, *off)
	}

	e := onlyOne(t, c, p, func(e *Event) bool { return int(e.Tgid) == os.Getpid() && int(e.InFd) == int(in.Fd()) })
	if e.OutFd != int32(out.Fd()) {
		t.Errorf("out_fd = %d, want %d", e.OutFd, out.Fd())
	}
	if e.InFd != int32(in.Fd()) {
		t.Errorf("in_fd = %d, want %d", e.InFd, in.Fd())
	}
	if e.Count != 12345 {
		t.Errorf("count = %d, want 12345", e.Count)
	}
	if e.OffsetPtr != uint64(uintptr(unsafe.Pointer(off))) {
		t.Errorf("offset pointer = %#x, want %p", e.OffsetPtr, off)
	}
	if e.OffsetStart != 0 {
		t.Errorf("offset start = %d, want 0", e.OffsetStart)
	}
	if e.OffsetEnd != 4096 {
		t.Errorf("offset end = %d, want 4096", e.OffsetEnd)
	}
	if e.Result != 4096 {
		t.Errorf("result = %d, want 4096", e.Result)
	}
	if e.OffsetUnreadable() {
		t.Errorf("offset marked unreadable, flags %#x", e.Flags)
	}
	if e.Abi != nativeABI() || e.Nr != nativeNr() || e.Name() != "sendfile" {
		t.Errorf("abi %d nr %d name %s, want the native sendfile", e.Abi, e.Nr, e.Name())
	}
	if int(e.Tid) != tid {
		t.Errorf("tid = %d, want %d", e.Tid, tid)
	}
	if int(e.Uid) != os.Getuid() || int(e.Gid) != os.Getgid() {
		t.Errorf("uid/gid = %d/%d, want %d/%d", e.Uid, e.Gid, os.Getuid(), os.Getgid())
	}
	if got, want := string(e.CommBytes()), strings.TrimSpace(string(comm)); got != want {
		t.Errorf("comm = %q, want %q", got, want)
	}
	if e.EnterNs < before || e.ExitNs > after || e.EnterNs > e.ExitNs {
		t.Errorf("enter %d, exit %d: want before %d <= enter <= exit <= after %d", e.EnterNs, e.ExitNs, before, after)
	}
	if e.CgroupId == 0 {
		t.Error("cgroup id is 0")
	}
}

func TestNativeCallWithNullOffset(t *testing.T) {
	p := openProbe(t, ownFilter())
	c := collect(p)
	in := openRead(t, writeFile(t, t.TempDir(), "in", 4096))
	out := openDevNull(t)

	result, errno := rawSendfile(int(out.Fd()), int(in.Fd()), 0, 1000)
	if errno != 0 || result != 1000 {
		t.Fatalf("sendfile returned %d, errno %v", result, errno)
	}
	pos, err := in.Seek(0, 1)
	if err != nil || pos != 1000 {
		t.Fatalf("file position %d (%v), want 1000: with a NULL offset the kernel advances it", pos, err)
	}

	e := onlyOne(t, c, p, func(e *Event) bool { return int(e.Tgid) == os.Getpid() && int(e.InFd) == int(in.Fd()) })
	if e.OffsetPtr != 0 {
		t.Errorf("offset pointer = %#x, want 0", e.OffsetPtr)
	}
	if e.OffsetStart != 0 || e.OffsetEnd != 0 || e.Flags&(FlagOffsetStartUnreadable|FlagOffsetEndUnreadable) != 0 {
		t.Errorf("offset values %d/%d flags %#x, want none for NULL", e.OffsetStart, e.OffsetEnd, e.Flags)
	}
	if e.Result != 1000 || e.Count != 1000 {
		t.Errorf("result %d count %d, want 1000 and 1000", e.Result, e.Count)
	}
}

func TestErrors(t *testing.T) {
	dir := t.TempDir()
	inPath := writeFile(t, dir, "in", 4096)
	in := openRead(t, inPath)
	out := openDevNull(t)
	appendFile, err := os.OpenFile(filepath.Join(dir, "append"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer appendFile.Close()
	pipeR, pipeW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer pipeR.Close()
	defer pipeW.Close()
	pipeW.Write([]byte("data"))

	off := offsetVar(0)
	cases := []struct {
		name      string
		out, in   int
		offset    uintptr
		count     uint64
		errno     unix.Errno
		wantOutFd int32
		// unreadable: the offset pointer is invalid, so both reads fail.
		unreadable bool
	}{
		{name: "bad out fd", out: -1, in: int(in.Fd()), offset: uintptr(unsafe.Pointer(off)), count: 11, errno: unix.EBADF, wantOutFd: -1},
		{name: "append out", out: int(appendFile.Fd()), in: int(in.Fd()), offset: uintptr(unsafe.Pointer(off)), count: 12, errno: unix.EINVAL, wantOutFd: int32(appendFile.Fd())},
		{name: "pipe in with offset", out: int(out.Fd()), in: int(pipeR.Fd()), offset: uintptr(unsafe.Pointer(off)), count: 13, errno: unix.ESPIPE, wantOutFd: int32(out.Fd())},
		{name: "offset pointer 1", out: int(out.Fd()), in: int(in.Fd()), offset: 1, count: 14, errno: unix.EFAULT, wantOutFd: int32(out.Fd()), unreadable: true},
	}
	// One probe for every case, which the distinct counts tell apart: each
	// open costs seconds in an emulated VM.
	p := openProbe(t, ownFilter())
	c := collect(p)
	for _, tc := range cases {
		atomic.StoreInt64(off, 0)
		result, errno := rawSendfile(tc.out, tc.in, tc.offset, tc.count)
		if errno != tc.errno {
			t.Fatalf("%s: sendfile returned %d, errno %v; want errno %v", tc.name, result, errno, tc.errno)
		}
	}
	c.stopAndDrain(t, p)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := c.matching(func(e *Event) bool { return int(e.Tgid) == os.Getpid() && e.Count == tc.count })
			if len(got) != 1 {
				t.Fatalf("got %d matching events, want 1: %+v", len(got), got)
			}
			e := got[0]
			if e.Result != -int64(tc.errno) {
				t.Errorf("result = %d, want %d", e.Result, -int64(tc.errno))
			}
			if e.OutFd != tc.wantOutFd {
				t.Errorf("out_fd = %d, want %d", e.OutFd, tc.wantOutFd)
			}
			if e.InFd != int32(tc.in) {
				t.Errorf("in_fd = %d, want %d", e.InFd, tc.in)
			}
			if e.OffsetPtr != uint64(tc.offset) {
				t.Errorf("offset pointer = %#x, want %#x", e.OffsetPtr, tc.offset)
			}
			if e.OffsetUnreadable() != tc.unreadable {
				t.Errorf("offset unreadable = %v (flags %#x), want %v", e.OffsetUnreadable(), e.Flags, tc.unreadable)
			}
			if tc.unreadable && e.Flags&FlagOffsetStartUnreadable == 0 {
				t.Errorf("flags %#x: the read at enter should be marked unreadable", e.Flags)
			}
		})
	}
}

func TestOffsetAtEndOfFile(t *testing.T) {
	p := openProbe(t, ownFilter())
	c := collect(p)
	in := openRead(t, writeFile(t, t.TempDir(), "in", 4096))
	out := openDevNull(t)
	off := offsetVar(0)
	*off = 4096

	result, errno := rawSendfile(int(out.Fd()), int(in.Fd()), uintptr(unsafe.Pointer(off)), 100)
	if errno != 0 || result != 0 {
		t.Fatalf("sendfile at EOF returned %d, errno %v; want 0", result, errno)
	}
	e := onlyOne(t, c, p, byTGID(os.Getpid()))
	if e.Result != 0 || e.OffsetStart != 4096 || e.OffsetEnd != 4096 {
		t.Errorf("result %d offsets %d..%d, want 0 and 4096..4096", e.Result, e.OffsetStart, e.OffsetEnd)
	}
}

func TestNonBlockingSocketShortWrite(t *testing.T) {
	const uid = 4101
	p := openProbe(t, Options{Filter: Filter{TGIDs: []uint32{uint32(os.Getpid())}}})
	c := collect(p)
	in := openRead(t, writeFile(t, t.TempDir(), "in", 8<<20))

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		conn, _ := ln.Accept()
		accepted <- conn // never read: the sender's buffer fills up
	}()
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_NONBLOCK, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_SNDBUF, 4096); err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().(*net.TCPAddr)
	err = unix.Connect(fd, &unix.SockaddrInet4{Port: addr.Port, Addr: [4]byte{127, 0, 0, 1}})
	if err != nil && err != unix.EINPROGRESS {
		t.Fatal(err)
	}
	server := <-accepted
	defer server.Close()
	time.Sleep(50 * time.Millisecond) // let the connection complete

	const count = 8 << 20
	var results []int64
	for i := 0; i < 100; i++ {
		result, errno := rawSendfile(fd, int(in.Fd()), 0, count)
		results = append(results, result)
		if errno == unix.EAGAIN {
			break
		}
		if errno != 0 {
			t.Fatalf("sendfile: %v", errno)
		}
	}
	if len(results) < 2 || results[0] <= 0 || results[0] >= count || results[len(results)-1] != -int64(unix.EAGAIN) {
		t.Fatalf("results %v: want a short write first and EAGAIN last", results)
	}

	c.stopAndDrain(t, p)
	got := c.matching(func(e *Event) bool { return int(e.Tgid) == os.Getpid() && int(e.OutFd) == fd })
	if len(got) != len(results) {
		t.Fatalf("got %d events, want %d", len(got), len(results))
	}
	for i, e := range got {
		if e.Result != results[i] || e.Count != count {
			t.Errorf("event %d: result %d count %d, want %d and %d", i, e.Result, e.Count, results[i], count)
		}
	}
	_ = uid
}

// sendfile32Case is a 32-bit caller and the event it must produce.
type sendfile32Case struct {
	name       string
	program    string
	args       []string
	wantName   string
	wantNr     uint16
	offsetSize int64
}

func TestSendfile32(t *testing.T) {
	if runtime.GOARCH != "amd64" {
		t.Skipf("i386 compat calls exist on x86_64 only, not %s", runtime.GOARCH)
	}
	dir := worldDir(t)
	inPath := writeFile(t, dir, "in", 4096)

	cases := []sendfile32Case{
		{"gcc -m32 without large files", "sendfile_i386", []string{"/dev/null", inPath, "100", "1000"}, "sendfile32", NrI386Sendfile32, 4},
		{"int 0x80 from a 64-bit process", "int80", []string{"sendfile32", "/dev/null", inPath, "100", "1000"}, "sendfile32", NrI386Sendfile32, 4},
		{"gcc -m32 with large files", "sendfile_i386_lfs", []string{"/dev/null", inPath, "100", "1000"}, "sendfile", NrI386Sendfile64, 8},
	}
	for _, v := range compatVariants(t) {
		for _, tc := range cases {
			t.Run(v.name+"/"+tc.name, func(t *testing.T) { testSendfile32Case(t, v, tc) })
		}
	}
}

// testSendfile32Case runs one 32-bit caller and checks its event against
// the caller's own report.
func testSendfile32Case(t *testing.T, v compatVariant, tc sendfile32Case) {
	path := caller(t, tc.program)
	p := openCompatProbe(t, v)
	c := collect(p)
	r := runCaller(t, path, tc.args...)
	if r["result"] != 1000 || r["offset_size"] != tc.offsetSize {
		t.Fatalf("caller report %v: want result 1000 and a %d-byte offset", r, tc.offsetSize)
	}
	e := onlyOne(t, c, p, byTGID(int(r["pid"])))
	if e.Name() != tc.wantName || e.Abi != ABII386 || e.Nr != tc.wantNr {
		t.Errorf("name %s abi %s nr %d, want %s i386 %d", e.Name(), e.ABIName(), e.Nr, tc.wantName, tc.wantNr)
	}
	if int64(e.OutFd) != r["out_fd"] || int64(e.InFd) != r["in_fd"] {
		t.Errorf("fds out %d in %d, want %d %d", e.OutFd, e.InFd, r["out_fd"], r["in_fd"])
	}
	if int64(e.Count) != r["count"] {
		t.Errorf("count %d, want %d", e.Count, r["count"])
	}
	if int64(e.OffsetPtr) != r["offset_ptr"] {
		t.Errorf("offset pointer %#x, want %#x", e.OffsetPtr, r["offset_ptr"])
	}
	if e.OffsetStart != r["offset_before"] || e.OffsetEnd != r["offset_after"] {
		t.Errorf("offsets %d..%d, want %d..%d", e.OffsetStart, e.OffsetEnd, r["offset_before"], r["offset_after"])
	}
	if e.Result != r["result"] {
		t.Errorf("result %d, want %d", e.Result, r["result"])
	}
	if (e.Flags&FlagOffset32Bit != 0) != (tc.offsetSize == 4) {
		t.Errorf("flags %#x: 32-bit offset flag wrong for a %d-byte offset", e.Flags, tc.offsetSize)
	}
}

func TestSendfile32NegativeOffsetIsSignExtended(t *testing.T) {
	if runtime.GOARCH != "amd64" {
		t.Skipf("i386 compat calls exist on x86_64 only, not %s", runtime.GOARCH)
	}
	inPath := writeFile(t, worldDir(t), "in", 4096)
	path := caller(t, "int80")
	for _, v := range compatVariants(t) {
		t.Run(v.name, func(t *testing.T) {
			p := openCompatProbe(t, v)
			c := collect(p)
			r := runCaller(t, path, "sendfile32", "/dev/null", inPath, "-5", "10")
			if r["result"] != -int64(unix.EINVAL) {
				t.Fatalf("caller report %v: a negative offset should give EINVAL", r)
			}
			e := onlyOne(t, c, p, byTGID(int(r["pid"])))
			if e.OffsetStart != -5 {
				t.Errorf("offset start %d, want -5 (compat_off_t is signed)", e.OffsetStart)
			}
		})
	}
}

func TestNoFalseCompatEvents(t *testing.T) {
	if runtime.GOARCH != "amd64" {
		t.Skipf("i386 compat calls exist on x86_64 only, not %s", runtime.GOARCH)
	}
	int80 := caller(t, "int80")
	for _, v := range compatVariants(t) {
		t.Run(v.name, func(t *testing.T) { testNoFalseCompatEvents(t, v, int80) })
	}
}

// testNoFalseCompatEvents makes the syscalls that share the sendfile
// numbers in the other table and checks that none becomes an event.
func testNoFalseCompatEvents(t *testing.T, v compatVariant, int80 string) {
	dir := worldDir(t)
	p := openCompatProbe(t, v)
	c := collect(p)

	// i386 40 is rmdir, the number of sendfile in the x86_64 table.
	victim := filepath.Join(dir, "victim")
	if err := os.Mkdir(victim, 0o755); err != nil {
		t.Fatal(err)
	}
	r := runCaller(t, int80, "rmdir", victim)
	if r["result"] != 0 {
		t.Fatalf("i386 rmdir returned %d", r["result"])
	}
	if _, err := os.Stat(victim); !os.IsNotExist(err) {
		t.Fatalf("i386 syscall 40 did not remove %s: %v", victim, err)
	}

	// x86_64 187 is readahead, the number of sendfile32 in the i386 table.
	f := openRead(t, writeFile(t, dir, "file", 8192))
	if _, _, errno := unix.Syscall(unix.SYS_READAHEAD, f.Fd(), 0, 4096); errno != 0 {
		t.Fatalf("readahead: %v", errno)
	}

	c.stopAndDrain(t, p)
	if got := c.matching(byTGID(int(r["pid"]))); len(got) != 0 {
		t.Errorf("i386 rmdir produced %d events: %+v", len(got), got)
	}
	if got := c.matching(byTGID(os.Getpid())); len(got) != 0 {
		t.Errorf("x86_64 readahead produced %d events: %+v", len(got), got)
	}
}

func TestCallerUIDAndGID(t *testing.T) {
	const uid, gid = 1234, 5678
	inPath := writeFile(t, worldDir(t), "in", 4096)
	p := openProbe(t, Options{Filter: Filter{UIDs: []uint32{uid}}})
	c := collect(p)

	r := runChildAs(t, uid, gid, childCopy, inPath)
	if r["bytes"] != 4096 {
		t.Fatalf("child report %v: want 4096 bytes", r)
	}
	e := onlyOne(t, c, p, byTGID(int(r["pid"])))
	if e.Uid != uid || e.Gid != gid {
		t.Errorf("event uid/gid %d/%d, want %d/%d", e.Uid, e.Gid, uid, gid)
	}
	totals, err := p.Totals(nil)
	if err != nil {
		t.Fatal(err)
	}
	var bytes, calls uint64
	for _, total := range totals {
		if total.UID == uid {
			bytes += total.Bytes
			calls += total.Calls
		}
	}
	if bytes != 4096 || calls != 1 {
		t.Errorf("totals for uid %d: %d bytes in %d calls, want 4096 in 1", uid, bytes, calls)
	}
}

func TestMillionCallsTinyRingBuffer(t *testing.T) {
	const uid = 4102
	calls := heavy(1_000_000)
	inPath := writeFile(t, worldDir(t), "in", 16)
	p := openProbe(t, Options{
		RingBufferBytes: 4096,
		Filter:          Filter{UIDs: []uint32{uid}},
	})
	c := collect(p)

	r := runChildAs(t, uid, uid, childOneByte, fmt.Sprintf("%d,%s", calls, inPath))
	if r["calls"] != int64(calls) || r["bytes"] != int64(calls) {
		t.Fatalf("child report %v: want %d one-byte calls", r, calls)
	}
	c.stopAndDrain(t, p)

	totals, err := p.Totals(nil)
	if err != nil {
		t.Fatal(err)
	}
	// A signal can interrupt a call: the exit then shows a restart code
	// (ERESTARTSYS and kin) and the kernel enters the call once more.
	var bytes, succeeded, attempts uint64
	for _, total := range totals {
		if total.UID != uid {
			continue
		}
		bytes += total.Bytes
		attempts += total.Calls
		if total.Errno == 0 {
			succeeded += total.Calls
		} else if total.Errno < 512 || total.Errno > 516 {
			t.Errorf("%d calls failed with errno %d", total.Calls, total.Errno)
		}
	}
	if bytes != uint64(calls) || succeeded != uint64(calls) {
		t.Errorf("totals for uid %d: %d bytes in %d successful calls, want %d in %d", uid, bytes, succeeded, calls, calls)
	}

	delivered := len(c.matching(byTGID(int(r["pid"]))))
	counters, err := p.Counters()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("calls %d (kernel attempts %d): delivered %d, lost to a full ring buffer %d", calls, attempts, delivered, counters.RingBufferFull)
	if uint64(delivered)+counters.RingBufferFull != attempts {
		t.Errorf("delivered %d + lost %d = %d, want %d attempts", delivered, counters.RingBufferFull, uint64(delivered)+counters.RingBufferFull, attempts)
	}
	if counters.SpansOffered != attempts {
		t.Errorf("offered %d, want %d", counters.SpansOffered, attempts)
	}
	if c.errs != 0 {
		t.Errorf("%d read errors", c.errs)
	}
}

// blockInSendfile starts a thread blocked in sendfile writing to a full
// pipe, and returns its tid and a function that unblocks it and waits for
// the call to return.
func blockInSendfile(t *testing.T, in *os.File) (tid int, release func() int64) {
	t.Helper()
	pipeR, pipeW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pipeR.Close(); pipeW.Close() })
	// Fill the pipe so the next write blocks.
	wfd := int(pipeW.Fd())
	if err := unix.SetNonblock(wfd, true); err != nil {
		t.Fatal(err)
	}
	chunk := make([]byte, 65536)
	for {
		if _, err := unix.Write(wfd, chunk); err != nil {
			break
		}
	}
	if err := unix.SetNonblock(wfd, false); err != nil {
		t.Fatal(err)
	}

	tids := make(chan int)
	result := make(chan int64)
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		tids <- unix.Gettid()
		n, _ := rawSendfile(wfd, int(in.Fd()), 0, 4096)
		result <- n
	}()
	tid = <-tids
	// Wait until the thread sleeps inside the call.
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		stat, _ := os.ReadFile(fmt.Sprintf("/proc/self/task/%d/syscall", tid))
		if strings.HasPrefix(string(stat), fmt.Sprint(unix.SYS_SENDFILE)+" ") {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	return tid, func() int64 {
		buf := make([]byte, 1<<20)
		go func() {
			for {
				if _, err := pipeR.Read(buf); err != nil {
					return
				}
			}
		}()
		return <-result
	}
}

func TestCallBlockedBeforeAttachIsOrphan(t *testing.T) {
	in := openRead(t, writeFile(t, t.TempDir(), "in", 4096))
	tid, release := blockInSendfile(t, in)

	p := openProbe(t, ownFilter())
	c := collect(p)
	if n := release(); n <= 0 {
		t.Fatalf("the blocked sendfile returned %d", n)
	}
	c.stopAndDrain(t, p)

	if got := c.matching(func(e *Event) bool { return int(e.Tid) == tid }); len(got) != 0 {
		t.Errorf("the call that entered before attach produced %d events: %+v", len(got), got)
	}
	counters, err := p.Counters()
	if err != nil {
		t.Fatal(err)
	}
	// A kretprobe or fexit hooks a function's return at its entry, so a call
	// that entered before attach returns unseen. Only the syscall exit
	// tracepoint fires at its exit, which then has no matching enter.
	if p.Mode() == Tracepoint && counters.OrphanExits < 1 {
		t.Errorf("orphan exits = %d, want at least 1 in tracepoint mode", counters.OrphanExits)
	}
}

func TestShortLivedThreadsKeepInflightBounded(t *testing.T) {
	threads := heavy(100_000)
	const maxInflight = 1024
	p := openProbe(t, Options{MaxInflight: maxInflight, Filter: Filter{TGIDs: []uint32{uint32(os.Getpid())}}})
	c := collect(p)
	in := openRead(t, writeFile(t, t.TempDir(), "in", 64))
	out := openDevNull(t)

	var wg sync.WaitGroup
	workers := 8
	per := threads / workers
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < per; i++ {
				done := make(chan struct{})
				go func() {
					// Exiting while locked ends the OS thread: each call runs on a new thread.
					runtime.LockOSThread()
					off := offsetVar(0)
					rawSendfile(int(out.Fd()), int(in.Fd()), uintptr(unsafe.Pointer(off)), 1)
					close(done)
				}()
				<-done
			}
		}()
	}
	wg.Wait()

	n, err := p.InflightLen()
	if err != nil {
		t.Fatal(err)
	}
	if n > maxInflight {
		t.Errorf("inflight map holds %d entries, bound %d", n, maxInflight)
	}

	// A later call is still captured.
	off := offsetVar(0)
	if r, errno := rawSendfile(int(out.Fd()), int(in.Fd()), uintptr(unsafe.Pointer(off)), 7); r != 7 {
		t.Fatalf("sendfile returned %d, %v", r, errno)
	}
	c.stopAndDrain(t, p)
	if got := c.matching(func(e *Event) bool { return int(e.Tgid) == os.Getpid() && e.Count == 7 }); len(got) != 1 {
		t.Errorf("the call after %d threads produced %d events, want 1", threads, len(got))
	}
	counters, err := p.Counters()
	if err != nil {
		t.Fatal(err)
	}
	delivered := len(c.matching(func(e *Event) bool { return int(e.Tgid) == os.Getpid() && e.Count == 1 }))
	if uint64(delivered)+counters.RingBufferFull < uint64(workers*per) {
		t.Errorf("delivered %d + lost %d, want at least the %d calls made", delivered, counters.RingBufferFull, workers*per)
	}
}

func TestMetricsOnlyCountsWithoutEvents(t *testing.T) {
	const uid = 4103
	inPath := writeFile(t, worldDir(t), "in", 4096)
	p := openProbe(t, Options{NoSpans: true})
	var ev Event
	if err := p.ReadEvent(&ev); err != ErrNoSpans {
		t.Errorf("ReadEvent = %v, want ErrNoSpans", err)
	}
	for i := 0; i < 3; i++ {
		runChildAs(t, uid, uid, childCopy, inPath)
	}
	totals, err := p.Totals(nil)
	if err != nil {
		t.Fatal(err)
	}
	var bytes, calls uint64
	for _, total := range totals {
		if total.UID == uid {
			bytes += total.Bytes
			calls += total.Calls
		}
	}
	if bytes != 3*4096 || calls != 3 {
		t.Errorf("totals for uid %d: %d bytes in %d calls, want %d in 3", uid, bytes, calls, 3*4096)
	}
}

func TestFailedCallsCountedByErrno(t *testing.T) {
	p := openProbe(t, Options{NoSpans: true})
	out := openDevNull(t)
	in := openRead(t, writeFile(t, t.TempDir(), "in", 16))
	before, err := p.Totals(nil)
	if err != nil {
		t.Fatal(err)
	}
	const failures = 5
	for i := 0; i < failures; i++ {
		if _, errno := rawSendfile(int(out.Fd()), int(in.Fd()), 1, 1); errno != unix.EFAULT {
			t.Fatalf("want EFAULT, got %v", errno)
		}
	}
	after, err := p.Totals(nil)
	if err != nil {
		t.Fatal(err)
	}
	count := func(totals []UserTotal) uint64 {
		var n uint64
		for _, total := range totals {
			if int(total.UID) == os.Getuid() && total.Errno == uint32(unix.EFAULT) {
				n += total.Calls
			}
		}
		return n
	}
	if got := count(after) - count(before); got < failures {
		t.Errorf("EFAULT calls counted for uid %d: %d, want at least %d", os.Getuid(), got, failures)
	}
}

func TestSpanFilters(t *testing.T) {
	in := openRead(t, writeFile(t, t.TempDir(), "in", 4096))
	out := openDevNull(t)
	call := func(count uint64, offset uintptr) {
		rawSendfile(int(out.Fd()), int(in.Fd()), offset, count)
	}
	off := offsetVar(0)
	valid := uintptr(unsafe.Pointer(off))
	ownComm, _ := os.ReadFile("/proc/self/comm")

	cases := []struct {
		name   string
		filter Filter
		wanted map[uint64]bool // count of each call -> whether it should appear
	}{
		{"min bytes", Filter{MinBytes: 100}, map[uint64]bool{10: false, 200: true, 11: true}},
		{"errors only", Filter{ErrorsOnly: true}, map[uint64]bool{10: false, 200: false, 11: true}},
		{"sample none", Filter{SampleRatio: 0, SampleRatioSet: true}, map[uint64]bool{10: false, 200: false, 11: false}},
		{"other uid", Filter{UIDs: []uint32{4999}}, map[uint64]bool{10: false, 200: false, 11: false}},
		{"own comm", Filter{Comms: []string{strings.TrimSpace(string(ownComm))}}, map[uint64]bool{10: true, 200: true, 11: true}},
		{"other comm", Filter{Comms: []string{"no-such-comm"}}, map[uint64]bool{10: false, 200: false, 11: false}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			filter := tc.filter
			if len(filter.UIDs) == 0 {
				filter.TGIDs = []uint32{uint32(os.Getpid())}
			}
			p := openProbe(t, Options{Filter: filter})
			c := collect(p)
			atomic.StoreInt64(off, 0)
			call(10, valid)
			atomic.StoreInt64(off, 0)
			call(200, valid)
			call(11, 1) // EFAULT
			c.stopAndDrain(t, p)
			for count, want := range tc.wanted {
				got := len(c.matching(func(e *Event) bool { return int(e.Tgid) == os.Getpid() && e.Count == count })) == 1
				if got != want {
					t.Errorf("call with count %d: event %v, want %v", count, got, want)
				}
			}
		})
	}
}

func TestSampleRatioHalf(t *testing.T) {
	p := openProbe(t, Options{Filter: Filter{TGIDs: []uint32{uint32(os.Getpid())}, SampleRatio: 0.5}})
	c := collect(p)
	in := openRead(t, writeFile(t, t.TempDir(), "in", 16))
	out := openDevNull(t)
	const calls = 4000
	off := offsetVar(0)
	for i := 0; i < calls; i++ {
		atomic.StoreInt64(off, 0)
		rawSendfile(int(out.Fd()), int(in.Fd()), uintptr(unsafe.Pointer(off)), 1)
	}
	c.stopAndDrain(t, p)
	got := len(c.matching(byTGID(os.Getpid())))
	// Binomial(4000, 0.5) has a standard deviation of about 32: 6 of them is 190.
	if got < calls/2-190 || got > calls/2+190 {
		t.Errorf("%d of %d calls sampled, want about %d", got, calls, calls/2)
	}
}

func TestOptionsRejectBadValues(t *testing.T) {
	cases := []struct {
		name string
		opts Options
		want string
	}{
		{"mode", Options{Mode: "uprobe"}, `invalid attach mode "uprobe"`},
		{"compat", Options{Compat: "maybe"}, `invalid compat setting "maybe"`},
		{"ring size", Options{RingBufferBytes: 5000}, "invalid ring buffer size 5000"},
		{"sample ratio", Options{Filter: Filter{SampleRatio: 1.5}}, "invalid sample ratio 1.5"},
		{"comm", Options{Filter: Filter{Comms: []string{"a-very-long-thread-name"}}}, "invalid comm filter"},
		{"flush interval", Options{FlushInterval: time.Millisecond}, "invalid flush interval 1ms"},
		{"NaN sample ratio", Options{Filter: Filter{SampleRatio: math.NaN()}}, "invalid sample ratio NaN"},
		// The filter maps in bpf/sendfile.bpf.c hold 1024 entries each.
		{"too many pids", Options{Filter: Filter{TGIDs: make([]uint32, 1025)}}, "1025 pids"},
		{"too many uids", Options{Filter: Filter{UIDs: make([]uint32, 1025)}}, "1025 uids"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Open(tc.opts)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Open error %v, want one containing %q", err, tc.want)
			}
		})
	}
}

func TestSampleThreshold(t *testing.T) {
	cases := []struct {
		filter Filter
		want   uint64
	}{
		{Filter{}, 1 << 32},
		{Filter{SampleRatio: 1}, 1 << 32},
		{Filter{SampleRatio: 0.5}, 1 << 31},
		{Filter{SampleRatio: 0.01}, 42949672},
		{Filter{SampleRatio: 0, SampleRatioSet: true}, 0},
	}
	for _, tc := range cases {
		if got := tc.filter.sampleThreshold(); got != tc.want {
			t.Errorf("ratio %g (set %v): threshold %d, want %d", tc.filter.SampleRatio, tc.filter.SampleRatioSet, got, tc.want)
		}
	}
}

func TestEveryProgramPassesVerifier(t *testing.T) {
	requireRoot(t)
	type variant struct {
		name string
		mode Mode
		opts Options
	}
	var variants []variant
	for _, mode := range Modes {
		variants = append(variants, variant{string(mode), mode, Options{}})
	}
	// Tracepoint mode prefers BTF tracepoints for compat calls; the raw
	// ones it falls back to must pass too.
	variants = append(variants, variant{"tracepoint-raw-compat", Tracepoint, Options{rawCompatTracepoints: true}})
	for _, v := range variants {
		mode := v.mode
		t.Run(v.name, func(t *testing.T) {
			stats, err := Verify(v.opts, mode)
			var ve *ebpf.VerifierError
			switch {
			case errors.As(err, &ve):
				t.Fatalf("verifier rejected a %s program: %v", mode, err)
			case errors.Is(err, unix.EPERM):
				// The kernel refuses the program type as a whole: nothing of ours was checked.
				fmt.Printf("VERIFIER: %s refused-by-kernel\n", mode)
				t.Logf("%s programs cannot load on this kernel: %v", mode, err)
				return
			case err != nil:
				t.Fatalf("loading %s programs: %v", mode, err)
			}
			if len(stats) == 0 {
				t.Fatalf("no %s programs loaded", mode)
			}
			for _, s := range stats {
				fmt.Printf("VERIFIER: %s %s %d\n", mode, s.Name, s.VerifiedInstructions)
			}
		})
	}
}

func TestEnrichmentNamesSourceAndDestination(t *testing.T) {
	requireRoot(t)
	opts := ownFilter()
	opts.Mode = testMode()
	p, err := Open(opts)
	if err != nil {
		skipOrFail(t, "attach mode %s not available: %v", opts.Mode, err)
	}
	defer p.Close()
	c := collect(p)
	dir := t.TempDir()
	inPath := writeFile(t, dir, "source.bin", 4096)
	in := openRead(t, inPath)
	out := openDevNull(t)
	off := offsetVar(0)
	if r, errno := rawSendfile(int(out.Fd()), int(in.Fd()), uintptr(unsafe.Pointer(off)), 77); r != 77 {
		t.Fatalf("sendfile returned %d, %v", r, errno)
	}

	e := onlyOne(t, c, p, byTGID(os.Getpid()))
	if !e.Enriched() {
		t.Fatal("event not enriched")
	}
	if got, ok := e.AppendInPath(nil); !ok || string(got) != inPath {
		t.Errorf("source path %q (read %v), want %q", got, ok, inPath)
	}
	var st unix.Stat_t
	if err := unix.Fstat(int(in.Fd()), &st); err != nil {
		t.Fatal(err)
	}
	if e.Enrich.InIno != st.Ino {
		t.Errorf("source inode %d, want %d", e.Enrich.InIno, st.Ino)
	}
	if e.Enrich.OutKind != OutKindCharDevice {
		t.Errorf("destination kind %d, want a character device", e.Enrich.OutKind)
	}
	if got, ok := e.AppendOutPath(nil); !ok || string(got) != "/dev/null" {
		t.Errorf("destination path %q (read %v), want /dev/null", got, ok)
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	if got := string(e.ExeNameBytes()); got != filepath.Base(self) {
		t.Errorf("executable name %q, want %q", got, filepath.Base(self))
	}
}

// TestCoverage prints which calls the mode under test captures, one event of
// each kind, for the kernel matrix (test/vm) to report.
func TestCoverage(t *testing.T) {
	dir := worldDir(t)
	inPath := writeFile(t, dir, "in", 4096)
	p := openProbe(t, Options{})
	c := collect(p)

	in := openRead(t, inPath)
	out := openDevNull(t)
	if r, errno := rawSendfile(int(out.Fd()), int(in.Fd()), 0, 99); r != 99 {
		t.Fatalf("sendfile returned %d, %v", r, errno)
	}
	var sendfile32Pid, sendfile64Pid int64 = -1, -1
	if runtime.GOARCH == "amd64" {
		sendfile32Pid = runCaller(t, caller(t, "sendfile_i386"), "/dev/null", inPath, "0", "98")["pid"]
		sendfile64Pid = runCaller(t, caller(t, "sendfile_i386_lfs"), "/dev/null", inPath, "0", "97")["pid"]
	}
	c.stopAndDrain(t, p)

	native := len(c.matching(func(e *Event) bool { return int(e.Tgid) == os.Getpid() && e.Count == 99 })) == 1
	sendfile32 := len(c.matching(func(e *Event) bool { return int64(e.Tgid) == sendfile32Pid && e.Name() == "sendfile32" })) == 1
	sendfile64 := len(c.matching(func(e *Event) bool {
		return int64(e.Tgid) == sendfile64Pid && e.Abi == ABII386 && e.Nr == NrI386Sendfile64
	})) == 1
	fmt.Printf("COVERAGE: %s native=%v sendfile32=%v sendfile64_ia32=%v\n", p.Mode(), native, sendfile32, sendfile64)
	if !native {
		t.Error("no event for the native call")
	}
	if runtime.GOARCH == "amd64" && p.Compat() && (!sendfile32 || !sendfile64) {
		t.Errorf("compat traced, but events for sendfile32 %v and i386 sendfile64 %v", sendfile32, sendfile64)
	}
}

func TestManyThreadsBlockedInSendfile(t *testing.T) {
	const threads = 64
	in := openRead(t, writeFile(t, t.TempDir(), "in", 4096))
	p := openProbe(t, ownFilter())
	c := collect(p)

	// Each thread blocks on its own full pipe, so all of them are inside
	// sendfile at once: a kretprobe must follow 64 calls of one function.
	type blocked struct {
		tid     int
		release func() int64
	}
	var all []blocked
	for i := 0; i < threads; i++ {
		tid, release := blockInSendfile(t, in)
		all = append(all, blocked{tid, release})
	}
	tids := map[int]bool{}
	for _, b := range all {
		if n := b.release(); n <= 0 {
			t.Fatalf("thread %d: sendfile returned %d", b.tid, n)
		}
		tids[b.tid] = true
	}
	c.stopAndDrain(t, p)

	got := c.matching(func(e *Event) bool { return tids[int(e.Tid)] && e.Result > 0 })
	if len(got) != threads {
		t.Errorf("%d complete events for %d blocked threads", len(got), threads)
	}
	counters, err := p.Counters()
	if err != nil {
		t.Fatal(err)
	}
	if counters.KprobeMissed != 0 {
		t.Errorf("the kernel missed %d kretprobes", counters.KprobeMissed)
	}
}

// scriptedCalls makes the same set of calls every time: native with and
// without an offset, failures, and (on x86_64) both i386 calls.
func scriptedCalls(t *testing.T, in, out *os.File, off *int64, inPath string) (childPids []int64) {
	t.Helper()
	atomic.StoreInt64(off, 0)
	rawSendfile(int(out.Fd()), int(in.Fd()), uintptr(unsafe.Pointer(off)), 1000)
	rawSendfile(int(out.Fd()), int(in.Fd()), 0, 500)
	rawSendfile(-1, int(in.Fd()), uintptr(unsafe.Pointer(off)), 10)
	rawSendfile(int(out.Fd()), int(in.Fd()), 1, 20)
	atomic.StoreInt64(off, 4096)
	rawSendfile(int(out.Fd()), int(in.Fd()), uintptr(unsafe.Pointer(off)), 30)
	if runtime.GOARCH == "amd64" {
		childPids = append(childPids,
			runCaller(t, caller(t, "sendfile_i386"), "/dev/null", inPath, "100", "1000")["pid"],
			runCaller(t, caller(t, "sendfile_i386_lfs"), "/dev/null", inPath, "200", "1000")["pid"],
			runCaller(t, caller(t, "int80"), "sendfile32", "/dev/null", inPath, "-5", "10")["pid"],
		)
	}
	return childPids
}

// TestModesAgree runs one script of calls under every attach mode this
// kernel offers and compares the events field by field, timestamps and
// process ids aside. It runs in the tracepoint pass of the kernel matrix
// (or with SENDFILE_OTEL_TEST_PROBE unset), since it opens every mode itself.
func TestModesAgree(t *testing.T) {
	requireRoot(t)
	if m := testMode(); m != Auto && m != Tracepoint {
		t.Skipf("runs in the tracepoint pass only, not in %s", m)
	}
	inPath := writeFile(t, worldDir(t), "in", 4096)
	in := openRead(t, inPath)
	out := openDevNull(t)
	off := offsetVar(0)
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	tid := unix.Gettid()

	byMode := map[Mode][]Event{}
	for _, mode := range Modes {
		p, err := Open(Options{Mode: mode, NoEnrich: true})
		if err != nil {
			t.Logf("%s not available here: %v", mode, err)
			continue
		}
		c := collect(p)
		pids := scriptedCalls(t, in, out, off, inPath)
		c.stopAndDrain(t, p)
		p.Close()

		events := c.matching(func(e *Event) bool {
			if int(e.Tid) == tid {
				return true
			}
			for _, pid := range pids {
				if int64(e.Tgid) == pid {
					return true
				}
			}
			return false
		})
		want := 5 + len(pids)
		if len(events) != want {
			t.Errorf("%s: %d events for %d scripted calls", mode, len(events), want)
		}
		for i := range events {
			events[i].EnterNs, events[i].ExitNs, events[i].Tid, events[i].Tgid = 0, 0, 0, 0
		}
		byMode[mode] = events
	}
	if len(byMode) == 0 {
		t.Fatal("no attach mode works")
	}

	var first Mode
	for _, mode := range Modes {
		events, ok := byMode[mode]
		if !ok {
			continue
		}
		if first == "" {
			first = mode
			continue
		}
		base := byMode[first]
		if len(events) != len(base) {
			continue // already reported above
		}
		for i := range events {
			if events[i] != base[i] {
				t.Errorf("event %d differs:\n  %s: %+v\n  %s: %+v", i, first, base[i], mode, events[i])
			}
		}
	}
	var modes []string
	for mode := range byMode {
		modes = append(modes, string(mode))
	}
	fmt.Printf("MODES-AGREE: compared %v\n", modes)
}

func TestReadAfterStopKeepsReturningStopped(t *testing.T) {
	p := openProbe(t, Options{Filter: Filter{TGIDs: []uint32{uint32(os.Getpid())}}})
	in := openRead(t, writeFile(t, t.TempDir(), "in", 64))
	out := openDevNull(t)
	const calls = 3
	for i := 0; i < calls; i++ {
		off := offsetVar(0)
		if r, errno := rawSendfile(int(out.Fd()), int(in.Fd()), uintptr(unsafe.Pointer(off)), 5); r != 5 {
			t.Fatalf("sendfile returned %d, %v", r, errno)
		}
	}
	if err := p.Stop(); err != nil {
		t.Fatalf("Stop: %v", err)
	}

	// Every buffered event, then ErrStopped; then ErrStopped again from
	// other goroutines, at once rather than after a wait for more data.
	read := 0
	var ev Event
	for {
		err := p.ReadEvent(&ev)
		if errors.Is(err, ErrStopped) {
			break
		}
		if err != nil {
			t.Fatalf("ReadEvent: %v", err)
		}
		if int(ev.Tgid) == os.Getpid() && ev.Count == 5 {
			read++
		}
	}
	if read != calls {
		t.Errorf("read %d events of this process before ErrStopped, want %d", read, calls)
	}
	for i := 0; i < 2; i++ {
		result := make(chan error, 1)
		go func() {
			var ev Event
			result <- p.ReadEvent(&ev)
		}()
		select {
		case err := <-result:
			if !errors.Is(err, ErrStopped) {
				t.Errorf("ReadEvent after ErrStopped: %v, want ErrStopped", err)
			}
		case <-time.After(2 * time.Second):
			t.Fatal("ReadEvent after ErrStopped blocked for 2 s")
		}
	}
}
