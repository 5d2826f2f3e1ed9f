//go:build !linux

package jaegertest

import "syscall"

// sysProcAttr returns nil: only Linux can tie the child's life to the
// test process, so elsewhere Jaeger outlives a test process that crashes.
func sysProcAttr() *syscall.SysProcAttr {
	return nil
}
