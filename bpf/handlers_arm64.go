//go:build linux

package bpf

// handlers lists the syscall handlers traced on arm64. AArch32 compat calls
// are not traced.
var handlers = []handler{
	{
		symbol:   "__arm64_sys_sendfile64",
		kprobe:   sendfileProgKprobeArm64Sendfile64,
		fentry:   sendfileProgFentryArm64Sendfile64,
		required: true,
	},
}

// arm64 has no compat programs in tracepoint mode.
const (
	btfCompatEnterProgram = ""
	btfCompatExitProgram  = ""
	rawCompatEnterProgram = ""
	rawCompatExitProgram  = ""
)
