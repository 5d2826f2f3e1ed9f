package semconv

import "go.opentelemetry.io/otel/attribute"

// Span attributes of one sendfile call.
const (
	// SendfileOutFdKey is the "sendfile.out_fd" key: the output file
	// descriptor argument.
	//
	// Type: int
	SendfileOutFdKey = attribute.Key("sendfile.out_fd")

	// SendfileInFdKey is the "sendfile.in_fd" key: the input file descriptor
	// argument.
	//
	// Type: int
	SendfileInFdKey = attribute.Key("sendfile.in_fd")

	// SendfileCountKey is the "sendfile.count" key: the number of bytes the
	// caller asked to copy.
	//
	// Type: int
	SendfileCountKey = attribute.Key("sendfile.count")

	// SendfileResultKey is the "sendfile.result" key: the return value, the
	// number of bytes copied or a negative errno.
	//
	// Type: int
	SendfileResultKey = attribute.Key("sendfile.result")

	// SendfileOffsetPointerKey is the "sendfile.offset.pointer" key: the
	// user-space address of the offset argument as an int64 bit pattern, 0
	// for NULL.
	//
	// Type: int
	SendfileOffsetPointerKey = attribute.Key("sendfile.offset.pointer")

	// SendfileOffsetStartKey is the "sendfile.offset.start" key: the value
	// behind the offset pointer when the call entered. It is absent when the
	// pointer is NULL or the read failed.
	//
	// Type: int
	SendfileOffsetStartKey = attribute.Key("sendfile.offset.start")

	// SendfileOffsetEndKey is the "sendfile.offset.end" key: the value behind
	// the offset pointer when the call returned. It is absent when the
	// pointer is NULL or the read failed.
	//
	// Type: int
	SendfileOffsetEndKey = attribute.Key("sendfile.offset.end")

	// SendfileOffsetUnreadableKey is the "sendfile.offset.unreadable" key:
	// true when the offset pointer is not NULL but reading it at enter or at
	// exit failed. It is absent otherwise.
	//
	// Type: boolean
	SendfileOffsetUnreadableKey = attribute.Key("sendfile.offset.unreadable")

	// SendfileOffsetChangedKey is the "sendfile.offset.changed" key: true
	// when a successful call moved the offset by something other than its
	// result, that is end != start + result with both reads successful. It
	// is absent otherwise.
	//
	// Type: boolean
	SendfileOffsetChangedKey = attribute.Key("sendfile.offset.changed")

	// SendfileABIKey is the "sendfile.abi" key: the system call ABI of the
	// caller.
	//
	// Type: string
	// Values: "x86_64", "i386", "arm64"
	SendfileABIKey = attribute.Key("sendfile.abi")

	// SendfileOutKindKey is the "sendfile.out.kind" key: the kind of file
	// behind the output descriptor.
	//
	// Type: string
	// Examples: "socket", "file", "pipe"
	SendfileOutKindKey = attribute.Key("sendfile.out.kind")

	// SendfileOutPathKey is the "sendfile.out.path" key: the path of the
	// output file when it has one.
	//
	// Type: string
	// Examples: "/var/cache/nginx/copy.tmp"
	SendfileOutPathKey = attribute.Key("sendfile.out.path")
)

// Values of SendfileABIKey.
var (
	// SendfileABIX8664 is the native x86_64 system call ABI.
	SendfileABIX8664 = SendfileABIKey.String("x86_64")
	// SendfileABII386 is the i386 ABI: a 32-bit task on an x86_64 kernel.
	SendfileABII386 = SendfileABIKey.String("i386")
	// SendfileABIARM64 is the native arm64 system call ABI.
	SendfileABIARM64 = SendfileABIKey.String("arm64")
)

// SendfileOutFd returns a "sendfile.out_fd" attribute.
func SendfileOutFd(val int) attribute.KeyValue { return SendfileOutFdKey.Int(val) }

// SendfileInFd returns a "sendfile.in_fd" attribute.
func SendfileInFd(val int) attribute.KeyValue { return SendfileInFdKey.Int(val) }

// SendfileCount returns a "sendfile.count" attribute.
func SendfileCount(val int64) attribute.KeyValue { return SendfileCountKey.Int64(val) }

// SendfileResult returns a "sendfile.result" attribute.
func SendfileResult(val int64) attribute.KeyValue { return SendfileResultKey.Int64(val) }

// SendfileOffsetPointer returns a "sendfile.offset.pointer" attribute.
func SendfileOffsetPointer(val int64) attribute.KeyValue {
	return SendfileOffsetPointerKey.Int64(val)
}

// SendfileOffsetStart returns a "sendfile.offset.start" attribute.
func SendfileOffsetStart(val int64) attribute.KeyValue {
	return SendfileOffsetStartKey.Int64(val)
}

// SendfileOffsetEnd returns a "sendfile.offset.end" attribute.
func SendfileOffsetEnd(val int64) attribute.KeyValue { return SendfileOffsetEndKey.Int64(val) }

// SendfileOffsetUnreadable returns a "sendfile.offset.unreadable" attribute.
func SendfileOffsetUnreadable(val bool) attribute.KeyValue {
	return SendfileOffsetUnreadableKey.Bool(val)
}

// SendfileOffsetChanged returns a "sendfile.offset.changed" attribute.
func SendfileOffsetChanged(val bool) attribute.KeyValue {
	return SendfileOffsetChangedKey.Bool(val)
}

// SendfileABI returns a "sendfile.abi" attribute.
func SendfileABI(val string) attribute.KeyValue { return SendfileABIKey.String(val) }

// SendfileOutKind returns a "sendfile.out.kind" attribute.
func SendfileOutKind(val string) attribute.KeyValue { return SendfileOutKindKey.String(val) }

// SendfileOutPath returns a "sendfile.out.path" attribute.
func SendfileOutPath(val string) attribute.KeyValue { return SendfileOutPathKey.String(val) }

// Resource attributes of the agent.
const (
	// SendfileProbeKey is the "sendfile.probe" resource key: the attach mode
	// the agent runs with.
	//
	// Type: string
	// Values: "fentry", "kprobe", "tracepoint"
	SendfileProbeKey = attribute.Key("sendfile.probe")
)

// Values of SendfileProbeKey.
var (
	// SendfileProbeFentry is the fentry/fexit attach mode.
	SendfileProbeFentry = SendfileProbeKey.String("fentry")
	// SendfileProbeKprobe is the kprobe/kretprobe attach mode.
	SendfileProbeKprobe = SendfileProbeKey.String("kprobe")
	// SendfileProbeTracepoint is the tracepoint attach mode.
	SendfileProbeTracepoint = SendfileProbeKey.String("tracepoint")
)

// SendfileProbe returns a "sendfile.probe" attribute.
func SendfileProbe(val string) attribute.KeyValue { return SendfileProbeKey.String(val) }
