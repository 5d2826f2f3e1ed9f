// Command workload makes one kind of system call in a loop, on one locked OS
// thread, and prints how many calls it made and how long they took. It is
// the traced program of the benchmarks in test/bench.
//
//	workload -call sendfile-null -duration 1s                as fast as it can
//	workload -call sendfile-null -rate 50000 -duration 3s    paced at 50k calls/s
//
// Calls:
//
//	sendfile-null  sendfile(2) of -size bytes from a tmpfs file to /dev/null
//	sendfile-tcp   the same to a blocking loopback TCP socket whose peer, a
//	               goroutine on another thread, reads and discards everything
//	getppid        getppid(2), a syscall that no tracer here hooks
//
// Every sendfile call passes an offset pointer reset to 0, so each call moves
// the same -size bytes. The calls are raw system calls: no Go wrapper, and
// for sendfile-null and getppid not even the scheduler's syscall hooks,
// because neither can block.
//
// Run it with GODEBUG=asyncpreemptoff=1: a preemption signal that lands
// during sendfile makes the kernel restart the call, which tracers count
// twice.
//
// The output is one JSON object on stdout, with the wall-clock time of the
// measured loop and the CPU time its thread used (CLOCK_THREAD_CPUTIME_ID),
// which leaves out the time the thread waited for a CPU or slept:
//
//	{"call":"getppid","calls":1234,"elapsed_ns":1000000000,"cpu_ns":990000000,"rate":0,"pid":42}
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// result is the JSON line printed at the end.
type result struct {
	Call      string  `json:"call"`
	Calls     int64   `json:"calls"`
	ElapsedNs int64   `json:"elapsed_ns"`
	CPUNs     int64   `json:"cpu_ns"`
	Rate      float64 `json:"rate"`
	Pid       int     `json:"pid"`
}

// checkEvery is how many calls the tight loop makes between clock reads.
const checkEvery = 256

// pacingSleep is how long the paced loop sleeps once it has caught up with
// its schedule, leaving the CPU to the tracer.
const pacingSleep = 200 * time.Microsecond

func main() {
	call := flag.String("call", "sendfile-null", "system call to loop on: sendfile-null, sendfile-tcp or getppid")
	duration := flag.Duration("duration", time.Second, "how long to loop; with -rate, the loop makes rate*duration calls")
	rate := flag.Float64("rate", 0, "calls per second; 0 calls as fast as possible")
	size := flag.Int("size", 4096, "bytes per sendfile call")
	dir := flag.String("dir", "/dev/shm", "tmpfs directory for the sendfile source file")
	warmup := flag.Duration("warmup", 50*time.Millisecond, "calls made before the measured loop starts")
	flag.Parse()

	if err := run(*call, *duration, *rate, *size, *dir, *warmup); err != nil {
		fmt.Fprintf(os.Stderr, "workload: %v\n", err)
		os.Exit(1)
	}
}

func run(call string, duration time.Duration, rate float64, size int, dir string, warmup time.Duration) error {
	if duration <= 0 {
		return fmt.Errorf("invalid -duration %s: want a positive duration", duration)
	}
	if rate < 0 {
		return fmt.Errorf("invalid -rate %g: want 0 or a positive number of calls per second", rate)
	}
	if size <= 0 {
		return fmt.Errorf("invalid -size %d: want a positive number of bytes", size)
	}

	// The calls must come from one thread, so that the loop is one task
	// to the tracers and its timing is not disturbed by thread switches.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()

	caller, cleanup, err := newCaller(call, size, dir)
	if err != nil {
		return err
	}
	defer cleanup()

	if warmup > 0 {
		if _, _, err := loopTight(caller, warmup); err != nil {
			return err
		}
	}
	var calls int64
	var elapsed time.Duration
	cpuStart, err := threadCPUTime()
	if err != nil {
		return err
	}
	if rate == 0 {
		calls, elapsed, err = loopTight(caller, duration)
	} else {
		calls, elapsed, err = loopPaced(caller, duration, rate)
	}
	if err != nil {
		return err
	}
	cpuEnd, err := threadCPUTime()
	if err != nil {
		return err
	}
	return json.NewEncoder(os.Stdout).Encode(result{
		Call:      call,
		Calls:     calls,
		ElapsedNs: elapsed.Nanoseconds(),
		CPUNs:     (cpuEnd - cpuStart).Nanoseconds(),
		Rate:      rate,
		Pid:       os.Getpid(),
	})
}

// threadCPUTime returns the CPU time the calling thread has used.
func threadCPUTime() (time.Duration, error) {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_THREAD_CPUTIME_ID, &ts); err != nil {
		return 0, fmt.Errorf("reading the thread CPU clock: %w", err)
	}
	return time.Duration(ts.Nano()), nil
}

// loopTight calls as fast as it can for at least d.
func loopTight(caller func() error, d time.Duration) (int64, time.Duration, error) {
	var calls int64
	start := time.Now()
	deadline := start.Add(d)
	for {
		for range checkEvery {
			if err := caller(); err != nil {
				return calls, time.Since(start), err
			}
		}
		calls += checkEvery
		if now := time.Now(); !now.Before(deadline) {
			return calls, now.Sub(start), nil
		}
	}
}

