//go:build linux

package otelbridge

import (
	"math"
	"path/filepath"
	"testing"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"github.com/sendfile-otel/sendfile-otel/bpf"
)

// Values of sendfile.h, written out so that the tests check them too.
const (
	abiX8664            = 1
	abiI386             = 2
	abiARM64            = 3
	nrX8664Sendfile     = 40
	nrI386Sendfile32    = 187
	nrI386Sendfile64    = 239
	nrARM64Sendfile     = 71
	flagStartUnreadable = 1 << 0
	flagEndUnreadable   = 1 << 1
	flag32BitOffset     = 1 << 2
)

const offsetPointer = 0x7ffc_1234_5678

// nativeEvent returns a successful x86_64 call of uid 1000 that copied
// 65536 bytes from offset 4096.
func nativeEvent() bpf.Event {
	return bpf.Event{
		Tid:         4243,
		Tgid:        4242,
		Uid:         1000,
		Gid:         1000,
		OutFd:       7,
		InFd:        5,
		Count:       65536,
		Result:      65536,
		OffsetPtr:   offsetPointer,
		OffsetStart: 4096,
		OffsetEnd:   4096 + 65536,
		Abi:         abiX8664,
		Nr:          nrX8664Sendfile,
		Comm:        commOf("nginx"),
		EnterNs:     testBootNs + 1_000,
		ExitNs:      testBootNs + 251_000,
		CgroupId:    0x1234,
	}
}

// nativeAttributes returns the span attributes of nativeEvent.
func nativeAttributes() map[attribute.Key]attribute.Value {
	return map[attribute.Key]attribute.Value{
		"sendfile.out_fd":         attribute.Int64Value(7),
		"sendfile.in_fd":          attribute.Int64Value(5),
		"sendfile.count":          attribute.Int64Value(65536),
		"sendfile.result":         attribute.Int64Value(65536),
		"sendfile.offset.pointer": attribute.Int64Value(offsetPointer),
		"sendfile.offset.start":   attribute.Int64Value(4096),
		"sendfile.offset.end":     attribute.Int64Value(69632),
		"sendfile.abi":            attribute.StringValue("x86_64"),
		"process.pid":             attribute.Int64Value(4242),
		"thread.id":               attribute.Int64Value(4243),
		"thread.name":             attribute.StringValue("nginx"),
		"process.real_user.id":    attribute.Int64Value(1000),
		"process.real_user.name":  attribute.StringValue("alice"),
	}
}

func testUsers(t testing.TB) *Users {
	t.Helper()
	path := filepath.Join(t.TempDir(), "passwd")
	writePasswd(t, path, "root:x:0:0::/root:/bin/sh\nalice:x:1000:1000::/home/alice:/bin/sh\n")
	return NewUsers(path, nil)
}

func checkAttributes(t *testing.T, span sdktrace.ReadOnlySpan, want map[attribute.Key]attribute.Value) {
	t.Helper()
	got := spanAttributes(span)
	for key, w := range want {
		g, ok := got[key]
		if !ok {
			t.Errorf("attribute %s missing, want %s", key, w.Emit())
			continue
		}
		if g.Type() != w.Type() || g.AsInterface() != w.AsInterface() {
			t.Errorf("attribute %s = %s (%s), want %s (%s)", key, g.Emit(), g.Type(), w.Emit(), w.Type())
		}
	}
	for key, g := range got {
		if _, ok := want[key]; !ok {
			t.Errorf("unexpected attribute %s = %s", key, g.Emit())
		}
	}
}

