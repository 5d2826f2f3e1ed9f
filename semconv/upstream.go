package semconv

import (
	"go.opentelemetry.io/otel/attribute"
	upstream "go.opentelemetry.io/otel/semconv/v1.43.0"
)

// SchemaURL is the schema URL of the semantic conventions version that the
// re-exported keys come from. Give it to resources, tracers and meters that
// carry these attributes.
const SchemaURL = upstream.SchemaURL

// Process and thread attributes.
const (
	// ProcessPIDKey is the "process.pid" key: the thread group id (TGID) of
	// the calling process.
	ProcessPIDKey = upstream.ProcessPIDKey

	// ThreadIDKey is the "thread.id" key: the kernel thread id (TID) of the
	// calling thread.
	ThreadIDKey = upstream.ThreadIDKey

	// ThreadNameKey is the "thread.name" key: the kernel task name (comm) of
	// the calling thread, at most 15 bytes.
	ThreadNameKey = upstream.ThreadNameKey

	// ProcessRealUserIDKey is the "process.real_user.id" key: the real user
	// id of the caller in the initial user namespace.
	ProcessRealUserIDKey = upstream.ProcessRealUserIDKey

	// ProcessRealUserNameKey is the "process.real_user.name" key: the user
	// name of ProcessRealUserIDKey in the host's passwd file.
	ProcessRealUserNameKey = upstream.ProcessRealUserNameKey

	// ProcessExecutableNameKey is the "process.executable.name" key: the
	// file name of the process executable.
	ProcessExecutableNameKey = upstream.ProcessExecutableNameKey

	// ProcessExecutablePathKey is the "process.executable.path" key: the
	// full path of the process executable.
	ProcessExecutablePathKey = upstream.ProcessExecutablePathKey
)

// ProcessPID returns a "process.pid" attribute.
func ProcessPID(val int) attribute.KeyValue { return upstream.ProcessPID(val) }

// ThreadID returns a "thread.id" attribute.
func ThreadID(val int) attribute.KeyValue { return upstream.ThreadID(val) }

// ThreadName returns a "thread.name" attribute.
func ThreadName(val string) attribute.KeyValue { return upstream.ThreadName(val) }

// ProcessRealUserID returns a "process.real_user.id" attribute.
func ProcessRealUserID(val int) attribute.KeyValue { return upstream.ProcessRealUserID(val) }

// ProcessRealUserName returns a "process.real_user.name" attribute.
func ProcessRealUserName(val string) attribute.KeyValue {
	return upstream.ProcessRealUserName(val)
}

// ProcessExecutableName returns a "process.executable.name" attribute.
func ProcessExecutableName(val string) attribute.KeyValue {
	return upstream.ProcessExecutableName(val)
}

// ProcessExecutablePath returns a "process.executable.path" attribute.
func ProcessExecutablePath(val string) attribute.KeyValue {
	return upstream.ProcessExecutablePath(val)
}

// Error attributes.
const (
	// ErrorTypeKey is the "error.type" key: for a failed call, the errno
	// name such as "EAGAIN".
	ErrorTypeKey = upstream.ErrorTypeKey
)

// ErrorType returns an "error.type" attribute with the given name. Unlike
// the upstream constructor it takes the name itself, not an error value.
func ErrorType(val string) attribute.KeyValue { return ErrorTypeKey.String(val) }

// Container attributes.
const (
	// ContainerIDKey is the "container.id" key: the id of the container the
	// caller runs in, as the container runtime names it.
	ContainerIDKey = upstream.ContainerIDKey
)

// ContainerID returns a "container.id" attribute.
func ContainerID(val string) attribute.KeyValue { return upstream.ContainerID(val) }

// File attributes of the input file of a call.
const (
	// FilePathKey is the "file.path" key: the path of the input file.
	FilePathKey = upstream.FilePathKey

	// FileInodeKey is the "file.inode" key: the inode number of the input
	// file. The convention types it as a string.
	FileInodeKey = upstream.FileInodeKey
)

// FilePath returns a "file.path" attribute.
func FilePath(val string) attribute.KeyValue { return upstream.FilePath(val) }

// FileInode returns a "file.inode" attribute holding the decimal inode number.
func FileInode(val string) attribute.KeyValue { return upstream.FileInode(val) }

