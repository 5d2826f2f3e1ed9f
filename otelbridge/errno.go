//go:build linux

package otelbridge

import (
	"math"
	"strconv"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"
)

// maxErrno is the largest errno a system call can return: Linux treats the
// return values -4095..-1 as errors (MAX_ERRNO in include/linux/err.h).
const maxErrno = 4095

// kernelErrnoNames names the errno values that only the kernel uses, from
// include/linux/errno.h. A tracer observes them at system call exit, for
// example ERESTARTSYS when a signal interrupts a call that the kernel then
// restarts, but user space never receives them.
var kernelErrnoNames = map[uint32]string{
	512: "ERESTARTSYS",
	513: "ERESTARTNOINTR",
	514: "ERESTARTNOHAND",
	515: "ENOIOCTLCMD",
	516: "ERESTART_RESTARTBLOCK",
	517: "EPROBE_DEFER",
	518: "EOPENSTALE",
	519: "ENOPARAM",
	521: "EBADHANDLE",
	522: "ENOTSYNC",
	523: "EBADCOOKIE",
	524: "ENOTSUPP",
	525: "ETOOSMALL",
	526: "ESERVERFAULT",
	527: "EBADTYPE",
	528: "EJUKEBOX",
	529: "EIOCBQUEUED",
	530: "ERECALLCONFLICT",
}

// errnoNames holds the name of every errno from 0 to maxErrno, built on
// first use so that ErrnoName allocates nothing afterwards.
var errnoNames = sync.OnceValue(func() []string {
	names := make([]string, maxErrno+1)
	for n := 1; n <= maxErrno; n++ {
		names[n] = lookupErrnoName(uint32(n))
	}
	return names
})

// ErrnoName returns the symbolic name of a Linux errno, such as "EAGAIN" for
// 11 or "ERESTARTSYS" for 512. It returns "errno_<n>" for a number with no
// name and "" for 0, which is no error.
func ErrnoName(errno uint32) string {
	if errno <= maxErrno {
		return errnoNames()[errno]
	}
	return lookupErrnoName(errno)
}

func lookupErrnoName(errno uint32) string {
	if errno == 0 {
		return ""
	}
	if name, ok := kernelErrnoNames[errno]; ok {
		return name
	}
	if name := unix.ErrnoName(syscall.Errno(errno)); name != "" {
		return name
	}
	return "errno_" + strconv.FormatUint(uint64(errno), 10)
}

// errnoOfResult returns the errno of a failed call's return value.
func errnoOfResult(result int64) uint32 {
	if result >= 0 {
		return 0
	}
	if result < -math.MaxUint32 {
		// No system call returns this, so clamp rather than wrap around.
		return math.MaxUint32
	}
	return uint32(-result)
}
