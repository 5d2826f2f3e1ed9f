#!/bin/sh
# /init of the test VM's initramfs (built by test/vm). It prepares the
# filesystems and limits the privileged suite needs, runs the suite once per
# attach mode and powers off. The host reads the results from the serial
# console, between lines that start with "SENDFILE-OTEL-VMTEST".
#
# /etc/vmtest.conf, written by test/vm, sets:
#   VMTEST_MODES         attach modes to run, separated by spaces
#   VMTEST_MODE_TIMEOUT  seconds one mode may run before it gets SIGQUIT
#   VMTEST_TEST_ARGS     extra arguments for the test binary, split at spaces
# and exports any extra environment variables for the suite.

# No pathname expansion: VMTEST_TEST_ARGS, such as -test.run=Test*, is
# expanded unquoted so that it splits into arguments.
set -f

/bin/busybox mkdir -p /bin /sbin /usr/bin /usr/sbin
/bin/busybox --install -s
export PATH=/bin:/sbin:/usr/bin:/usr/sbin
export HOME=/root

marker() {
	echo "SENDFILE-OTEL-VMTEST $*"
}

# The suite and cilium/ebpf read /proc and /sys, so everything is mounted
# before the test binary starts. A failed mount is reported and the run goes
# on, so that the suite names what is missing.
mount_fs() {
	fstype=$1 target=$2
	mkdir -p "$target"
	if ! mount -t "$fstype" "$fstype" "$target"; then
		marker "WARNING mount of $fstype on $target failed"
	fi
}
mount_fs proc /proc
mount_fs sysfs /sys
mount_fs devtmpfs /dev
mount_fs tracefs /sys/kernel/tracing
mount_fs debugfs /sys/kernel/debug
mount_fs bpf /sys/fs/bpf
mount_fs cgroup2 /sys/fs/cgroup
mount_fs tmpfs /tmp
mkdir -p /dev/shm && mount -t tmpfs tmpfs /dev/shm

# The suite serves files over TCP on 127.0.0.1.
ip link set lo up || marker "WARNING ip link set lo up failed"
ulimit -n 65536 || marker "WARNING ulimit -n 65536 failed"

. /etc/vmtest.conf

marker "BOOT kernel=$(uname -r) uptime=$(cut -d' ' -f1 /proc/uptime)"

for mode in $VMTEST_MODES; do
	marker "BEGIN mode=$mode"
	start=$(date +%s)
	# SIGQUIT makes the Go test binary print every goroutine's stack and exit
	# with status 2. SIGKILL follows 10 s later if it does not exit.
	# shellcheck disable=SC2086 # VMTEST_TEST_ARGS is split on purpose.
	SENDFILE_OTEL_TEST_PROBE=$mode \
		SENDFILE_OTEL_REQUIRE_PRIVILEGED=1 \
		SENDFILE_OTEL_CALLERS_DIR=/callers \
		SENDFILE_OTEL_VM=1 \
		timeout -s QUIT -k 10 "$VMTEST_MODE_TIMEOUT" \
		/sendfile-otel-bpf.test -test.v -test.count=1 $VMTEST_TEST_ARGS </dev/null 2>&1
	status=$?
	marker "END mode=$mode status=$status seconds=$(($(date +%s) - start))"
done

marker "DONE"
sync
poweroff -f
