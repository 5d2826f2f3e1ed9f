#!/usr/bin/env bash
# Builds the agent, the workload and the driver, then runs the benchmarks and
# writes docs/benchmarks.md and docs/benchmarks/*.png. Run as root from any
# directory; `make bench` runs it.
#
# Environment (defaults in brackets):
#   BENCH_ROUNDS [3]           rounds of every phase
#   BENCH_SECONDS [2.5]        seconds of each rate and nginx run; tight loops run a third of it
#   BENCH_RATES [10000,50000,100000,200000,400000]  offered sendfile calls per second
#   BENCH_PHASES [tight,rates,nginx,profile]         phases to run
#   BENCH_PROFILE_RATE [50000], BENCH_PROFILE_SECONDS [8]   the profiled load
#   BENCH_KEEP [0]             1 keeps the scratch directory with the tracers' logs
#   GOGC, OTEL_BSP_*           passed to the agent, for experiments with its span pipeline
set -euo pipefail

bench_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo_root=$(cd "$bench_dir/../.." && pwd)
go=${GO:-go}

fail() {
	echo "bench: $*" >&2
	exit 1
}

# Check what cannot be installed from here before spending time on builds.
[[ $(id -u) -eq 0 ]] || fail "run as root: the benchmarks load BPF programs and start nginx"
command -v "$go" >/dev/null || fail "go not found: install Go 1.26 or set GO"
phases=${BENCH_PHASES:-tight,rates,nginx,profile}
if [[ $phases == *tight* || $phases == *rates* || $phases == *nginx* ]]; then
	command -v bpftrace >/dev/null ||
		fail "bpftrace not found: it is the peer the agent is compared with; install it (Debian: apt-get install -y bpftrace)"
fi
if [[ $phases == *nginx* ]]; then
	command -v nginx >/dev/null || [[ -x /usr/sbin/nginx ]] ||
		fail "nginx not found: install it (Debian: apt-get install -y nginx-light)"
fi

work=$(mktemp -d /tmp/sendfile-otel-bench.XXXXXX)
# nginx's worker drops root and must be able to read the files under it.
chmod 755 "$work"
cleanup() {
	if [[ ${BENCH_KEEP:-0} == 1 ]]; then
		echo "bench: logs kept in $work" >&2
	else
		rm -rf "$work"
	fi
}
trap cleanup EXIT

echo "bench: building the agent (make build)" >&2
make -C "$repo_root" --no-print-directory build >&2

# The profile needs the agent's symbols, which `make build` strips with -s -w.
echo "bench: building the agent with symbols, the workload and the driver" >&2
(cd "$repo_root" && CGO_ENABLED=0 "$go" build -trimpath -o "$work/sendfile-otel-symbols" ./cmd/sendfile-otel)
(cd "$bench_dir" && CGO_ENABLED=0 "$go" build -trimpath -o "$work/workload" ./workload)
(cd "$bench_dir" && "$go" build -trimpath -o "$work/bench" .)

command="make bench"
# GOGC and OTEL_BSP_* reach the agent, so they belong in the command too.
for var in BENCH_ROUNDS BENCH_SECONDS BENCH_RATES BENCH_PHASES BENCH_PROFILE_RATE BENCH_PROFILE_SECONDS \
	GOGC OTEL_BSP_MAX_QUEUE_SIZE OTEL_BSP_MAX_EXPORT_BATCH_SIZE OTEL_BSP_SCHEDULE_DELAY OTEL_BSP_EXPORT_TIMEOUT; do
	if [[ -n ${!var:-} ]]; then
		command="$var=${!var} $command"
	fi
done

"$work/bench" \
	-repo "$repo_root" \
	-agent "$repo_root/build/sendfile-otel" \
	-agent-symbols "$work/sendfile-otel-symbols" \
	-workload "$work/workload" \
	-work "$work" \
	-command "$command" \
	-rounds "${BENCH_ROUNDS:-3}" \
	-seconds "${BENCH_SECONDS:-2.5}" \
	-rates "${BENCH_RATES:-10000,50000,100000,200000,400000}" \
	-phases "$phases" \
	-profile-rate "${BENCH_PROFILE_RATE:-50000}" \
	-profile-seconds "${BENCH_PROFILE_SECONDS:-8}"
