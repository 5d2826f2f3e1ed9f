#!/bin/sh
# Writes the files the demo's nginx servers hand out with sendfile: random
# data from 4 KiB to 64 MiB. Runs once per `docker compose up`; files that
# already exist in the volume are kept.
#
#   sh gen-files.sh DIR
set -eu

dir="${1:-/srv/files}"
mkdir -p "$dir"
chmod 0755 "$dir"

# make NAME KIB: write KIB KiB of random data to DIR/NAME unless it exists.
make() {
	if [ -s "$dir/$1" ]; then
		return 0
	fi
	dd if=/dev/urandom of="$dir/$1.tmp" bs=1024 count="$2" 2>/dev/null
	mv "$dir/$1.tmp" "$dir/$1"
	echo "gen-files: wrote $dir/$1 ($2 KiB)"
}

make 4k.bin 4
make 64k.bin 64
make 1m.bin 1024
make 16m.bin 16384
make 64m.bin 65536
chmod 0644 "$dir"/*.bin
echo "gen-files: done"
