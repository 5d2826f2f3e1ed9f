/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Reads what the fds of a call refer to, at enter: the source file's path
 * and inode, the kind of the destination, its path for files and devices,
 * its addresses and ports for sockets, and the caller's executable. Every
 * kernel pointer chain is read with CO-RE; nothing here can fail a call.
 * Included by sendfile.bpf.c only.
 */
#ifndef SENDFILE_OTEL_ENRICH_BPF_H
#define SENDFILE_OTEL_ENRICH_BPF_H

#define S_IFMT 00170000
#define S_IFSOCK 0140000
#define S_IFREG 0100000
#define S_IFBLK 0060000
#define S_IFCHR 0020000
#define S_IFIFO 0010000

#define AF_UNIX 1
#define AF_INET 2
#define AF_INET6 10

/* When false, nothing below runs and events carry no enrichment. */
const volatile bool enrich_enabled = true;
/* When false, file and socket paths are not read (inodes and addresses still are). */
const volatile bool capture_paths = true;

/* Enrichment of calls between enter and exit, keyed by thread id. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 4096);
	__type(key, __u32);
	__type(value, struct enrichment);
} enrichments SEC(".maps");

/* Room to build one enrichment, too large for the BPF stack. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct enrichment);
} enrich_scratch SEC(".maps");

/* Returns the struct file behind fd in the current task, or NULL. */
static __always_inline struct file *fd_file(struct task_struct *task, __s32 fd)
{
	struct fdtable *fdt;
	struct file **fds;
	struct file *file = NULL;

	if (fd < 0)
		return NULL;
	fdt = BPF_CORE_READ(task, files, fdt);
	if ((__u32)fd >= BPF_CORE_READ(fdt, max_fds))
		return NULL;
	fds = BPF_CORE_READ(fdt, fd);
	bpf_probe_read_kernel(&file, sizeof(file), &fds[fd]);
	return file;
}

/* The name pointers of one path, leaf first, too many for the BPF stack. */
struct walk {
	__u64 names[PATH_MAX_DEPTH]; /* const unsigned char * */
	/*
	 * Bytes written so far, kept here rather than in a register so
	 * that the verifier finds the same state at the top of every iteration
	 * and does not explore each path through the loop separately.
	 */
	__u32 off;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct walk);
} walk_scratch SEC(".maps");

/*
 * Writes the component names of a path into buf, leaf first, each ending
 * in NUL, crossing mount points up to the root of the initial mount
 * namespace. Returns the bytes used and sets PATH_TRUNCATED when the walk
 * stopped short of the root.
 *
 * The walk runs in two loops, pointers first and names second, because one
 * loop that did both made the verifier track too many states.
 */
static __noinline __u32 walk_path(struct dentry *dentry, struct vfsmount *vfsmnt, char *buf, __u8 *flags)
{
	struct mount *mnt = (void *)vfsmnt - bpf_core_field_offset(struct mount, mnt);
	struct dentry *mnt_root = BPF_CORE_READ(vfsmnt, mnt_root);
	__u32 zero = 0, off;
	struct walk *walk = bpf_map_lookup_elem(&walk_scratch, &zero);
	bool complete = false;
	int i, steps = 0;

	if (!walk)
		return 0;
	/* names[i] is 0 where step i crossed a mount point instead of naming a component. */
	for (i = 0; i < PATH_MAX_DEPTH; i++) {
		struct dentry *parent = BPF_CORE_READ(dentry, d_parent);

		steps = i + 1;
		walk->names[i] = 0;
		if (dentry == mnt_root || dentry == parent) {
			struct mount *mnt_parent = BPF_CORE_READ(mnt, mnt_parent);

			if (dentry != mnt_root || mnt == mnt_parent) {
				complete = true; /* reached the root */
				steps = i;
				break;
			}
			/* Continue from the mount point, in the parent mount. */
			dentry = BPF_CORE_READ(mnt, mnt_mountpoint);
			mnt = mnt_parent;
			mnt_root = BPF_CORE_READ(mnt, mnt.mnt_root);
			continue;
		}
		walk->names[i] = (__u64)BPF_CORE_READ(dentry, d_name.name);
		dentry = parent;
	}

	walk->off = 0;
	for (i = 0; i < PATH_MAX_DEPTH; i++) {
		const void *name;
		long len;

		if (i >= steps)
			break;
		name = (const void *)walk->names[i];
		if (!name)
			continue;
		off = *(volatile __u32 *)&walk->off;
		if (off >= PATH_REGION) {
			complete = false;
			break;
		}
		len = bpf_probe_read_kernel_str(buf + off, NAME_READ, name);
		if (len <= 0) {
			complete = false;
			break;
		}
		walk->off = off + len;
	}
	off = walk->off;
	if (!complete)
		*flags |= PATH_TRUNCATED;
	return off;
}

/* Fills the path of file into buf, its length into *len and bits into *flags. */
static __always_inline void file_path(struct file *file, char *buf, __u16 *len, __u8 *flags)
{
	struct dentry *dentry = BPF_CORE_READ(file, f_path.dentry);
	struct vfsmount *vfsmnt = BPF_CORE_READ(file, f_path.mnt);

	*flags |= PATH_PRESENT;
	*len = walk_path(dentry, vfsmnt, buf, flags);
}

