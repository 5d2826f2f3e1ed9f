#!/usr/bin/env bash
# Builds each test/callers/NAME.c into a static binary build/callers/NAME, with
# the same flags as buildCallers in bpf/helpers_test.go:
#   NAME_lfs.c  i386, with -D_FILE_OFFSET_BITS=64, so that glibc's sendfile()
#               makes syscall 239 (sendfile64) instead of 187 (sendfile)
#   int80.c     x86-64 without PIE (it enters the i386 syscall table itself)
#   other       i386
# Needs gcc with 32-bit support (Debian: gcc-multilib).
#
# Usage: test/vm/build-callers.sh [SOURCE_DIR [OUTPUT_DIR]]
set -euo pipefail

repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
source_dir=${1:-$repo_root/test/callers}
output_dir=${2:-$repo_root/build/callers}
cc=${CC:-gcc}

mkdir -p "$output_dir"
shopt -s nullglob
sources=("$source_dir"/*.c)

# Every caller is rebuilt, because they are small and may share headers. A
# binary whose source is gone is removed, so that no stale caller runs.
for output in "$output_dir"/*; do
	[[ -e $source_dir/$(basename "$output").c ]] || rm -f "$output"
done
if [[ ${#sources[@]} -eq 0 ]]; then
	echo "build-callers: no *.c files in $source_dir, $output_dir stays empty" >&2
	exit 0
fi

for source in "${sources[@]}"; do
	name=$(basename "$source" .c)
	output=$output_dir/$name
	case $name in
	int80)
		# A 64-bit program that enters the i386 syscall table with int $0x80.
		# Without PIE its data lies below 4 GiB, where 32-bit pointers reach.
		flags=(-static -no-pie -O2)
		;;
	*_lfs)
		flags=(-m32 -static -O2 -D_FILE_OFFSET_BITS=64)
		;;
	*)
		flags=(-m32 -static -O2)
		;;
	esac
	echo "build-callers: $cc ${flags[*]} -o $output $source" >&2
	"$cc" "${flags[@]}" -o "$output" "$source"
done
