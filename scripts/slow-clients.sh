#!/usr/bin/env bash
# Slow clients against the real civic-backoffice (release build, default limits unless
# given): starts it on a free loopback port, opens N (default 400) connections that send a
# request head one byte a second, pings it every 100 ms meanwhile, and prints the pings'
# latency (p50 / p99 / max), how many slow connections the server closed and after how
# long, and the server's open file descriptors before, at most during, and after.
#
#   scripts/slow-clients.sh [N] [extra civic-backoffice flags, e.g. --header-read-timeout-s 5]
#
# Exits non-zero when a slow connection was never closed or a normal request failed.
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-400}
shift || true
target=${CARGO_TARGET_DIR:-target}
cargo build --release --quiet -p civic-backoffice --bin civic-backoffice --example slow_clients
dir=$(mktemp -d)
trap 'kill "${bo:-}" "${sampler:-}" 2>/dev/null || true; rm -rf "$dir"' EXIT
"$target/release/civic-backoffice" --listen 127.0.0.1:0 --db "$dir/bo.sqlite" \
  --log-level warn "$@" >"$dir/out" 2>"$dir/err" &
bo=$!
for _ in $(seq 1 100); do [ -s "$dir/out" ] && break; sleep 0.1; done
addr=$(head -n1 "$dir/out")
[ -n "$addr" ] || { echo "civic-backoffice did not start:" >&2; cat "$dir/err" >&2; exit 1; }
fds() { ls "/proc/$bo/fd" 2>/dev/null | wc -l; }
before=$(fds)
( while kill -0 "$bo" 2>/dev/null; do fds; sleep 0.2; done ) >"$dir/fds" &
sampler=$!
echo "civic-backoffice on $addr ($*), $n slow connections"
status=0
"$target/release/examples/slow_clients" "$addr" "$n" || status=$?
sleep 0.5
kill "$sampler" 2>/dev/null || true
echo "server fds: $before before, $(sort -n "$dir/fds" | tail -n1) at most during, $(fds) after"
if [ -s "$dir/err" ]; then echo "server log (warnings):"; sed 's/^/  /' "$dir/err" | tail -n 5; fi
exit "$status"
