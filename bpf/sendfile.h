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

/*
 * Paths are stored as the names of their components, leaf first, each
 * followed by a NUL byte. A walk stops adding components once PATH_REGION
 * bytes are used, so a path keeps whole components only; the last one read
 * may run past PATH_REGION into the NAME_READ bytes after it.
 */
#define PATH_REGION 512
#define NAME_READ 256
#define PATH_BUF (PATH_REGION + NAME_READ)
/* Components a walk follows before it gives up, mount crossings included. */
#define PATH_MAX_DEPTH 32

/* Kind of file behind out_fd, from its inode's mode. */
enum out_kind {
	OUT_KIND_UNKNOWN = 0,
	OUT_KIND_SOCKET = 1,
	OUT_KIND_PIPE = 2,
	OUT_KIND_FILE = 3,
	OUT_KIND_CHAR_DEVICE = 4,
	OUT_KIND_OTHER = 5,
};

/* Bits of enrichment.in_path_flags and out_path_flags. */
enum path_flag {
	/* A path was read: the buffer contains its components. */
	PATH_PRESENT = 1 << 0,
	/* The walk stopped before the root: the components are a suffix of the path. */
	PATH_TRUNCATED = 1 << 1,
	/* The file was unlinked while open. */
	PATH_DELETED = 1 << 2,
	/* An abstract unix socket name (no file system path). */
	PATH_ABSTRACT = 1 << 3,
	/* The unix socket is unbound: the name is its peer's. */
	PATH_PEER = 1 << 4,
};

/* Files and sockets behind the fds of a call, read at enter. All zero when not read. */
struct enrichment {
	__u64 in_ino;        /* inode of the source file */
	__u64 exe_ino;       /* inode of the caller's executable: it changes on exec */
	__u32 in_dev;        /* device of the source file, kernel encoding */
	__u32 exe_dev;       /* device of the caller's executable */
	__u16 in_path_len;   /* bytes used in in_path */
	__u16 out_path_len;  /* bytes used in out_path */
	__u16 local_port;    /* out_fd socket's local port, host order */
	__u16 peer_port;     /* out_fd socket's peer port, host order */
	__u8 in_path_flags;  /* enum path_flag */
	__u8 out_path_flags; /* enum path_flag */
	__u8 out_kind;       /* enum out_kind */
	__u8 family;         /* out_fd socket's address family: AF_INET, AF_INET6, AF_UNIX */
	__u8 protocol;       /* out_fd socket's protocol: IPPROTO_TCP, IPPROTO_UDP */
	__u8 enriched;       /* 1 when this structure was filled */
	__u8 _pad[2];
	__u8 local_addr[16]; /* 4 bytes for AF_INET, 16 for AF_INET6, network order */
	__u8 peer_addr[16];
	char exe_name[64];   /* base name of the caller's executable, cut to 63 bytes */
	char in_path[PATH_BUF];
	char out_path[PATH_BUF];
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
	struct enrichment enrich;
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
