#!/usr/bin/env bash
# First paint and memory of the attract screen, side by side with the floor (a bare Slint
# window built with the same toolchain) and with what a district would otherwise deploy
# (Debian's Chromium in --kiosk mode showing a static page that looks like the attract
# screen, scripts/lib/attract.html). Under Xvfb at 1080x1920, RUNS runs each (default 5):
# first paint = exec until the screen's blue appears at pixel (600,4); PSS = the whole
# process tree's proportional set size 3 s later. Prints medians and ratios.
#
# Needs: xvfb, python3 with python-xlib (installed here with pip if missing), and for the
# comparison chromium (apt-get install chromium); without it the Chromium row is skipped.
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${RUNS:-5}
python3 -c 'import Xlib' 2>/dev/null || pip install --quiet python-xlib
cargo build --release --quiet --bin civic-kiosk --example bare_window
display=:${XVFB_DISPLAY:-98}
Xvfb "$display" -screen 0 1080x1920x24 -nolisten tcp >/dev/null 2>&1 &
xvfb=$!
profile=$(mktemp -d)
trap 'kill "$xvfb" 2>/dev/null || true; rm -rf "$profile"' EXIT
export DISPLAY=$display
sleep 1
probe="python3 scripts/lib/uiprobe.py paint 600 4 0b4fa3 --"

median() { sort -n | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }

measure() { # name, command…
  local name=$1; shift
  local paints=() pss=()
  for _ in $(seq 1 "$runs"); do
    line=$($probe "$@") || { echo "$name: not painted ($line)"; return 1; }
    paints+=("$(sed -E 's/.*paint_s=([0-9.]+).*/\1/' <<<"$line")")
    pss+=("$(sed -E 's/.*pss_mb=([0-9.]+).*/\1/' <<<"$line")")
  done
  local p m
  p=$(printf '%s\n' "${paints[@]}" | median)
  m=$(printf '%s\n' "${pss[@]}" | median)
  printf '%-34s first paint %6.3f s (runs: %s)   PSS %6.1f MB\n' "$name" "$p" "${paints[*]}" "$m"
  echo "$p $m" >"$profile/$name.fig"
}

measure kiosk ./target/release/civic-kiosk
measure bare ./target/release/examples/bare_window
chromium_bin=$(command -v chromium || command -v chromium-browser || true)
if [ -n "$chromium_bin" ]; then
  measure chromium "$chromium_bin" --kiosk --no-sandbox --disable-gpu --no-first-run \
    --disable-background-networking --disable-component-update --disable-sync \
    --disable-quic --window-position=0,0 --window-size=1080,1920 \
    --user-data-dir="$profile/chromium" "file://$PWD/scripts/lib/attract.html"
else
  echo "chromium: not installed (apt-get install chromium) - comparison skipped"
fi

read -r kp km <"$profile/kiosk.fig"
read -r bp bm <"$profile/bare.fig"
printf 'kiosk / bare Slint window:  first paint %.2fx (goal <= 1.5x), PSS %.2fx\n' \
  "$(echo "$kp / $bp" | bc -l)" "$(echo "$km / $bm" | bc -l)"
printf 'kiosk PSS %.1f MB (goal <= 50 MB)\n' "$km"
if [ -f "$profile/chromium.fig" ]; then
  read -r cp cm <"$profile/chromium.fig"
  printf 'Chromium / kiosk:           first paint %.2fx (goal >= 3x), PSS %.2fx\n' \
    "$(echo "$cp / $kp" | bc -l)" "$(echo "$cm / $km" | bc -l)"
fi
