package semconv

import (
	"testing"

	"go.opentelemetry.io/otel/attribute"
)

func TestConstructors(t *testing.T) {
	tests := []struct {
		name string
		got  attribute.KeyValue
		key  string
		want attribute.Value
	}{
		{"out fd", SendfileOutFd(7), "sendfile.out_fd", attribute.Int64Value(7)},
		{"in fd", SendfileInFd(-1), "sendfile.in_fd", attribute.Int64Value(-1)},
		{"count", SendfileCount(1 << 40), "sendfile.count", attribute.Int64Value(1 << 40)},
		{"result", SendfileResult(-11), "sendfile.result", attribute.Int64Value(-11)},
		{"offset pointer", SendfileOffsetPointer(0x7ffc0000), "sendfile.offset.pointer", attribute.Int64Value(0x7ffc0000)},
		{"offset start", SendfileOffsetStart(4096), "sendfile.offset.start", attribute.Int64Value(4096)},
		{"offset end", SendfileOffsetEnd(8192), "sendfile.offset.end", attribute.Int64Value(8192)},
		{"offset unreadable", SendfileOffsetUnreadable(true), "sendfile.offset.unreadable", attribute.BoolValue(true)},
		{"offset changed", SendfileOffsetChanged(true), "sendfile.offset.changed", attribute.BoolValue(true)},
		{"abi", SendfileABI("i386"), "sendfile.abi", attribute.StringValue("i386")},
		{"abi x86_64 value", SendfileABIX8664, "sendfile.abi", attribute.StringValue("x86_64")},
		{"abi i386 value", SendfileABII386, "sendfile.abi", attribute.StringValue("i386")},
		{"abi arm64 value", SendfileABIARM64, "sendfile.abi", attribute.StringValue("arm64")},
		{"probe", SendfileProbe("kprobe"), "sendfile.probe", attribute.StringValue("kprobe")},
		{"probe fentry value", SendfileProbeFentry, "sendfile.probe", attribute.StringValue("fentry")},
		{"probe kprobe value", SendfileProbeKprobe, "sendfile.probe", attribute.StringValue("kprobe")},
		{"probe tracepoint value", SendfileProbeTracepoint, "sendfile.probe", attribute.StringValue("tracepoint")},
		{"out kind", SendfileOutKind("socket"), "sendfile.out.kind", attribute.StringValue("socket")},
		{"out path", SendfileOutPath("/tmp/x"), "sendfile.out.path", attribute.StringValue("/tmp/x")},
		{"reason", Reason(ReasonKprobeMissed), "reason", attribute.StringValue("kprobe_missed")},
		{"process pid", ProcessPID(4242), "process.pid", attribute.Int64Value(4242)},
		{"thread id", ThreadID(4243), "thread.id", attribute.Int64Value(4243)},
		{"thread name", ThreadName("nginx"), "thread.name", attribute.StringValue("nginx")},
		{"real user id", ProcessRealUserID(1000), "process.real_user.id", attribute.Int64Value(1000)},
		{"real user name", ProcessRealUserName("alice"), "process.real_user.name", attribute.StringValue("alice")},
		{"executable name", ProcessExecutableName("nginx"), "process.executable.name", attribute.StringValue("nginx")},
		{"executable path", ProcessExecutablePath("/usr/sbin/nginx"), "process.executable.path", attribute.StringValue("/usr/sbin/nginx")},
		{"error type", ErrorType("EAGAIN"), "error.type", attribute.StringValue("EAGAIN")},
		{"container id", ContainerID("abc123"), "container.id", attribute.StringValue("abc123")},
		{"file path", FilePath("/srv/a.iso"), "file.path", attribute.StringValue("/srv/a.iso")},
		{"file inode", FileInode("1234567"), "file.inode", attribute.StringValue("1234567")},
		{"peer address", NetworkPeerAddress("192.0.2.1"), "network.peer.address", attribute.StringValue("192.0.2.1")},
		{"peer port", NetworkPeerPort(443), "network.peer.port", attribute.Int64Value(443)},
		{"local address", NetworkLocalAddress("::1"), "network.local.address", attribute.StringValue("::1")},
		{"local port", NetworkLocalPort(8080), "network.local.port", attribute.Int64Value(8080)},
		{"transport tcp", NetworkTransportTCP, "network.transport", attribute.StringValue("tcp")},
		{"transport udp", NetworkTransportUDP, "network.transport", attribute.StringValue("udp")},
		{"transport unix", NetworkTransportUnix, "network.transport", attribute.StringValue("unix")},
		{"transport pipe", NetworkTransportPipe, "network.transport", attribute.StringValue("pipe")},
		{"type ipv4", NetworkTypeIPv4, "network.type", attribute.StringValue("ipv4")},
		{"type ipv6", NetworkTypeIPv6, "network.type", attribute.StringValue("ipv6")},
		{"service name", ServiceName("sendfile-otel"), "service.name", attribute.StringValue("sendfile-otel")},
		{"service version", ServiceVersion("0.1.0"), "service.version", attribute.StringValue("0.1.0")},
		{"service namespace", ServiceNamespace("observability"), "service.namespace", attribute.StringValue("observability")},
		{"service instance", ServiceInstanceID("node-1"), "service.instance.id", attribute.StringValue("node-1")},
		{"host name", HostName("node-1"), "host.name", attribute.StringValue("node-1")},
		{"host id", HostID("f00d"), "host.id", attribute.StringValue("f00d")},
		{"host arch amd64", HostArchAMD64, "host.arch", attribute.StringValue("amd64")},
		{"host arch arm64", HostArchARM64, "host.arch", attribute.StringValue("arm64")},
		{"os linux", OSTypeLinux, "os.type", attribute.StringValue("linux")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if string(tt.got.Key) != tt.key {
				t.Errorf("key = %q, want %q", tt.got.Key, tt.key)
			}
			if tt.got.Value.Type() != tt.want.Type() {
				t.Errorf("type = %s, want %s", tt.got.Value.Type(), tt.want.Type())
			}
			if tt.got.Value.AsInterface() != tt.want.AsInterface() {
				t.Errorf("value = %s, want %s", tt.got.Value.Emit(), tt.want.Emit())
			}
		})
	}
}

