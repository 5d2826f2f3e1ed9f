package semconv

import "go.opentelemetry.io/otel/attribute"

// Project attributes that qualify file.path and sendfile.out.path.
const (
	// SendfileFilePathTruncatedKey is the "sendfile.file.path_truncated"
	// key: true when the kernel's walk of the source path stopped before the
	// root, so file.path holds only its last components, without a leading "/".
	//
	// Type: boolean
	SendfileFilePathTruncatedKey = attribute.Key("sendfile.file.path_truncated")

	// SendfileFileDeletedKey is the "sendfile.file.deleted" key: true when
	// the source file had been unlinked while open.
	//
	// Type: boolean
	SendfileFileDeletedKey = attribute.Key("sendfile.file.deleted")

	// SendfileFileDeviceKey is the "sendfile.file.device" key: the device of
	// the source file as "major:minor".
	//
	// Type: string
	// Examples: "259:1"
	SendfileFileDeviceKey = attribute.Key("sendfile.file.device")

	// SendfileOutPathTruncatedKey is the "sendfile.out.path_truncated" key:
	// the sendfile.file.path_truncated of the destination path.
	//
	// Type: boolean
	SendfileOutPathTruncatedKey = attribute.Key("sendfile.out.path_truncated")

	// SendfileOutDeletedKey is the "sendfile.out.deleted" key: true when the
	// destination file had been unlinked while open.
	//
	// Type: boolean
	SendfileOutDeletedKey = attribute.Key("sendfile.out.deleted")
)

// Values of SendfileOutKindKey.
var (
	SendfileOutKindSocket     = SendfileOutKindKey.String("socket")
	SendfileOutKindPipe       = SendfileOutKindKey.String("pipe")
	SendfileOutKindFile       = SendfileOutKindKey.String("file")
	SendfileOutKindCharDevice = SendfileOutKindKey.String("char_device")
	SendfileOutKindOther      = SendfileOutKindKey.String("other")
)
