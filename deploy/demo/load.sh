#!/bin/sh
# The demo's load client: downloads the generated files from each server in
# LOAD_TARGETS, pauses LOAD_PAUSE_SECONDS, and starts again until the
# container is stopped.
#
# Every fifth round it also starts the 64 MiB download and hangs up after
# 64 KiB, so the server's sendfile fails (EPIPE or ECONNRESET) and the
# dashboard's error panels have something to show. A request for a missing
# file gives a 404, which involves no sendfile call at all.
set -u

targets="${LOAD_TARGETS:-http://nginx}"
pause="${LOAD_PAUSE_SECONDS:-1}"
round=0

echo "load: downloading from $targets every ${pause}s"
while :; do
	round=$((round + 1))
	for target in $targets; do
		for file in 4k.bin 64k.bin 1m.bin 16m.bin; do
			wget -q -O /dev/null "$target/$file" || echo "load: $target/$file failed" >&2
		done
		if [ $((round % 5)) -eq 0 ]; then
			wget -q -O - "$target/64m.bin" 2>/dev/null | head -c 65536 >/dev/null
		fi
		wget -q -O /dev/null "$target/missing.bin" 2>/dev/null || true
	done
	sleep "$pause"
done