func TestHandleEventSpanAttributes(t *testing.T) {
	tests := []struct {
		name     string
		edit     func(ev *bpf.Event)
		wantName string
		wantEdit func(want map[attribute.Key]attribute.Value)
	}{
		{
			name:     "native x86_64 call",
			edit:     func(ev *bpf.Event) {},
			wantName: "sendfile",
			wantEdit: func(want map[attribute.Key]attribute.Value) {},
		},
		{
			name: "sendfile32 from an i386 task",
			edit: func(ev *bpf.Event) {
				ev.Abi, ev.Nr, ev.Flags = abiI386, nrI386Sendfile32, flag32BitOffset
				ev.OffsetPtr = 0xffd0_1000
			},
			wantName: "sendfile32",
			wantEdit: func(want map[attribute.Key]attribute.Value) {
				want["sendfile.abi"] = attribute.StringValue("i386")
				want["sendfile.offset.pointer"] = attribute.Int64Value(0xffd0_1000)
			},
		},
		{
			name:     "sendfile64 from an i386 task",
			edit:     func(ev *bpf.Event) { ev.Abi, ev.Nr = abiI386, nrI386Sendfile64 },
			wantName: "sendfile",
			wantEdit: func(want map[attribute.Key]attribute.Value) {
				want["sendfile.abi"] = attribute.StringValue("i386")
			},
		},
		{
			name:     "native arm64 call",
			edit:     func(ev *bpf.Event) { ev.Abi, ev.Nr = abiARM64, nrARM64Sendfile },
			wantName: "sendfile",
			wantEdit: func(want map[attribute.Key]attribute.Value) {
				want["sendfile.abi"] = attribute.StringValue("arm64")
			},
		},
		{
			name:     "NULL offset",
			edit:     func(ev *bpf.Event) { ev.OffsetPtr, ev.OffsetStart, ev.OffsetEnd = 0, 0, 0 },
			wantName: "sendfile",
			wantEdit: func(want map[attribute.Key]attribute.Value) {
				want["sendfile.offset.pointer"] = attribute.Int64Value(0)
				delete(want, "sendfile.offset.start")
				delete(want, "sendfile.offset.end")
			},
		},
		{
			name: "NULL offset with unreadable flags",
			edit: func(ev *bpf.Event) {
				ev.OffsetPtr = 0
				ev.Flags = flagStartUnreadable | flagEndUnreadable
			},
			wantName: "sendfile",
			wantEdit: func(want map[attribute.Key]attribute.Value) {
				want["sendfile.offset.pointer"] = attribute.Int64Value(0)
				delete(want, "sendfile.offset.start")
				delete(want, "sendfile.offset.end")
			},
		},
		{
			name:     "offset unreadable at enter",
			edit:     func(ev *bpf.Event) { ev.Flags, ev.OffsetStart = flagStartUnreadable, 0 },
			wantName: "sendfile",
			wantEdit: func(want map[attribute.Key]attribute.Value) {
				delete(want, "sendfile.offset.start")
				want["sendfile.offset.unreadable"] = attribute.BoolValue(true)
			},
		},
		{
			name:     "offset unreadable at exit",
			edit:     func(ev *bpf.Event) { ev.Flags, ev.OffsetEnd = flagEndUnreadable, 0 },
			wantName: "sendfile",
			wantEdit: func(want map[attribute.Key]attribute.Value) {
				delete(want, "sendfile.offset.end")
				want["sendfile.offset.unreadable"] = attribute.BoolValue(true)
			},
		},
		{
			name: "offset unreadable at enter and exit",
			edit: func(ev *bpf.Event) {
				ev.Flags = flagStartUnreadable | flagEndUnreadable
				ev.OffsetStart, ev.OffsetEnd = 0, 999
			},
			wantName: "sendfile",
			wantEdit: func(want map[attribute.Key]attribute.Value) {
				delete(want, "sendfile.offset.start")
				delete(want, "sendfile.offset.end")
				want["sendfile.offset.unreadable"] = attribute.BoolValue(true)
			},
		},
		{
			name:     "offset changed by someone else",
			edit:     func(ev *bpf.Event) { ev.OffsetEnd = 1 << 20 },
			wantName: "sendfile",
			wantEdit: func(want map[attribute.Key]attribute.Value) {
				want["sendfile.offset.end"] = attribute.Int64Value(1 << 20)
				want["sendfile.offset.changed"] = attribute.BoolValue(true)
			},
		},
		{
			name:     "short copy moves the offset by the result",
			edit:     func(ev *bpf.Event) { ev.Result, ev.OffsetEnd = 100, 4196 },
			wantName: "sendfile",
			wantEdit: func(want map[attribute.Key]attribute.Value) {
				want["sendfile.result"] = attribute.Int64Value(100)
				want["sendfile.offset.end"] = attribute.Int64Value(4196)
			},
		},
		{
			name:     "end of file copies nothing",
			edit:     func(ev *bpf.Event) { ev.Result, ev.OffsetEnd = 0, 4096 },
			wantName: "sendfile",
			wantEdit: func(want map[attribute.Key]attribute.Value) {
				want["sendfile.result"] = attribute.Int64Value(0)
				want["sendfile.offset.end"] = attribute.Int64Value(4096)
			},
		},
		{
			name:     "changed offset with an unreadable end is not reported as changed",
			edit:     func(ev *bpf.Event) { ev.Flags, ev.OffsetEnd = flagEndUnreadable, 1<<20 },
			wantName: "sendfile",
			wantEdit: func(want map[attribute.Key]attribute.Value) {
				delete(want, "sendfile.offset.end")
				want["sendfile.offset.unreadable"] = attribute.BoolValue(true)
			},
		},
		{
			name:     "failed call",
			edit:     func(ev *bpf.Event) { ev.Result, ev.OffsetEnd = -11, 4096 },
			wantName: "sendfile",
			wantEdit: func(want map[attribute.Key]attribute.Value) {
				want["sendfile.result"] = attribute.Int64Value(-11)
				want["sendfile.offset.end"] = attribute.Int64Value(4096)
				want["error.type"] = attribute.StringValue("EAGAIN")
			},
		},
		{
			name:     "user without a name",
			edit:     func(ev *bpf.Event) { ev.Uid = 2000 },
			wantName: "sendfile",
			wantEdit: func(want map[attribute.Key]attribute.Value) {
				want["process.real_user.id"] = attribute.Int64Value(2000)
				delete(want, "process.real_user.name")
			},
		},
		{
			name:     "task name of 15 bytes",
			edit:     func(ev *bpf.Event) { ev.Comm = commOf("abcdefghijklmno") },
			wantName: "sendfile",
			wantEdit: func(want map[attribute.Key]attribute.Value) {
				want["thread.name"] = attribute.StringValue("abcdefghijklmno")
			},
		},
		{
			name:     "count past the int64 range is clamped",
			edit:     func(ev *bpf.Event) { ev.Count = math.MaxUint64 },
			wantName: "sendfile",
			wantEdit: func(want map[attribute.Key]attribute.Value) {
				want["sendfile.count"] = attribute.Int64Value(math.MaxInt64)
			},
		},
		{
			name:     "negative descriptors",
			edit:     func(ev *bpf.Event) { ev.OutFd, ev.InFd, ev.Result = -1, -100, -9 },
			wantName: "sendfile",
			wantEdit: func(want map[attribute.Key]attribute.Value) {
				want["sendfile.out_fd"] = attribute.Int64Value(-1)
				want["sendfile.in_fd"] = attribute.Int64Value(-100)
				want["sendfile.result"] = attribute.Int64Value(-9)
				want["error.type"] = attribute.StringValue("EBADF")
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tb := newTestBridge(t, bridgeOptions{users: testUsers(t)})
			ev := nativeEvent()
			tt.edit(&ev)
			tb.HandleEvent(&ev)

			spans := tb.spans.GetSpans().Snapshots()
			if len(spans) != 1 {
				t.Fatalf("got %d spans, want 1", len(spans))
			}
			if got := spans[0].Name(); got != tt.wantName {
				t.Errorf("span name = %q, want %q", got, tt.wantName)
			}
			want := nativeAttributes()
			tt.wantEdit(want)
			checkAttributes(t, spans[0], want)
		})
	}
}