// Network attributes of an output socket.
const (
	// NetworkTransportKey is the "network.transport" key: "tcp", "udp" or
	// "unix" for a socket.
	NetworkTransportKey = upstream.NetworkTransportKey

	// NetworkTypeKey is the "network.type" key: "ipv4" or "ipv6".
	NetworkTypeKey = upstream.NetworkTypeKey

	// NetworkPeerAddressKey is the "network.peer.address" key: the remote
	// address of the socket.
	NetworkPeerAddressKey = upstream.NetworkPeerAddressKey

	// NetworkPeerPortKey is the "network.peer.port" key: the remote port of
	// the socket.
	NetworkPeerPortKey = upstream.NetworkPeerPortKey

	// NetworkLocalAddressKey is the "network.local.address" key: the local
	// address of the socket.
	NetworkLocalAddressKey = upstream.NetworkLocalAddressKey

	// NetworkLocalPortKey is the "network.local.port" key: the local port of
	// the socket.
	NetworkLocalPortKey = upstream.NetworkLocalPortKey
)

// Values of NetworkTransportKey and NetworkTypeKey.
var (
	// NetworkTransportTCP is a TCP socket.
	NetworkTransportTCP = upstream.NetworkTransportTCP
	// NetworkTransportUDP is a UDP socket.
	NetworkTransportUDP = upstream.NetworkTransportUDP
	// NetworkTransportUnix is a Unix domain socket.
	NetworkTransportUnix = upstream.NetworkTransportUnix
	// NetworkTransportPipe is a pipe.
	NetworkTransportPipe = upstream.NetworkTransportPipe
	// NetworkTypeIPv4 is an IPv4 socket.
	NetworkTypeIPv4 = upstream.NetworkTypeIPv4
	// NetworkTypeIPv6 is an IPv6 socket.
	NetworkTypeIPv6 = upstream.NetworkTypeIPv6
)

// NetworkPeerAddress returns a "network.peer.address" attribute.
func NetworkPeerAddress(val string) attribute.KeyValue {
	return upstream.NetworkPeerAddress(val)
}

// NetworkPeerPort returns a "network.peer.port" attribute.
func NetworkPeerPort(val int) attribute.KeyValue { return upstream.NetworkPeerPort(val) }

// NetworkLocalAddress returns a "network.local.address" attribute.
func NetworkLocalAddress(val string) attribute.KeyValue {
	return upstream.NetworkLocalAddress(val)
}

// NetworkLocalPort returns a "network.local.port" attribute.
func NetworkLocalPort(val int) attribute.KeyValue { return upstream.NetworkLocalPort(val) }

// Resource attributes of the agent itself.
const (
	// ServiceNameKey is the "service.name" key.
	ServiceNameKey = upstream.ServiceNameKey
	// ServiceVersionKey is the "service.version" key.
	ServiceVersionKey = upstream.ServiceVersionKey
	// ServiceNamespaceKey is the "service.namespace" key.
	ServiceNamespaceKey = upstream.ServiceNamespaceKey
	// ServiceInstanceIDKey is the "service.instance.id" key.
	ServiceInstanceIDKey = upstream.ServiceInstanceIDKey
	// HostNameKey is the "host.name" key.
	HostNameKey = upstream.HostNameKey
	// HostIDKey is the "host.id" key: on Linux, the machine id.
	HostIDKey = upstream.HostIDKey
	// HostArchKey is the "host.arch" key.
	HostArchKey = upstream.HostArchKey
	// OSTypeKey is the "os.type" key.
	OSTypeKey = upstream.OSTypeKey
)

// Values of HostArchKey and OSTypeKey.
var (
	// HostArchAMD64 is the x86_64 architecture.
	HostArchAMD64 = upstream.HostArchAMD64
	// HostArchARM64 is the arm64 architecture.
	HostArchARM64 = upstream.HostArchARM64
	// OSTypeLinux is the Linux operating system.
	OSTypeLinux = upstream.OSTypeLinux
)

// ServiceName returns a "service.name" attribute.
func ServiceName(val string) attribute.KeyValue { return upstream.ServiceName(val) }

// ServiceVersion returns a "service.version" attribute.
func ServiceVersion(val string) attribute.KeyValue { return upstream.ServiceVersion(val) }

// ServiceNamespace returns a "service.namespace" attribute.
func ServiceNamespace(val string) attribute.KeyValue { return upstream.ServiceNamespace(val) }

// ServiceInstanceID returns a "service.instance.id" attribute.
func ServiceInstanceID(val string) attribute.KeyValue { return upstream.ServiceInstanceID(val) }

// HostName returns a "host.name" attribute.
func HostName(val string) attribute.KeyValue { return upstream.HostName(val) }

// HostID returns a "host.id" attribute.
func HostID(val string) attribute.KeyValue { return upstream.HostID(val) }
