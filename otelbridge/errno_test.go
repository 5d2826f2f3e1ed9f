//go:build linux

package otelbridge

import (
	"math"
	"testing"
)

func TestErrnoName(t *testing.T) {
	tests := []struct {
		errno uint32
		want  string
	}{
		{0, ""},
		{1, "EPERM"},
		{9, "EBADF"},
		{11, "EAGAIN"},
		{14, "EFAULT"},
		{22, "EINVAL"},
		{29, "ESPIPE"},
		{32, "EPIPE"},
		{75, "EOVERFLOW"},
		{104, "ECONNRESET"},
		{512, "ERESTARTSYS"},
		{513, "ERESTARTNOINTR"},
		{514, "ERESTARTNOHAND"},
		{515, "ENOIOCTLCMD"},
		{516, "ERESTART_RESTARTBLOCK"},
		{524, "ENOTSUPP"},
		{520, "errno_520"},
		{600, "errno_600"},
		{4095, "errno_4095"},
		{4096, "errno_4096"},
		{math.MaxUint32, "errno_4294967295"},
	}
	for _, tt := range tests {
		if got := ErrnoName(tt.errno); got != tt.want {
			t.Errorf("ErrnoName(%d) = %q, want %q", tt.errno, got, tt.want)
		}
	}
}

func TestErrnoNameAllocatesNothing(t *testing.T) {
	ErrnoName(11) // builds the table
	allocs := testing.AllocsPerRun(100, func() {
		_ = ErrnoName(11)
		_ = ErrnoName(512)
		_ = ErrnoName(600)
	})
	if allocs != 0 {
		t.Errorf("ErrnoName allocated %v times per run, want 0", allocs)
	}
}

func TestErrnoOfResult(t *testing.T) {
	tests := []struct {
		result int64
		want   uint32
	}{
		{0, 0},
		{4096, 0},
		{-11, 11},
		{-512, 512},
		{-4095, 4095},
		{math.MinInt64, math.MaxUint32},
	}
	for _, tt := range tests {
		if got := errnoOfResult(tt.result); got != tt.want {
			t.Errorf("errnoOfResult(%d) = %d, want %d", tt.result, got, tt.want)
		}
	}
}
