#!/usr/bin/env bash
# Runs the privileged suite of ./bpf/ on every kernel in test/vm/kernels.txt
# under qemu, and on the host in tracepoint mode, then writes
# docs/kernel-matrix.md. Exits non-zero if any run failed or a VM hung.
#
# Usage: test/vm/run.sh [options of test/vm]    (list them: go run ./test/vm -help)
#
# Environment:
#   SENDFILE_OTEL_VMTEST_BINARY  use this prebuilt static test binary instead
#                                of building ./bpf/
#   SENDFILE_OTEL_KERNEL_CACHE   kernel cache directory, by default
#                                ${XDG_CACHE_HOME:-$HOME/.cache}/sendfile-otel/kernels
#
# Installs its Debian packages when they are missing, so it needs root then.
# The host run needs root too; pass -host=false to skip it.
set -euo pipefail

# Maximum wall time of the whole script in seconds. What the build and the
# downloads leave of it goes to the matrix as its -budget, so that a hung VM
# cannot hold CI for longer. A -budget on the command line overrides it.
total_budget=570

repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$repo_root"

work_dir=build/vm
mkdir -p "$work_dir"

# Debian packages the run needs. busybox-static, not busybox, because the
# initramfs has no shared libraries. gcc-multilib builds the i386 callers.
packages=(qemu-system-x86 busybox-static gcc-multilib)
missing=()
for package in "${packages[@]}"; do
	if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q 'install ok installed'; then
		missing+=("$package")
	fi
done
if [[ ${#missing[@]} -gt 0 ]]; then
	if [[ $(id -u) -ne 0 ]]; then
		echo "vmtest: missing Debian packages: ${missing[*]}; install them as root: apt-get install -y ${missing[*]}" >&2
		exit 1
	fi
	echo "vmtest: installing ${missing[*]}" >&2
	apt-get update -q
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

test/vm/build-callers.sh

test_binary=${SENDFILE_OTEL_VMTEST_BINARY:-}
if [[ -z $test_binary ]]; then
	test_binary=$work_dir/sendfile-otel-bpf.test
	rm -f "$test_binary"
	CGO_ENABLED=0 go test -c -o "$test_binary" ./bpf/
	# go test -c writes nothing for a package without test files.
	if [[ ! -x $test_binary ]]; then
		echo "vmtest: go test -c wrote no $test_binary: does ./bpf/ have tests?" >&2
		exit 1
	fi
fi

test/vm/fetch-kernels.sh >"$work_dir/kernels.list"

go build -o "$work_dir/vmtest" ./test/vm

budget=$((total_budget - SECONDS))
if [[ $budget -lt 120 ]]; then
	echo "vmtest: the build took ${SECONDS} s, which leaves less than 120 s of the ${total_budget} s budget for the matrix" >&2
	exit 1
fi

exec "$work_dir/vmtest" \
	-kernel-list "$work_dir/kernels.list" \
	-test-binary "$test_binary" \
	-callers build/callers \
	-work-dir "$work_dir" \
	-budget "${budget}s" \
	"$@"
