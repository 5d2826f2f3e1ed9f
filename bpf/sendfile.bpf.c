//go:build ignore

// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Traces sendfile(2) and the i386 compat sendfile32. Three interchangeable
 * front ends (kprobe, fentry, tracepoint) feed the same maps and events:
 *
 *   enter: inflight[tid] = arguments, enter time, offset value
 *   exit:  totals_by_user[uid, errno] += result   always, exact
 *          events <- one record per call          filtered, sampled, may drop
 *
 * The loader picks the programs of one front end and attaches only those.
 */
#if defined(__TARGET_ARCH_x86)
#include "include/x86/vmlinux.h"
#elif defined(__TARGET_ARCH_arm64)
#include "include/arm64/vmlinux.h"
#else
#error "unsupported architecture: build with -target amd64 or arm64"
#endif

#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>

#include "sendfile.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/* Tunables, set by the loader before the programs load. */

/* When false, only the per-user totals are kept and no enter state is stored. */
const volatile bool spans_enabled = true;
/* A call becomes a span when bpf_get_prandom_u32() < sample_threshold (1<<32 keeps all). */
const volatile __u64 sample_threshold = 1ULL << 32;
/* Span filters: each set is consulted only when its flag is on. */
const volatile bool filter_tgid = false;
const volatile bool filter_uid = false;
const volatile bool filter_comm = false;
const volatile bool filter_cgroup = false;
/* Successful calls that moved fewer bytes than this make no span. */
const volatile __s64 min_result = 0;
/* When true, only failed calls make spans. */
const volatile bool errors_only = false;
/* Readers are woken only once this many bytes wait in the ring buffer. */
const volatile __u64 wakeup_bytes = 0;
/* Past wakeup_bytes, the reader is woken again once per this many bytes. */
#define WAKEUP_STEP (64 << 10)

/* Arguments of a call between its enter and its exit. */
struct inflight {
	__u64 enter_ns;
	__u64 offset_ptr;
	__s64 offset_start;
	__u64 count;
	__s32 out_fd;
	__s32 in_fd;
	__u16 nr;
	__u8 abi;
	__u8 flags;
	bool want_span;
};

/* Keyed by thread id. LRU, so a thread that never exits cannot fill it. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, __u32);
	__type(value, struct inflight);
} inflight SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4 << 20);
} events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, 10240);
	__type(key, struct user_key);
	__type(value, struct user_totals);
} totals_by_user SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, COUNTER_MAX);
	__type(key, __u32);
	__type(value, __u64);
} counters SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, __u32);
	__type(value, __u8);
} tgid_filter SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, __u32);
	__type(value, __u8);
} uid_filter SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, char[TASK_COMM_LEN]);
	__type(value, __u8);
} comm_filter SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, __u64);
	__type(value, __u8);
} cgroup_filter SEC(".maps");

#include "enrich.bpf.h"

/* Make the types reachable for bpf2go -type. */
const struct event *unused_event __attribute__((unused));
const struct user_key *unused_user_key __attribute__((unused));
const struct user_totals *unused_user_totals __attribute__((unused));
const enum abi *unused_abi __attribute__((unused));
const enum counter *unused_counter __attribute__((unused));
const enum event_flag *unused_event_flag __attribute__((unused));
const enum syscall_nr *unused_syscall_nr __attribute__((unused));
const enum out_kind *unused_out_kind __attribute__((unused));
const enum path_flag *unused_path_flag __attribute__((unused));

static __always_inline void count(__u32 index)
{
	__u64 *value = bpf_map_lookup_elem(&counters, &index);

	if (value)
		*value += 1;
}

/* Decides, before anything is reserved, whether this caller may make a span. */
static __always_inline bool span_wanted(__u32 tgid, __u32 uid)
{
	if (filter_tgid && !bpf_map_lookup_elem(&tgid_filter, &tgid))
		return false;
	if (filter_uid && !bpf_map_lookup_elem(&uid_filter, &uid))
		return false;
	if (filter_comm) {
		char comm[TASK_COMM_LEN] = {};

		bpf_get_current_comm(comm, sizeof(comm));
		if (!bpf_map_lookup_elem(&comm_filter, comm))
			return false;
	}
	if (filter_cgroup) {
		__u64 cgroup_id = bpf_get_current_cgroup_id();

		if (!bpf_map_lookup_elem(&cgroup_filter, &cgroup_id))
			return false;
	}
	if (sample_threshold < (1ULL << 32) && (__u64)bpf_get_prandom_u32() >= sample_threshold)
		return false;
	return true;
}

