// The same caller as sendfile_i386.c, built with -D_FILE_OFFSET_BITS=64 so
// glibc enters i386 syscall 239 (sendfile64, 8-byte offset).
#include "sendfile_i386.c"
