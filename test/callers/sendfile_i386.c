// A 32-bit sendfile caller for the kernel tests. Built with gcc -m32 it
// calls glibc sendfile(), which enters i386 syscall 187 (sendfile32, 4-byte
// offset) or, built with -D_FILE_OFFSET_BITS=64, syscall 239 (sendfile64).
//
// Usage: sendfile_i386 OUT_PATH IN_PATH OFFSET|null COUNT
// Prints one line of key=value pairs describing exactly what it passed and got.
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sendfile.h>
#include <unistd.h>

static off_t offset;

int main(int argc, char **argv)
{
	if (argc != 5) {
		fprintf(stderr, "usage: %s OUT_PATH IN_PATH OFFSET|null COUNT\n", argv[0]);
		return 2;
	}
	int out_fd = open(argv[1], O_WRONLY);
	int in_fd = open(argv[2], O_RDONLY);
	if (out_fd < 0 || in_fd < 0) {
		perror("open");
		return 2;
	}
	off_t *offset_ptr = NULL;
	if (strcmp(argv[3], "null") != 0) {
		offset = (off_t)strtoll(argv[3], NULL, 10);
		offset_ptr = &offset;
	}
	size_t count = (size_t)strtoul(argv[4], NULL, 10);
	long long before = offset;

	ssize_t result = sendfile(out_fd, in_fd, offset_ptr, count);
	int err = result < 0 ? errno : 0;

	printf("out_fd=%d in_fd=%d offset_ptr=%lu offset_before=%lld count=%lu result=%ld errno=%d offset_after=%lld offset_size=%u pid=%d\n",
	       out_fd, in_fd, (unsigned long)offset_ptr, before, (unsigned long)count, (long)result, err,
	       (long long)offset, (unsigned)sizeof(off_t), (int)getpid());
	return 0;
}