/* Reads the offset argument: 4 signed bytes for sendfile32, 8 otherwise. */
static __always_inline int read_offset(__u64 ptr, bool offset_32bit, __s64 *value)
{
	if (offset_32bit) {
		__s32 small = 0;

		if (bpf_probe_read_user(&small, sizeof(small), (void *)ptr))
			return -1;
		*value = small;
		return 0;
	}
	return bpf_probe_read_user(value, sizeof(*value), (void *)ptr) ? -1 : 0;
}

/*
 * Records the arguments of a call. The fds are the low 32 bits of their
 * registers, as the kernel reads them; ia32 callers pass every argument
 * truncated to 32 bits already.
 */
static __always_inline int on_enter(__u16 nr, __u8 abi, __u64 out_fd, __u64 in_fd,
				    __u64 offset_ptr, __u64 count_arg)
{
	struct inflight call = {};
	__u64 pid_tgid;
	__u32 tid, uid;

	if (!spans_enabled)
		return 0;

	pid_tgid = bpf_get_current_pid_tgid();
	tid = (__u32)pid_tgid;
	uid = (__u32)bpf_get_current_uid_gid();
	call.enter_ns = bpf_ktime_get_boot_ns();
	call.nr = nr;
	call.abi = abi;
	call.out_fd = (__s32)out_fd;
	call.in_fd = (__s32)in_fd;
	call.offset_ptr = offset_ptr;
	call.count = count_arg;
	call.want_span = span_wanted(pid_tgid >> 32, uid);
	if (abi == ABI_I386 && nr == NR_I386_SENDFILE32)
		call.flags |= FLAG_OFFSET_32BIT;

	if (call.want_span && offset_ptr &&
	    read_offset(offset_ptr, call.flags & FLAG_OFFSET_32BIT, &call.offset_start))
		call.flags |= FLAG_OFFSET_START_UNREADABLE;

	if (bpf_map_update_elem(&inflight, &tid, &call, BPF_ANY)) {
		count(COUNTER_INFLIGHT_FAILED);
		return 0;
	}
	if (call.want_span && enrich_enabled)
		enrich_call(tid, call.out_fd, call.in_fd);
	return 0;
}

static __always_inline void add_to_totals(__u32 uid, long ret)
{
	struct user_key key = { .uid = uid, .err = ret < 0 ? (__u32)-ret : 0 };
	struct user_totals *totals = bpf_map_lookup_elem(&totals_by_user, &key);

	if (!totals) {
		struct user_totals zero = {};

		/* Another CPU may have inserted the key meanwhile: BPF_NOEXIST then fails harmlessly. */
		bpf_map_update_elem(&totals_by_user, &key, &zero, BPF_NOEXIST);
		totals = bpf_map_lookup_elem(&totals_by_user, &key);
		if (!totals) {
			count(COUNTER_TOTALS_FULL);
			return;
		}
	}
	totals->calls += 1;
	if (ret > 0)
		totals->bytes += ret;
}

static __always_inline bool span_wanted_at_exit(long ret)
{
	if (ret < 0)
		return true;
	if (errors_only)
		return false;
	return ret >= min_result;
}

static __always_inline void emit(const struct inflight *call, __u32 tid, __u64 pid_tgid,
				 __u64 uid_gid, long ret, __u64 exit_ns)
{
	struct event *e;
	__u64 waiting, before;

	count(COUNTER_SPAN_OFFERED);
	e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e) {
		count(COUNTER_RINGBUF_FULL);
		return;
	}

	e->enter_ns = call->enter_ns;
	e->exit_ns = exit_ns;
	e->cgroup_id = bpf_get_current_cgroup_id();
	e->offset_ptr = call->offset_ptr;
	e->offset_start = call->offset_start;
	e->offset_end = 0;
	e->count = call->count;
	e->result = ret;
	e->tid = tid;
	e->tgid = pid_tgid >> 32;
	e->uid = (__u32)uid_gid;
	e->gid = uid_gid >> 32;
	e->out_fd = call->out_fd;
	e->in_fd = call->in_fd;
	e->nr = call->nr;
	e->abi = call->abi;
	e->flags = call->flags;
	e->_pad = 0;
	bpf_get_current_comm(e->comm, sizeof(e->comm));

	if (call->offset_ptr &&
	    read_offset(call->offset_ptr, call->flags & FLAG_OFFSET_32BIT, &e->offset_end))
		e->flags |= FLAG_OFFSET_END_UNREADABLE;
	attach_enrichment(e, tid);

	/*
	 * Wake the reader when this record crosses the threshold, and past it
	 * once per WAKEUP_STEP bytes, in case two CPUs both missed the crossing.
	 * A wakeup per record would cost a self-interrupt per record.
	 */
	waiting = bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA); /* includes this record */
	before = waiting - sizeof(*e);
	if (waiting >= wakeup_bytes &&
	    (before < wakeup_bytes || before / WAKEUP_STEP != waiting / WAKEUP_STEP))
		bpf_ringbuf_submit(e, BPF_RB_FORCE_WAKEUP);
	else
		bpf_ringbuf_submit(e, BPF_RB_NO_WAKEUP);
}

