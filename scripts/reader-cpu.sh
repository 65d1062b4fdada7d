#!/usr/bin/env bash
# What the ID card reader costs the running terminal: `civic-kiosk run --headless` (the
# embedded back office, the shipped config) with identity.reader on the simulated GA/T 467
# reader (gat467-sim on a pty), SECONDS (default 30) with no card on it, then SECONDS with
# a card left on it. Prints the CPU-seconds (user + system, from /proc) of the reader's
# thread (gat467-reader) and of the whole process, and the frames the reader received
# per second (the sim counts them; the budget is a find every 300 ms, at most 4 a second).
#
# Needs: python3 (none else); builds the debug binaries with RUST_FONTCONFIG_DLOPEN=1.
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-30}
export RUST_FONTCONFIG_DLOPEN=1
cargo build --quiet -p civic-kiosk -p gat467-sim
bin=${CARGO_TARGET_DIR:-target}/debug
work=$(mktemp -d)
pids=()
cleanup() { exec 7>&- 2>/dev/null || true; for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT
clk=$(getconf CLK_TCK)
cpu_of() { awk -v hz="$clk" '{printf "%.2f", ($14 + $15) / hz}' "$1"; }
reader_stat() { # PID: the stat file of its gat467-reader thread
  for t in /proc/"$1"/task/*; do
    [ "$(cat "$t/comm" 2>/dev/null)" = gat467-reader ] && { echo "$t/stat"; return 0; }
  done
  return 1
}

mkfifo "$work/sim.in"
"$bin/gat467-sim" --card none <"$work/sim.in" >"$work/sim.out" 2>"$work/sim.err" &
pids+=($!)
exec 7>"$work/sim.in"
for _ in $(seq 1 100); do grep -q '^path=' "$work/sim.out" && break; sleep 0.05; done
path=$(sed -n 's/^path=//p' "$work/sim.out")
[ -n "$path" ] || { echo "gat467-sim did not start:"; cat "$work/sim.err"; exit 1; }

sed -e "s|^data_dir = \"../data\"|data_dir = \"$work/data\"|" \
    -e "s|^dir = \"../logs\"|dir = \"$work/logs\"|" \
    -e "s|^reader = \"\"|reader = \"gat467+serial://$path?baud=115200\"|" \
    config/kiosk.toml >"$work/kiosk.toml"
"$bin/civic-kiosk" --config "$work/kiosk.toml" run --headless >"$work/kiosk.out" 2>&1 &
app=$!
pids+=("$app")
stat=""
for _ in $(seq 1 200); do stat=$(reader_stat "$app" || true); [ -n "$stat" ] && break; sleep 0.1; done
[ -n "$stat" ] || { echo "no gat467-reader thread:"; cat "$work/kiosk.out"; exit 1; }
sleep 2

frames() { echo status >&7; sleep 0.3; tail -1 "$work/sim.out" | python3 -c 'import json,sys; print(json.load(sys.stdin)["frames"])'; }
measure() { # LABEL
  local t0 p0 f0 t1 p1 f1
  t0=$(cpu_of "$stat"); p0=$(cpu_of "/proc/$app/stat"); f0=$(frames)
  sleep "$secs"
  t1=$(cpu_of "$stat"); p1=$(cpu_of "/proc/$app/stat"); f1=$(frames)
  awk -v l="$1" -v s="$secs" -v t="$t1" -v t0="$t0" -v p="$p1" -v p0="$p0" -v f="$f1" -v f0="$f0" \
    'BEGIN{printf "%s, %d s: reader thread %.2f CPU-s, whole terminal %.2f CPU-s, %.1f frames/s to the reader\n", l, s, t - t0, p - p0, (f - f0) / s}'
}
measure "no card on the reader"
echo "place demo" >&7
sleep 2
measure "a card left on the reader"
echo quit >&7
