// Package bpf loads the sendfile tracing programs into the kernel, attaches
// them in one of three modes and reads what they record.
package bpf

//go:generate go tool bpf2go -tags linux -target amd64,arm64 -type event -type user_key -type user_totals -type counter -type abi -type event_flag -type syscall_nr -type out_kind -type path_flag -cflags "-O2 -g -Wall -Werror -fdebug-compilation-dir=." sendfile sendfile.bpf.c