/* Completes a call: totals always, then a span event when one is wanted. */
static __always_inline int on_exit(long ret)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	__u64 uid_gid = bpf_get_current_uid_gid();
	__u32 tid = (__u32)pid_tgid;
	struct inflight *call;

	add_to_totals((__u32)uid_gid, ret);
	if (!spans_enabled)
		return 0;

	call = bpf_map_lookup_elem(&inflight, &tid);
	if (!call) {
		count(COUNTER_ORPHAN_EXIT);
		return 0;
	}
	/* The exit time is read only for a span: metrics-only calls skip the clock. */
	if (call->want_span && span_wanted_at_exit(ret))
		emit(call, tid, pid_tgid, uid_gid, ret, bpf_ktime_get_boot_ns());
	if (call->want_span && enrich_enabled)
		bpf_map_delete_elem(&enrichments, &tid);
	bpf_map_delete_elem(&inflight, &tid);
	return 0;
}

#if defined(__TARGET_ARCH_x86)

/*
 * Syscall wrappers since Linux 4.17 take one struct pt_regs * holding the
 * caller's registers. x86_64 passes arguments in di, si, dx, r10; i386 in
 * bx, cx, dx, si, of which the kernel uses only the low 32 bits.
 */
static __always_inline int enter_x64(const struct pt_regs *regs)
{
	return on_enter(NR_X86_64_SENDFILE, ABI_X86_64, BPF_CORE_READ(regs, di),
			BPF_CORE_READ(regs, si), BPF_CORE_READ(regs, dx), BPF_CORE_READ(regs, r10));
}

static __always_inline int enter_ia32(const struct pt_regs *regs, __u16 nr)
{
	return on_enter(nr, ABI_I386, (__u32)BPF_CORE_READ(regs, bx), (__u32)BPF_CORE_READ(regs, cx),
			(__u32)BPF_CORE_READ(regs, dx), (__u32)BPF_CORE_READ(regs, si));
}

/* kprobe front end: one enter program per handler, one exit program for all. */

SEC("kprobe/__x64_sys_sendfile64")
int BPF_KPROBE(kprobe_x64_sendfile64, const struct pt_regs *regs)
{
	return enter_x64(regs);
}

SEC("kprobe/__ia32_sys_sendfile64")
int BPF_KPROBE(kprobe_ia32_sendfile64, const struct pt_regs *regs)
{
	return enter_ia32(regs, NR_I386_SENDFILE64);
}

SEC("kprobe/__ia32_compat_sys_sendfile")
int BPF_KPROBE(kprobe_ia32_compat_sendfile, const struct pt_regs *regs)
{
	return enter_ia32(regs, NR_I386_SENDFILE32);
}

/* fentry front end: each program is bound to its handler at load time. */

SEC("fentry/__x64_sys_sendfile64")
int BPF_PROG(fentry_x64_sendfile64, const struct pt_regs *regs)
{
	return enter_x64(regs);
}

SEC("fentry/__ia32_sys_sendfile64")
int BPF_PROG(fentry_ia32_sendfile64, const struct pt_regs *regs)
{
	return enter_ia32(regs, NR_I386_SENDFILE64);
}

SEC("fentry/__ia32_compat_sys_sendfile")
int BPF_PROG(fentry_ia32_compat_sendfile, const struct pt_regs *regs)
{
	return enter_ia32(regs, NR_I386_SENDFILE32);
}

/*
 * Raw tracepoints see every syscall, ia32 ones included, which the
 * syscalls:sys_*_sendfile64 tracepoints skip. Only calls made in compat
 * mode (TS_COMPAT in thread_info.status) count, because the numbers 187 and
 * 239 mean readahead and a reserved slot in the x86_64 table.
 */
