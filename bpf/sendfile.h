/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Types shared by the BPF programs and, through bpf2go, by the Go loader. */
#ifndef SENDFILE_OTEL_H
#define SENDFILE_OTEL_H

#define TASK_COMM_LEN 16

/* ABI of the calling task at the moment of the call. */
enum abi {
	ABI_X86_64 = 1,
	ABI_I386 = 2,
	ABI_ARM64 = 3,
};

/* Syscall numbers, each in the table of its ABI. */
enum syscall_nr {
	NR_X86_64_SENDFILE = 40,
	NR_I386_SENDFILE32 = 187,
	NR_I386_SENDFILE64 = 239,
	NR_ARM64_SENDFILE = 71,
};

/* Bits of event.flags. */
enum event_flag {
	/* The offset pointer was not NULL but reading it at enter failed. */
	FLAG_OFFSET_START_UNREADABLE = 1 << 0,
	/* The offset pointer was not NULL but reading it at exit failed. */
	FLAG_OFFSET_END_UNREADABLE = 1 << 1,
	/* The offset argument is a 4-byte compat_off_t (sendfile32). */
	FLAG_OFFSET_32BIT = 1 << 2,
};

/* One completed sendfile call, written to the ring buffer at exit. */
struct event {
	__u64 enter_ns;     /* bpf_ktime_get_boot_ns() at enter */
	__u64 exit_ns;      /* bpf_ktime_get_boot_ns() at exit */
	__u64 cgroup_id;    /* cgroup v2 id of the caller */
	__u64 offset_ptr;   /* user address of the offset argument, 0 for NULL */
	__s64 offset_start; /* value behind offset_ptr at enter */
	__s64 offset_end;   /* value behind offset_ptr at exit */
	__u64 count;        /* bytes requested */
	__s64 result;       /* return value: bytes moved or -errno */
	__u32 tid;
	__u32 tgid;
	__u32 uid;          /* real uid in the initial user namespace */
	__u32 gid;          /* real gid in the initial user namespace */
	__s32 out_fd;
	__s32 in_fd;
	__u16 nr;           /* syscall number in the table of abi */
	__u8 abi;           /* enum abi */
	__u8 flags;         /* enum event_flag bits */
	__u32 _pad;
	char comm[TASK_COMM_LEN];
};

/* Key of the per-user totals: failed calls are kept apart by errno. */
struct user_key {
	__u32 uid;
	__u32 err; /* errno of a failed call, 0 for success */
};

/* Value of the per-user totals, one copy per CPU. */
struct user_totals {
	__u64 calls;
	__u64 bytes;
};

/* Indexes of the per-CPU counters map. */
enum counter {
	/* A span event was dropped because the ring buffer was full. */
	COUNTER_RINGBUF_FULL = 0,
	/* An exit arrived with no matching enter (the enter came before attach, or its inflight entry was evicted). */
	COUNTER_ORPHAN_EXIT = 1,
	/* A call was not added to the per-user totals because the totals map was full. */
	COUNTER_TOTALS_FULL = 2,
	/* An enter could not be stored in the inflight map. */
	COUNTER_INFLIGHT_FAILED = 3,
	/* Calls that passed the span filters and sampling and were offered to the ring buffer. */
	COUNTER_SPAN_OFFERED = 4,
	COUNTER_MAX = 5,
};

#endif /* SENDFILE_OTEL_H */