func TestKeys(t *testing.T) {
	tests := []struct {
		key  attribute.Key
		want string
	}{
		{SendfileOutFdKey, "sendfile.out_fd"},
		{SendfileInFdKey, "sendfile.in_fd"},
		{SendfileCountKey, "sendfile.count"},
		{SendfileResultKey, "sendfile.result"},
		{SendfileOffsetPointerKey, "sendfile.offset.pointer"},
		{SendfileOffsetStartKey, "sendfile.offset.start"},
		{SendfileOffsetEndKey, "sendfile.offset.end"},
		{SendfileOffsetUnreadableKey, "sendfile.offset.unreadable"},
		{SendfileOffsetChangedKey, "sendfile.offset.changed"},
		{SendfileABIKey, "sendfile.abi"},
		{SendfileProbeKey, "sendfile.probe"},
		{SendfileOutKindKey, "sendfile.out.kind"},
		{SendfileOutPathKey, "sendfile.out.path"},
		{ReasonKey, "reason"},
		{ProcessPIDKey, "process.pid"},
		{ThreadIDKey, "thread.id"},
		{ThreadNameKey, "thread.name"},
		{ProcessRealUserIDKey, "process.real_user.id"},
		{ProcessRealUserNameKey, "process.real_user.name"},
		{ProcessExecutableNameKey, "process.executable.name"},
		{ProcessExecutablePathKey, "process.executable.path"},
		{ErrorTypeKey, "error.type"},
		{ContainerIDKey, "container.id"},
		{FilePathKey, "file.path"},
		{FileInodeKey, "file.inode"},
		{NetworkTransportKey, "network.transport"},
		{NetworkTypeKey, "network.type"},
		{NetworkPeerAddressKey, "network.peer.address"},
		{NetworkPeerPortKey, "network.peer.port"},
		{NetworkLocalAddressKey, "network.local.address"},
		{NetworkLocalPortKey, "network.local.port"},
		{ServiceNameKey, "service.name"},
		{ServiceVersionKey, "service.version"},
		{ServiceNamespaceKey, "service.namespace"},
		{ServiceInstanceIDKey, "service.instance.id"},
		{HostNameKey, "host.name"},
		{HostIDKey, "host.id"},
		{HostArchKey, "host.arch"},
		{OSTypeKey, "os.type"},
	}
	for _, tt := range tests {
		if string(tt.key) != tt.want {
			t.Errorf("key %q, want %q", tt.key, tt.want)
		}
	}
}

func TestNamesAndUnits(t *testing.T) {
	tests := []struct {
		name, got, want string
	}{
		{"span sendfile", SpanSendfile, "sendfile"},
		{"span sendfile32", SpanSendfile32, "sendfile32"},
		{"metric io", MetricIO, "sendfile.io"},
		{"metric calls", MetricCalls, "sendfile.calls"},
		{"metric duration", MetricDuration, "sendfile.duration"},
		{"metric lost", MetricEventsLost, "sendfile_otel.events.lost"},
		{"metric exported", MetricEventsExported, "sendfile_otel.events.exported"},
		{"unit bytes", UnitBytes, "By"},
		{"unit calls", UnitCalls, "{call}"},
		{"unit seconds", UnitSeconds, "s"},
		{"unit events", UnitEvents, "{event}"},
		{"reason ring buffer", ReasonRingBufferFull, "ring_buffer_full"},
		{"reason orphan", ReasonOrphanExit, "orphan_exit"},
		{"reason inflight", ReasonInflightFailed, "inflight_failed"},
		{"reason kprobe", ReasonKprobeMissed, "kprobe_missed"},
		{"reason read", ReasonReadError, "read_error"},
		{"reason export", ReasonExportFailed, "export_failed"},
		{"reason totals", ReasonTotalsFull, "totals_full"},
		{"schema", SchemaURL, "https://opentelemetry.io/schemas/1.43.0"},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("%s = %q, want %q", tt.name, tt.got, tt.want)
		}
	}
}