func TestHandleEventSpanShape(t *testing.T) {
	tb := newTestBridge(t, bridgeOptions{})
	first := nativeEvent()
	second := nativeEvent()
	second.EnterNs = testBootNs - 3_000_000_000 // before the anchor
	second.ExitNs = testBootNs - 2_000_000_001
	tb.HandleEvent(&first)
	tb.HandleEvent(&second)

	spans := tb.spans.GetSpans().Snapshots()
	if len(spans) != 2 {
		t.Fatalf("got %d spans, want 2", len(spans))
	}
	events := []bpf.Event{first, second}
	for i, span := range spans {
		if got := span.SpanKind(); got != trace.SpanKindInternal {
			t.Errorf("span %d kind = %v, want internal", i, got)
		}
		if span.Parent().IsValid() {
			t.Errorf("span %d has parent %v, want a root span", i, span.Parent())
		}
		if got := span.Status().Code; got != codes.Unset {
			t.Errorf("span %d status = %v, want unset for a successful call", i, got)
		}
		if got, want := span.StartTime(), expectedWall(events[i].EnterNs); !got.Equal(want) {
			t.Errorf("span %d start = %v, want %v", i, got, want)
		}
		if got, want := span.EndTime(), expectedWall(events[i].ExitNs); !got.Equal(want) {
			t.Errorf("span %d end = %v, want %v", i, got, want)
		}
		if got := span.InstrumentationScope().Name; got != "github.com/sendfile-otel/sendfile-otel/otelbridge" {
			t.Errorf("span %d scope = %q", i, got)
		}
	}
	if spans[0].SpanContext().TraceID() == spans[1].SpanContext().TraceID() {
		t.Error("both spans share a trace id, want a new trace per span")
	}
	if got, want := spans[1].EndTime().Sub(spans[1].StartTime()).Nanoseconds(), int64(999_999_999); got != want {
		t.Errorf("second span lasts %d ns, want %d", got, want)
	}
}

