package jaegertest

import "syscall"

// sysProcAttr makes the kernel kill Jaeger when the test process dies
// without running its cleanups, for example on a panic in another goroutine.
//
// NOTE: Linux sends the signal when the OS thread that started the child
// exits, not the process. The Go runtime keeps its threads alive unless a
// goroutine exits while locked to one, so this holds in practice.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