#define TS_COMPAT 0x0002

static __always_inline bool in_compat_syscall(void)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();

	return BPF_CORE_READ(task, thread_info.status) & TS_COMPAT;
}

SEC("raw_tracepoint/sys_enter")
int raw_tp_compat_enter(struct bpf_raw_tracepoint_args *ctx)
{
	long nr = (long)ctx->args[1];

	if (nr != NR_I386_SENDFILE32 && nr != NR_I386_SENDFILE64)
		return 0;
	if (!in_compat_syscall())
		return 0;
	return enter_ia32((const struct pt_regs *)ctx->args[0], nr);
}

SEC("raw_tracepoint/sys_exit")
int raw_tp_compat_exit(struct bpf_raw_tracepoint_args *ctx)
{
	const struct pt_regs *regs = (const struct pt_regs *)ctx->args[0];
	long nr = BPF_CORE_READ(regs, orig_ax);

	if (nr != NR_I386_SENDFILE32 && nr != NR_I386_SENDFILE64)
		return 0;
	if (!in_compat_syscall())
		return 0;
	return on_exit((long)ctx->args[1]);
}

/*
 * The same filter as BTF tracepoints (Linux 5.11+ for the current task as a
 * BTF pointer). Their arguments and the task are read directly instead of
 * through bpf_probe_read_kernel, which matters in programs that run on every
 * syscall of the host. The loader falls back to the raw tracepoints above on
 * kernels that refuse these.
 */
SEC("tp_btf/sys_enter")
int BPF_PROG(btf_compat_enter, struct pt_regs *regs, long nr)
{
	if (nr != NR_I386_SENDFILE32 && nr != NR_I386_SENDFILE64)
		return 0;
	if (!(bpf_get_current_task_btf()->thread_info.status & TS_COMPAT))
		return 0;
	return enter_ia32(regs, nr);
}

SEC("tp_btf/sys_exit")
int BPF_PROG(btf_compat_exit, struct pt_regs *regs, long ret)
{
	long nr = regs->orig_ax;

	if (nr != NR_I386_SENDFILE32 && nr != NR_I386_SENDFILE64)
		return 0;
	if (!(bpf_get_current_task_btf()->thread_info.status & TS_COMPAT))
		return 0;
	return on_exit(ret);
}

#elif defined(__TARGET_ARCH_arm64)

static __always_inline int enter_arm64(const struct pt_regs *regs)
{
	return on_enter(NR_ARM64_SENDFILE, ABI_ARM64, BPF_CORE_READ(regs, regs[0]),
			BPF_CORE_READ(regs, regs[1]), BPF_CORE_READ(regs, regs[2]),
			BPF_CORE_READ(regs, regs[3]));
}

SEC("kprobe/__arm64_sys_sendfile64")
int BPF_KPROBE(kprobe_arm64_sendfile64, const struct pt_regs *regs)
{
	return enter_arm64(regs);
}

SEC("fentry/__arm64_sys_sendfile64")
int BPF_PROG(fentry_arm64_sendfile64, const struct pt_regs *regs)
{
	return enter_arm64(regs);
}

#endif

SEC("kretprobe/sendfile")
int BPF_KRETPROBE(kretprobe_sendfile_exit, long ret)
{
	return on_exit(ret);
}

/* The loader binds a copy of this program to each handler's fexit. */
SEC("fexit/sendfile")
int BPF_PROG(fexit_sendfile_exit, const struct pt_regs *regs, long ret)
{
	return on_exit(ret);
}

/* tracepoint front end for native calls. */

SEC("tracepoint/syscalls/sys_enter_sendfile64")
int tp_sendfile64_enter(struct trace_event_raw_sys_enter *ctx)
{
#if defined(__TARGET_ARCH_x86)
	return on_enter(NR_X86_64_SENDFILE, ABI_X86_64, ctx->args[0], ctx->args[1], ctx->args[2],
			ctx->args[3]);
#else
	return on_enter(NR_ARM64_SENDFILE, ABI_ARM64, ctx->args[0], ctx->args[1], ctx->args[2],
			ctx->args[3]);
#endif
}

SEC("tracepoint/syscalls/sys_exit_sendfile64")
int tp_sendfile64_exit(struct trace_event_raw_sys_exit *ctx)
{
	return on_exit(ctx->ret);
}