func TestHandleEventFailedCallStatus(t *testing.T) {
	tests := []struct {
		result int64
		want   string
	}{
		{-1, "EPERM"},
		{-4, "EINTR"},
		{-9, "EBADF"},
		{-11, "EAGAIN"},
		{-22, "EINVAL"},
		{-32, "EPIPE"},
		{-512, "ERESTARTSYS"},
		{-513, "ERESTARTNOINTR"},
		{-514, "ERESTARTNOHAND"},
		{-515, "ENOIOCTLCMD"},
		{-516, "ERESTART_RESTARTBLOCK"},
		{-777, "errno_777"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			tb := newTestBridge(t, bridgeOptions{})
			ev := nativeEvent()
			ev.Result = tt.result
			tb.HandleEvent(&ev)

			spans := tb.spans.GetSpans().Snapshots()
			if len(spans) != 1 {
				t.Fatalf("got %d spans, want 1", len(spans))
			}
			status := spans[0].Status()
			if status.Code != codes.Error {
				t.Errorf("status code = %v, want error", status.Code)
			}
			if status.Description != tt.want {
				t.Errorf("status description = %q, want %q", status.Description, tt.want)
			}
			attrs := spanAttributes(spans[0])
			if got := attrs["error.type"].AsString(); got != tt.want {
				t.Errorf("error.type = %q, want %q", got, tt.want)
			}
			if got := attrs["sendfile.result"].AsInt64(); got != tt.result {
				t.Errorf("sendfile.result = %d, want %d", got, tt.result)
			}
			if _, ok := attrs["sendfile.offset.changed"]; ok {
				t.Error("sendfile.offset.changed set on a failed call")
			}
		})
	}
}

func TestHandleEventEnricher(t *testing.T) {
	enricher := EnricherFunc(func(dst []attribute.KeyValue, ev *bpf.Event) []attribute.KeyValue {
		dst = append(dst, attribute.String("container.id", "c-"+string(rune('a'+ev.Tgid%26))))
		if ev.OutFd == 7 {
			dst = append(dst, attribute.String("sendfile.out.kind", "socket"))
		}
		return dst
	})
	tb := newTestBridge(t, bridgeOptions{enricher: enricher})

	first := nativeEvent() // Tgid 4242 -> 'a'+4242%26 = 'a'+4 = 'e'
	second := nativeEvent()
	second.Tgid, second.OutFd = 4243, 8
	tb.HandleEvent(&first)
	tb.HandleEvent(&second)

	spans := tb.spans.GetSpans().Snapshots()
	if len(spans) != 2 {
		t.Fatalf("got %d spans, want 2", len(spans))
	}
	firstAttrs := spanAttributes(spans[0])
	if got := firstAttrs["container.id"].AsString(); got != "c-e" {
		t.Errorf("first container.id = %q, want c-e", got)
	}
	if got := firstAttrs["sendfile.out.kind"].AsString(); got != "socket" {
		t.Errorf("first sendfile.out.kind = %q, want socket", got)
	}
	if got := firstAttrs["process.pid"].AsInt64(); got != 4242 {
		t.Errorf("first process.pid = %d after the second event, want 4242", got)
	}
	secondAttrs := spanAttributes(spans[1])
	if got := secondAttrs["container.id"].AsString(); got != "c-f" {
		t.Errorf("second container.id = %q, want c-f", got)
	}
	if _, ok := secondAttrs["sendfile.out.kind"]; ok {
		t.Error("second span has sendfile.out.kind, which only the first event got")
	}
}

