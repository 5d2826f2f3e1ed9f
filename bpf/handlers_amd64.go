//go:build linux

package bpf

// handlers lists the syscall handlers traced on x86_64. The i386 ones exist
// only in kernels built with CONFIG_IA32_EMULATION.
var handlers = []handler{
	{
		symbol:   "__x64_sys_sendfile64",
		kprobe:   sendfileProgKprobeX64Sendfile64,
		fentry:   sendfileProgFentryX64Sendfile64,
		required: true,
	},
	{
		symbol: "__ia32_sys_sendfile64",
		kprobe: sendfileProgKprobeIa32Sendfile64,
		fentry: sendfileProgFentryIa32Sendfile64,
		compat: true,
	},
	{
		symbol: "__ia32_compat_sys_sendfile",
		kprobe: sendfileProgKprobeIa32CompatSendfile,
		fentry: sendfileProgFentryIa32CompatSendfile,
		compat: true,
	},
}

// Programs that catch compat calls in tracepoint mode, where the
// syscalls:sys_*_sendfile64 tracepoints do not fire for them: BTF
// tracepoints where the kernel accepts them, raw tracepoints otherwise.
const (
	btfCompatEnterProgram = sendfileProgBtfCompatEnter
	btfCompatExitProgram  = sendfileProgBtfCompatExit
	rawCompatEnterProgram = sendfileProgRawTpCompatEnter
	rawCompatExitProgram  = sendfileProgRawTpCompatExit
)
