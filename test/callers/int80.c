// A 64-bit program that enters the i386 syscall table with `int $0x80`, as
// any x86_64 process may. Built static and without PIE, so its data lies
// below 4 GiB and fits the 32-bit pointer arguments.
//
// Usage: int80 sendfile32 OUT_PATH IN_PATH OFFSET COUNT
//        int80 rmdir PATH
// Prints one line of key=value pairs describing what it passed and got.
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define I386_RMDIR 40
#define I386_SENDFILE32 187

static int32_t offset; /* compat_off_t */
static char path[4096];

/* Upper halves of the argument registers are filled with garbage on
 * purpose: the kernel must use only the low 32 bits, and so must a tracer. */
static long int80(long nr, uint64_t a, uint64_t b, uint64_t c, uint64_t d)
{
	const uint64_t garbage = 0xdeadbeef00000000ULL;
	long ret;

	a |= garbage;
	b |= garbage;
	c |= garbage;
	d |= garbage;
	__asm__ volatile("int $0x80"
			 : "=a"(ret)
			 : "a"(nr), "b"(a), "c"(b), "d"(c), "S"(d)
			 : "memory", "r8", "r9", "r10", "r11");
	return ret;
}

int main(int argc, char **argv)
{
	if (argc == 6 && strcmp(argv[1], "sendfile32") == 0) {
		int out_fd = open(argv[2], O_WRONLY);
		int in_fd = open(argv[3], O_RDONLY);
		if (out_fd < 0 || in_fd < 0) {
			perror("open");
			return 2;
		}
		offset = (int32_t)strtol(argv[4], NULL, 10);
		uint32_t count = (uint32_t)strtoul(argv[5], NULL, 10);
		int32_t before = offset;
		long ret = int80(I386_SENDFILE32, (uint32_t)out_fd, (uint32_t)in_fd,
				 (uint32_t)(uintptr_t)&offset, count);
		printf("out_fd=%d in_fd=%d offset_ptr=%lu offset_before=%d count=%u result=%ld errno=%ld offset_after=%d offset_size=4 pid=%d\n",
		       out_fd, in_fd, (unsigned long)(uintptr_t)&offset, before, count,
		       ret, ret < 0 ? -ret : 0, offset, (int)getpid());
		return 0;
	}
	if (argc == 3 && strcmp(argv[1], "rmdir") == 0) {
		strncpy(path, argv[2], sizeof(path) - 1);
		long ret = int80(I386_RMDIR, (uint32_t)(uintptr_t)path, 0, 0, 0);
		printf("result=%ld pid=%d\n", ret, (int)getpid());
		return 0;
	}
	fprintf(stderr, "usage: %s sendfile32 OUT IN OFFSET COUNT | rmdir PATH\n", argv[0]);
	return 2;
}