static __always_inline void socket_details(struct file *file, struct enrichment *enr)
{
	struct socket *sock = BPF_CORE_READ(file, private_data);
	struct sock *sk = BPF_CORE_READ(sock, sk);
	__u16 family = BPF_CORE_READ(sk, __sk_common.skc_family);

	enr->family = family;
	if (family == AF_INET || family == AF_INET6) {
		enr->protocol = BPF_CORE_READ(sk, sk_protocol);
		enr->local_port = BPF_CORE_READ(sk, __sk_common.skc_num);
		enr->peer_port = bpf_ntohs(BPF_CORE_READ(sk, __sk_common.skc_dport));
	}
	if (family == AF_INET) {
		bpf_core_read(enr->local_addr, 4, &sk->__sk_common.skc_rcv_saddr);
		bpf_core_read(enr->peer_addr, 4, &sk->__sk_common.skc_daddr);
	} else if (family == AF_INET6) {
		BPF_CORE_READ_INTO(&enr->local_addr, sk, __sk_common.skc_v6_rcv_saddr);
		BPF_CORE_READ_INTO(&enr->peer_addr, sk, __sk_common.skc_v6_daddr);
	} else if (family == AF_UNIX && capture_paths) {
		struct unix_sock *us = (struct unix_sock *)sk;
		struct unix_address *addr = BPF_CORE_READ(us, addr);
		char first = 0;
		long len;

		/* An unbound socket has no name: show the peer's. */
		if (!addr) {
			struct unix_sock *peer = (struct unix_sock *)BPF_CORE_READ(us, peer);

			addr = BPF_CORE_READ(peer, addr);
			enr->out_path_flags |= PATH_PEER;
		}
		if (!addr)
			return;
		bpf_probe_read_kernel(&first, 1, &addr->name[0].sun_path[0]);
		if (first == 0) {
			/* An abstract name starts with NUL and may hold any bytes. */
			enr->out_path_flags |= PATH_PRESENT | PATH_ABSTRACT;
			len = bpf_probe_read_kernel_str(enr->out_path, 108, &addr->name[0].sun_path[1]);
		} else {
			enr->out_path_flags |= PATH_PRESENT;
			len = bpf_probe_read_kernel_str(enr->out_path, 109, &addr->name[0].sun_path[0]);
		}
		enr->out_path_len = len > 0 ? len : 0;
	}
}

static __always_inline __u8 kind_of(__u16 mode)
{
	switch (mode & S_IFMT) {
	case S_IFSOCK:
		return OUT_KIND_SOCKET;
	case S_IFIFO:
		return OUT_KIND_PIPE;
	case S_IFREG:
		return OUT_KIND_FILE;
	case S_IFCHR:
		return OUT_KIND_CHAR_DEVICE;
	}
	return OUT_KIND_OTHER;
}

/* Reads what out_fd and in_fd refer to and stores it for the exit of tid. */
static __always_inline void enrich_call(__u32 tid, __s32 out_fd, __s32 in_fd)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	__u32 zero = 0;
	struct enrichment *enr = bpf_map_lookup_elem(&enrich_scratch, &zero);
	struct file *file;
	struct inode *inode;

	if (!enr)
		return;
	/* The scratch space contains the previous call: reset what is read by length or flag. */
	__builtin_memset(enr, 0, offsetof(struct enrichment, in_path));
	enr->enriched = 1;

	file = BPF_CORE_READ(task, mm, exe_file);
	if (file) {
		inode = BPF_CORE_READ(file, f_inode);
		enr->exe_ino = BPF_CORE_READ(inode, i_ino);
		enr->exe_dev = BPF_CORE_READ(inode, i_sb, s_dev);
		bpf_probe_read_kernel_str(enr->exe_name, sizeof(enr->exe_name),
					  BPF_CORE_READ(file, f_path.dentry, d_name.name));
	}

	file = fd_file(task, in_fd);
	if (file) {
		__u16 mode;

		inode = BPF_CORE_READ(file, f_inode);
		mode = BPF_CORE_READ(inode, i_mode);
		enr->in_ino = BPF_CORE_READ(inode, i_ino);
		enr->in_dev = BPF_CORE_READ(inode, i_sb, s_dev);
		if ((mode & S_IFMT) == S_IFREG && BPF_CORE_READ(inode, __i_nlink) == 0)
			enr->in_path_flags |= PATH_DELETED;
		if (capture_paths && ((mode & S_IFMT) == S_IFREG || (mode & S_IFMT) == S_IFBLK ||
				      (mode & S_IFMT) == S_IFCHR))
			file_path(file, enr->in_path, &enr->in_path_len, &enr->in_path_flags);
	}

	file = fd_file(task, out_fd);
	if (file) {
		__u16 mode;

		inode = BPF_CORE_READ(file, f_inode);
		mode = BPF_CORE_READ(inode, i_mode);
		enr->out_kind = kind_of(mode);
		if (enr->out_kind == OUT_KIND_SOCKET) {
			socket_details(file, enr);
		} else if (enr->out_kind == OUT_KIND_FILE || enr->out_kind == OUT_KIND_CHAR_DEVICE) {
			if (enr->out_kind == OUT_KIND_FILE && BPF_CORE_READ(inode, __i_nlink) == 0)
				enr->out_path_flags |= PATH_DELETED;
			if (capture_paths)
				file_path(file, enr->out_path, &enr->out_path_len, &enr->out_path_flags);
		}
	}

	bpf_map_update_elem(&enrichments, &tid, enr, BPF_ANY);
}

/* Copies the enrichment stored at enter into the event, or marks it absent. */
static __always_inline void attach_enrichment(struct event *e, __u32 tid)
{
	struct enrichment *enr;

	e->enrich.enriched = 0;
	if (!enrich_enabled)
		return;
	enr = bpf_map_lookup_elem(&enrichments, &tid);
	if (enr)
		bpf_probe_read_kernel(&e->enrich, sizeof(e->enrich), enr);
}

#endif /* SENDFILE_OTEL_ENRICH_BPF_H */