// loopPaced makes rate*d calls, keeping up with the schedule of one call
// every 1/rate seconds: it calls until it has caught up, then sleeps
// briefly. When the machine cannot keep up, the loop runs longer than d and
// the elapsed time shows the rate achieved.
func loopPaced(caller func() error, d time.Duration, rate float64) (int64, time.Duration, error) {
	total := int64(rate * d.Seconds())
	var calls int64
	start := time.Now()
	for calls < total {
		due := min(int64(rate*time.Since(start).Seconds()), total)
		for calls < due {
			if err := caller(); err != nil {
				return calls, time.Since(start), err
			}
			calls++
		}
		time.Sleep(pacingSleep)
	}
	return calls, time.Since(start), nil
}

// newCaller returns the function that makes one call, and a cleanup that
// closes what it opened.
func newCaller(call string, size int, dir string) (func() error, func(), error) {
	switch call {
	case "getppid":
		return func() error {
			unix.RawSyscall(unix.SYS_GETPPID, 0, 0, 0)
			return nil
		}, func() {}, nil
	case "sendfile-null", "sendfile-tcp":
	default:
		return nil, nil, fmt.Errorf("invalid -call %q: want sendfile-null, sendfile-tcp or getppid", call)
	}

	in, err := openSource(dir, size)
	if err != nil {
		return nil, nil, err
	}
	if call == "sendfile-null" {
		out, err := unix.Open("/dev/null", unix.O_WRONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			unix.Close(in)
			return nil, nil, fmt.Errorf("opening /dev/null: %w", err)
		}
		s := &sendfiler{out: out, in: in, size: size}
		return s.callRaw, func() { unix.Close(out); unix.Close(in) }, nil
	}

	out, peer, err := dialDrainedTCP()
	if err != nil {
		unix.Close(in)
		return nil, nil, err
	}
	s := &sendfiler{out: out, in: in, size: size}
	return s.callBlocking, func() { unix.Close(out); peer.Close(); unix.Close(in) }, nil
}

// openSource creates a file of size bytes in dir, opens it for reading and
// removes its name, so that nothing is left behind.
func openSource(dir string, size int) (int, error) {
	f, err := os.CreateTemp(dir, "workload-*")
	if err != nil {
		return -1, fmt.Errorf("creating the source file in %s (want a tmpfs directory): %w", dir, err)
	}
	name := f.Name()
	defer os.Remove(name)
	defer f.Close()
	if _, err := f.Write(make([]byte, size)); err != nil {
		return -1, fmt.Errorf("writing %s: %w", name, err)
	}
	fd, err := unix.Open(filepath.Clean(name), unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return -1, fmt.Errorf("opening %s: %w", name, err)
	}
	return fd, nil
}

// dialDrainedTCP returns a blocking socket connected over loopback to a
// peer that discards what it reads. Go's own sockets are non-blocking, and
// sendfile on them would return EAGAIN instead of waiting, so the sending
// side is a raw socket.
func dialDrainedTCP() (int, io.Closer, error) {
	listener, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		return -1, nil, fmt.Errorf("listening on loopback: %w", err)
	}
	defer listener.Close()

	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return -1, nil, fmt.Errorf("creating a TCP socket: %w", err)
	}
	port := listener.Addr().(*net.TCPAddr).Port
	if err := unix.Connect(fd, &unix.SockaddrInet4{Port: port, Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		unix.Close(fd)
		return -1, nil, fmt.Errorf("connecting to 127.0.0.1:%d: %w", port, err)
	}
	peer, err := listener.Accept()
	if err != nil {
		unix.Close(fd)
		return -1, nil, fmt.Errorf("accepting the loopback connection: %w", err)
	}
	go drain(peer)
	return fd, peer, nil
}

func drain(conn net.Conn) {
	buf := make([]byte, 256<<10)
	for {
		if _, err := conn.Read(buf); err != nil {
			if !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) {
				fmt.Fprintf(os.Stderr, "workload: draining the loopback connection: %v\n", err)
			}
			return
		}
	}
}

// sendfiler sends the first size bytes of in to out on every call.
type sendfiler struct {
	out, in int
	size    int
	offset  int64
}

// callRaw makes the call without telling the Go scheduler, for
// destinations that never block.
func (s *sendfiler) callRaw() error {
	s.offset = 0
	n, _, errno := unix.RawSyscall6(unix.SYS_SENDFILE, uintptr(s.out), uintptr(s.in),
		uintptr(unsafe.Pointer(&s.offset)), uintptr(s.size), 0, 0)
	return s.check(n, errno)
}

// callBlocking makes the call through the scheduler's syscall hooks, so the
// drain goroutine keeps running while a full socket blocks the call.
func (s *sendfiler) callBlocking() error {
	s.offset = 0
	n, _, errno := unix.Syscall6(unix.SYS_SENDFILE, uintptr(s.out), uintptr(s.in),
		uintptr(unsafe.Pointer(&s.offset)), uintptr(s.size), 0, 0)
	return s.check(n, errno)
}

func (s *sendfiler) check(n uintptr, errno unix.Errno) error {
	if errno != 0 {
		return fmt.Errorf("sendfile: %w", errno)
	}
	if int(n) != s.size {
		return fmt.Errorf("sendfile moved %d bytes, want %d", n, s.size)
	}
	return nil
}
