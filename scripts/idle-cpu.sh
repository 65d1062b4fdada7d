#!/usr/bin/env bash
# CPU the terminal uses while idle, under Xvfb at 1080x1920 with the shipped config: SECONDS
# (default 60) on the attract screen, then SECONDS on home (one touch wakes it; the idle
# timeout, 90 s, is longer than the window). Prints CPU seconds and percent of one core.
# Goals: < 3 % on attract, < 1 % on home.
#
# Needs: xvfb, xdotool, python3 with python-xlib (installed with pip if missing).
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-60}
python3 -c 'import Xlib' 2>/dev/null || pip install --quiet python-xlib
cargo build --release --quiet --bin civic-kiosk
display=:${XVFB_DISPLAY:-96}
Xvfb "$display" -screen 0 1080x1920x24 -nolisten tcp >/dev/null 2>&1 &
xvfb=$!
trap 'kill "${app:-}" "$xvfb" 2>/dev/null || true' EXIT
export DISPLAY=$display
sleep 1
./target/release/civic-kiosk >/dev/null 2>&1 &
app=$!
pixel() { python3 - "$@" <<'PY'
import sys
from Xlib import display
d = display.Display(); r = d.screen().root
img = r.get_image(600, 4, 1, 1, 2, 0xFFFFFFFF)
print("%02x%02x%02x" % (img.data[2], img.data[1], img.data[0]))
PY
}
wait_for() { # colour
  for _ in $(seq 1 300); do [ "$(pixel)" = "$1" ] && return 0; sleep 0.1; done
  echo "screen never showed $1"; exit 1
}
wait_for 0b4fa3
sleep 2  # let start-up work (catalogue load, first sync) finish
printf 'attract, %s s: ' "$secs"
python3 scripts/lib/uiprobe.py cpu "$secs" "$app"
xdotool mousemove 540 960 click 1
wait_for ffffff
sleep 2
printf 'home,    %s s: ' "$secs"
python3 scripts/lib/uiprobe.py cpu "$secs" "$app"
