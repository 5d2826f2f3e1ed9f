//go:build linux

package otelbridge

import (
	"math"

	"go.opentelemetry.io/otel/attribute"

	"github.com/sendfile-otel/sendfile-otel/bpf"
	"github.com/sendfile-otel/sendfile-otel/semconv"
)

// appendSpanAttributes appends the span attributes of ev to dst. It
// allocates only when dst is too small or a task name is new to the cache.
func (b *Bridge) appendSpanAttributes(dst []attribute.KeyValue, ev *bpf.Event, userName string, named bool) []attribute.KeyValue {
	dst = append(dst,
		semconv.SendfileOutFd(int(ev.OutFd)),
		semconv.SendfileInFd(int(ev.InFd)),
		semconv.SendfileCount(clampToInt64(ev.Count)),
		semconv.SendfileResult(ev.Result),
		semconv.SendfileOffsetPointer(int64(ev.OffsetPtr)),
	)
	dst = appendOffsetAttributes(dst, ev)
	dst = append(dst,
		semconv.SendfileABI(ev.ABIName()),
		semconv.ProcessPID(int(ev.Tgid)),
		semconv.ThreadID(int(ev.Tid)),
		semconv.ThreadName(b.commString(ev)),
		semconv.ProcessRealUserID(int(ev.Uid)),
	)
	if named {
		dst = append(dst, semconv.ProcessRealUserName(userName))
	}
	if ev.Result < 0 {
		dst = append(dst, semconv.ErrorType(ErrnoName(errnoOfResult(ev.Result))))
	}
	return dst
}

// appendOffsetAttributes appends the attributes derived from the offset
// argument. A NULL pointer adds none.
func appendOffsetAttributes(dst []attribute.KeyValue, ev *bpf.Event) []attribute.KeyValue {
	if ev.OffsetPtr == 0 {
		return dst
	}
	startRead := ev.Flags&bpf.FlagOffsetStartUnreadable == 0
	endRead := ev.Flags&bpf.FlagOffsetEndUnreadable == 0
	if startRead {
		dst = append(dst, semconv.SendfileOffsetStart(ev.OffsetStart))
	}
	if endRead {
		dst = append(dst, semconv.SendfileOffsetEnd(ev.OffsetEnd))
	}
	if !startRead || !endRead {
		dst = append(dst, semconv.SendfileOffsetUnreadable(true))
	}
	// On success the kernel advances the offset by exactly the bytes
	// copied, so any other end value means someone else moved it.
	if startRead && endRead && ev.Result >= 0 && ev.OffsetEnd != ev.OffsetStart+ev.Result {
		dst = append(dst, semconv.SendfileOffsetChanged(true))
	}
	return dst
}

// commString returns the task name of ev as a string, cached so that a
// name seen before costs no allocation.
func (b *Bridge) commString(ev *bpf.Event) string {
	if s, ok := b.comms[ev.Comm]; ok {
		return s
	}
	if len(b.comms) >= maxCachedEntries {
		clear(b.comms)
	}
	s := string(ev.CommBytes())
	b.comms[ev.Comm] = s
	return s
}

// userAttributeSet returns the metric attributes of a user: the uid, the
// name when named, and error.type when errno is not 0.
func userAttributeSet(uid uint32, name string, named bool, errno uint32) attribute.Set {
	attrs := make([]attribute.KeyValue, 0, 3)
	attrs = append(attrs, semconv.ProcessRealUserID(int(uid)))
	if named {
		attrs = append(attrs, semconv.ProcessRealUserName(name))
	}
	if errno != 0 {
		attrs = append(attrs, semconv.ErrorType(ErrnoName(errno)))
	}
	return attribute.NewSet(attrs...)
}

// clampToInt64 converts v to int64, clamping values past math.MaxInt64.
// Only an unchecked size_t argument such as sendfile's count can get there.
func clampToInt64(v uint64) int64 {
	if v > math.MaxInt64 {
		return math.MaxInt64
	}
	return int64(v)
}
