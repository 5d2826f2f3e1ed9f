#!/usr/bin/env bash
# Downloads the kernels listed in test/vm/kernels.txt with apt-get and caches
# each one's vmlinuz outside the repository.
#
# Usage: test/vm/fetch-kernels.sh [KERNELS_FILE]
# Prints one line per kernel: "<package> <version> <modes> <path to vmlinuz>".
# Cache: ${SENDFILE_OTEL_KERNEL_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/sendfile-otel/kernels}
set -euo pipefail

repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
kernels_file=${1:-$repo_root/test/vm/kernels.txt}
cache_dir=${SENDFILE_OTEL_KERNEL_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/sendfile-otel/kernels}
mkdir -p "$cache_dir"

apt_updated=0

# download_deb PACKAGE VERSION DIR downloads PACKAGE=VERSION into DIR. It runs
# `apt-get update` once if the first try fails, because a fresh machine or CI
# runner may have stale or empty package lists.
download_deb() {
	local package=$1 version=$2 dir=$3
	if (cd "$dir" && apt-get download -q -o APT::Sandbox::User=root "$package=$version") >&2; then
		return 0
	fi
	if [[ $apt_updated -eq 0 ]]; then
		echo "fetch-kernels: apt-get download $package=$version failed, running apt-get update and retrying" >&2
		apt-get update -q >&2
		apt_updated=1
		if (cd "$dir" && apt-get download -q -o APT::Sandbox::User=root "$package=$version") >&2; then
			return 0
		fi
	fi
	cat >&2 <<MSG
fetch-kernels: ERROR: failed to download $package version $version.
The Debian archive has probably dropped this pinned version. To find a current one, run:
  apt-get update && apt-cache search linux-image- | grep cloud-amd64
  apt-cache policy <package>
then put the package and its exact version in $kernels_file,
run \`make vmtest\` and commit the regenerated docs/kernel-matrix.md.
MSG
	return 1
}

while read -r package version modes _; do
	[[ -z $package || $package == \#* ]] && continue
	if [[ -z $version || -z $modes ]]; then
		echo "fetch-kernels: ERROR: invalid line for $package in $kernels_file: expected <package> <version> <modes>" >&2
		exit 1
	fi
	# A version such as 6.12.118-1~deb12u1 contains no "/", so it is safe in a path.
	kernel_dir="$cache_dir/${package}_${version}"
	vmlinuz="$kernel_dir/vmlinuz"
	if [[ ! -s $vmlinuz ]]; then
		work_dir=$(mktemp -d "$cache_dir/.fetch.XXXXXX")
		trap 'rm -rf "$work_dir"' EXIT
		download_deb "$package" "$version" "$work_dir"
		debs=("$work_dir"/*.deb)
		dpkg-deb -x "${debs[0]}" "$work_dir/root"
		images=("$work_dir"/root/boot/vmlinuz-*)
		if [[ ! -s ${images[0]} ]]; then
			echo "fetch-kernels: ERROR: ${debs[0]} contains no boot/vmlinuz-*" >&2
			exit 1
		fi
		mkdir -p "$kernel_dir"
		cp "${images[0]}" "$kernel_dir/vmlinuz.tmp"
		# The kernel config shows which features the kernel was built with.
		cp "$work_dir"/root/boot/config-* "$kernel_dir/config" 2>/dev/null || true
		mv "$kernel_dir/vmlinuz.tmp" "$vmlinuz"
		rm -rf "$work_dir"
		trap - EXIT
		echo "fetch-kernels: cached $package $version in $kernel_dir" >&2
	fi
	echo "$package $version $modes $vmlinuz"
done <"$kernels_file"