func TestHandleEventWithoutTracer(t *testing.T) {
	tb := newTestBridge(t, bridgeOptions{noSpans: true})
	ev := nativeEvent()
	tb.HandleEvent(&ev)

	if n := len(tb.spans.GetSpans()); n != 0 {
		t.Errorf("got %d spans without a TracerProvider, want 0", n)
	}
	metrics := tb.collect(t)
	if _, ok := metrics["sendfile.duration"]; !ok {
		t.Error("sendfile.duration missing without a TracerProvider, want it recorded")
	}
}

func TestHandleEventWithoutMeter(t *testing.T) {
	tb := newTestBridge(t, bridgeOptions{noMetric: true, source: &fakeSource{}})
	ev := nativeEvent()
	tb.HandleEvent(&ev)
	tb.CountReadError()
	tb.CountExportFailed(3)

	if n := len(tb.spans.GetSpans()); n != 1 {
		t.Errorf("got %d spans without a MeterProvider, want 1", n)
	}
	if err := tb.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
}

func TestHandleEventReusesTaskNames(t *testing.T) {
	tb := newTestBridge(t, bridgeOptions{})
	names := []string{"nginx", "nginx", "sshd", "nginx", ""}
	for _, name := range names {
		ev := nativeEvent()
		ev.Comm = commOf(name)
		tb.HandleEvent(&ev)
	}
	spans := tb.spans.GetSpans().Snapshots()
	for i, span := range spans {
		if got := spanAttributes(span)["thread.name"].AsString(); got != names[i] {
			t.Errorf("span %d thread.name = %q, want %q", i, got, names[i])
		}
	}
	if len(tb.comms) != 3 {
		t.Errorf("task name cache holds %d names, want 3", len(tb.comms))
	}
}

func TestSettleExportsCountsLeftoverSpansOnce(t *testing.T) {
	tb := newTestBridge(t, bridgeOptions{noMetric: true})
	ev := nativeEvent()
	for range 3 {
		tb.HandleEvent(&ev)
	}
	tb.countExported(1)     // one span exported
	tb.CountExportFailed(1) // one in a failed export
	tb.CountDropped()       // one event that never became a span

	if left := tb.SettleExports(); left != 1 {
		t.Errorf("SettleExports = %d, want 1: 3 spans created, 1 exported, 1 failed", left)
	}
	// An export that was under way finishes late: it must not count again.
	tb.countExported(1)
	tb.CountExportFailed(1)
	stats := tb.Stats()
	if stats.SpansExported != 1 {
		t.Errorf("SpansExported %d, want 1", stats.SpansExported)
	}
	if stats.ExportFailed != 3 {
		t.Errorf("ExportFailed %d, want 3: 1 failed export, 1 dropped event, 1 settled span", stats.ExportFailed)
	}
	if stats.Dropped != 1 {
		t.Errorf("Dropped %d, want 1", stats.Dropped)
	}
}

func TestDropSpansCountsInsteadOfCreating(t *testing.T) {
	tb := newTestBridge(t, bridgeOptions{noMetric: true})
	ev := nativeEvent()
	tb.HandleEvent(&ev)
	tb.DropSpans()
	tb.HandleEvent(&ev)
	tb.HandleEvent(&ev)

	if got := len(tb.spans.GetSpans()); got != 1 {
		t.Errorf("%d spans reached the exporter, want the 1 made before DropSpans", got)
	}
	stats := tb.Stats()
	if stats.SpansCreated != 1 || stats.Dropped != 2 || stats.ExportFailed != 2 {
		t.Errorf("stats %+v: want 1 span created and 2 events dropped, counted as failed", stats)
	}
}
