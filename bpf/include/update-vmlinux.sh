#!/usr/bin/env bash
# Regenerate bpf/include/x86/vmlinux.h from the running kernel's BTF and bpf/include/arm64/vmlinux.h from the BTF in a pinned Debian arm64 kernel package.
# Run it as root from the repository root on an x86_64 Debian 12 host, because it adds the arm64 architecture to dpkg and runs apt-get update.
set -euo pipefail

ARM64_KERNEL_PACKAGE="linux-image-6.1.0-47-cloud-arm64"
ARM64_KERNEL_VERSION="6.1.170-3"

# Exit with an error unless HEADER defines struct NAME and, when MEMBER is given, that struct has a line matching MEMBER.
require_struct() {
	local header="$1" name="$2" member="${3:-}"
	local body
	body="$(awk -v start="struct $name {" '$0 == start { found = 1 } found { print } found && /^};$/ { exit }' "$header")"
	if [[ -z "$body" ]]; then
		echo "error: $header does not define struct $name" >&2
		exit 1
	fi
	if [[ -n "$member" ]] && ! grep -q -- "$member" <<<"$body"; then
		echo "error: struct $name in $header has no member matching '$member'" >&2
		exit 1
	fi
}

# Print a command and then run it.
run() {
	echo "+ $*"
	"$@"
}

if [[ ! -f go.mod || ! -d bpf/include ]]; then
	echo "error: run this script from the repository root" >&2
	exit 1
fi
for tool in bpftool python3 apt-get dpkg; do
	if ! command -v "$tool" >/dev/null; then
		echo "error: $tool not found. Install it with apt-get" >&2
		exit 1
	fi
done

tmp_dir="$(mktemp -d)"
trap 'rm -rf "$tmp_dir"' EXIT
# apt-get download fetches as the _apt user and warns unless that user can write to the target directory.
if id _apt >/dev/null 2>&1; then
	chown _apt "$tmp_dir"
fi

echo "== x86: BTF of the running kernel"
if [[ "$(uname -m)" != "x86_64" ]]; then
	echo "error: the x86 header needs an x86_64 host, but this host is $(uname -m)" >&2
	exit 1
fi
echo "+ bpftool btf dump file /sys/kernel/btf/vmlinux format c > $tmp_dir/x86.h"
bpftool btf dump file /sys/kernel/btf/vmlinux format c >"$tmp_dir/x86.h"
require_struct "$tmp_dir/x86.h" task_struct
require_struct "$tmp_dir/x86.h" pt_regs '[[:space:]]ip;'
run mkdir -p bpf/include/x86
run mv "$tmp_dir/x86.h" bpf/include/x86/vmlinux.h

echo "== arm64: BTF from $ARM64_KERNEL_PACKAGE $ARM64_KERNEL_VERSION"
if ! dpkg --print-foreign-architectures | grep -qx arm64; then
	run dpkg --add-architecture arm64
fi
run apt-get update
(cd "$tmp_dir" && run apt-get download "$ARM64_KERNEL_PACKAGE:arm64=$ARM64_KERNEL_VERSION")
run dpkg -x "$tmp_dir"/"$ARM64_KERNEL_PACKAGE"_*_arm64.deb "$tmp_dir/pkg"
kernel_image="$tmp_dir/pkg/boot/vmlinuz-${ARM64_KERNEL_PACKAGE#linux-image-}"

# Debian's arm64 vmlinuz is an uncompressed Image, and its .BTF section is stored there as raw bytes.
echo "+ python3 (cut the raw BTF blob out of $kernel_image) > $tmp_dir/arm64.btf"
python3 - "$kernel_image" "$tmp_dir/arm64.btf" <<'EOF'
import struct
import sys

image_path, btf_path = sys.argv[1], sys.argv[2]
with open(image_path, "rb") as image_file:
    image = image_file.read()

# A BTF header is magic 0xeb9f, version 1, flags 0 and hdr_len 24, followed by the
# u32 fields type_off, type_len, str_off and str_len, which count from the header's end.
magic = b"\x9f\xeb\x01\x00\x18\x00\x00\x00"
candidates = []
start = image.find(magic)
while start >= 0:
    _, _, _, hdr_len, type_off, type_len, str_off, str_len = struct.unpack_from("<HBBIIIII", image, start)
    size = hdr_len + max(type_off + type_len, str_off + str_len)
    valid = (
        type_off + type_len <= str_off
        and str_len > 0
        and start + size <= len(image)
        and image[start + hdr_len + str_off] == 0
    )
    print(f"  BTF header at offset {start:#x}: size {size} bytes, {'valid' if valid else 'rejected'}")
    if valid:
        candidates.append((size, start))
    start = image.find(magic, start + 1)

if not candidates:
    sys.exit(f"error: no valid BTF header found in {image_path}")
size, start = max(candidates)
if size < 1 << 20:
    sys.exit(f"error: the largest BTF blob in {image_path} is only {size} bytes, expected several MB")
with open(btf_path, "wb") as btf_file:
    btf_file.write(image[start:start + size])
print(f"  wrote {size} bytes from offset {start:#x}")
EOF

echo "+ bpftool btf dump file $tmp_dir/arm64.btf format c > $tmp_dir/arm64.h"
bpftool btf dump file "$tmp_dir/arm64.btf" format c >"$tmp_dir/arm64.h"
require_struct "$tmp_dir/arm64.h" task_struct
require_struct "$tmp_dir/arm64.h" user_pt_regs '[[:space:]]regs\[31\];'
require_struct "$tmp_dir/arm64.h" pt_regs '[[:space:]]regs\[31\];'
run mkdir -p bpf/include/arm64
run mv "$tmp_dir/arm64.h" bpf/include/arm64/vmlinux.h

wc -c bpf/include/x86/vmlinux.h bpf/include/arm64/vmlinux.h
