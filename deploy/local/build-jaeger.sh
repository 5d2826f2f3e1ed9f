#!/usr/bin/env bash
# Builds the Jaeger binary pinned in deploy/local/go.mod, or reuses a cached
# build, and prints the binary's path as the last line on stdout. Progress
# messages go to stderr.
#
# The binary lives outside the repository, under
# ${SENDFILE_OTEL_JAEGER_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/sendfile-otel},
# because it is about 120 MB. It is rebuilt when it is missing or when
# deploy/local/go.mod or go.sum changed since it was built. Set
# SENDFILE_OTEL_JAEGER_REBUILD=1 to force a rebuild.
#
# With --cached-only the script never builds: it prints the cached binary's
# path if that is up to date, and otherwise exits with status 3.
#
# Jaeger gets a Go module of its own (deploy/local/go.mod) because it pins
# older OpenTelemetry packages than the agent's root module does.
#
# The binary serves the query API (/api/services, /api/traces) and OTLP, but
# its web UI shows a placeholder page: the UI assets are built with npm in
# Jaeger's own repository and are not part of the Go module.
set -euo pipefail

cached_only=0
case "${1:-}" in
"") ;;
--cached-only) cached_only=1 ;;
*)
	echo "usage: build-jaeger.sh [--cached-only]" >&2
	exit 2
	;;
esac

module_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
jaeger_package="github.com/jaegertracing/jaeger/cmd/jaeger"

# Read the pinned version from go.mod, so that bumping it with
# `go get -tool github.com/jaegertracing/jaeger/cmd/jaeger@VERSION` is enough.
jaeger_version="$(awk '$1 == "github.com/jaegertracing/jaeger" { print $2; exit }' "$module_dir/go.mod")"
if [[ -z "$jaeger_version" ]]; then
	echo "build-jaeger.sh: no github.com/jaegertracing/jaeger requirement in $module_dir/go.mod" >&2
	exit 1
fi

cache_dir="${SENDFILE_OTEL_JAEGER_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/sendfile-otel}"
binary="$cache_dir/jaeger-$jaeger_version"
hash_file="$binary.sha256"

mkdir -p "$cache_dir"

# Several test packages may call this script at the same time, so only one
# of them builds while the others wait for the lock and then reuse the result.
exec 9>"$cache_dir/jaeger-$jaeger_version.lock"
if ! flock --nonblock 9; then
	echo "waiting for another build of Jaeger $jaeger_version (lock $cache_dir/jaeger-$jaeger_version.lock)" >&2
	flock 9
fi

want_hash="$(cat "$module_dir/go.mod" "$module_dir/go.sum" | sha256sum | cut -d' ' -f1)"
have_hash=""
if [[ -f "$hash_file" ]]; then
	have_hash="$(cat "$hash_file")"
fi

if [[ -x "$binary" && "$have_hash" == "$want_hash" && "${SENDFILE_OTEL_JAEGER_REBUILD:-0}" != "1" ]]; then
	echo "reusing cached Jaeger $jaeger_version" >&2
	echo "$binary"
	exit 0
fi

if [[ "$cached_only" == 1 ]]; then
	echo "no up-to-date cached build of Jaeger $jaeger_version at $binary" >&2
	exit 3
fi

echo "building Jaeger $jaeger_version from source (takes about 5 minutes the first time) into $binary" >&2
start_seconds=$SECONDS

# Build into a temporary directory next to the target, so an interrupted
# build never leaves a truncated binary at the cached path.
tmp_dir="$(mktemp -d "$cache_dir/jaeger-$jaeger_version.tmp.XXXXXX")"
trap 'rm -rf "$tmp_dir"' EXIT
tmp_binary="$tmp_dir/jaeger"

(
	cd "$module_dir"
	# GOWORK=off keeps a go.work file higher up from pulling this module into
	# the agent's build. CGO_ENABLED=0 gives a static binary and needs no C compiler.
	GOWORK=off CGO_ENABLED=0 go build \
		-trimpath \
		-ldflags "-X github.com/jaegertracing/jaeger/internal/version.latestVersion=$jaeger_version" \
		-o "$tmp_binary" \
		"$jaeger_package"
)

mv -f "$tmp_binary" "$binary"
echo "$want_hash" >"$hash_file"
echo "built Jaeger $jaeger_version in $((SECONDS - start_seconds)) s" >&2
echo "$binary"
