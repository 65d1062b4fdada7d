#!/usr/bin/env bash
# CPU a held card job costs the CLI: `civic-kiosk offline-code` holding a card for
# SECONDS (default 60) against (1) ippeveprinter listing no card size (CUPS's IPP
# Everywhere simulator, Debian cups-ipp-utils; a private dbus-daemon for its Avahi
# client) and (2) a scripted ESC/POS printer on TCP that answers DLE EOT with paper out.
# Prints the CPU-seconds (user + system, from /proc) the CLI used while held, and the
# requests / connections the printer saw. The shipped waits apply (printers.poll_ms 2000,
# doubling to poll_max_s 30). Ctrl+C (SIGINT) ends each job, as a technician would.
#
# Needs: cups-ipp-utils, dbus-daemon, python3; builds the debug binaries
# (${CARGO_TARGET_DIR:-target}/debug) with RUST_FONTCONFIG_DLOPEN=1.
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-60}
export RUST_FONTCONFIG_DLOPEN=1
cargo build --quiet -p civic-kiosk -p civic-backoffice
bin=${CARGO_TARGET_DIR:-target}/debug
work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() { for _ in $(seq 1 200); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.05; done; echo "nothing on port $1" >&2; exit 1; }
cpu_s() { awk -v hz="$(getconf CLK_TCK)" '{printf "%.2f", ($14 + $15) / hz}' "/proc/$1/stat"; }

# The back office, its key; the shipped config pointed at it.
"$bin/civic-backoffice" --listen 127.0.0.1:0 --log-level warn --db "$work/bo.sqlite" >"$work/bo.out" &
pids+=($!)
for _ in $(seq 1 200); do [ "$(wc -l <"$work/bo.out")" -ge 2 ] && break; sleep 0.05; done
addr=$(sed -n 1p "$work/bo.out")
key=$(sed -n 2p "$work/bo.out" | sed 's/^public_key //')

config() { # DIR CARD_URI
  mkdir -p "$1"
  sed -e "s|^url = \"embedded\"|url = \"http://$addr/\"\npublic_key = \"$key\"|" \
      -e "s|^data_dir = \"../data\"|data_dir = \"$1/data\"|" \
      -e "s|^dir = \"../logs\"|dir = \"$1/logs\"|" \
      -e "s|^uri = \"pdf://spool/card\"|uri = \"$2\"|" config/kiosk.toml >"$1/kiosk.toml"
  echo "$1/kiosk.toml"
}

hold() { # NAME CONFIG ID EXPECT
  local out="$work/$1.out"
  "$bin/civic-kiosk" --config "$2" offline-code --id "$3" --yes --wait-timeout 3600 >"$out" 2>&1 &
  local app=$!
  pids+=("$app")
  for _ in $(seq 1 600); do grep -q "$4" "$out" && break; sleep 0.1; done
  grep -q "$4" "$out" || { echo "$1: never held:"; cat "$out"; exit 1; }
  local before after
  before=$(cpu_s "$app")
  sleep "$secs"
  after=$(cpu_s "$app")
  kill -INT "$app"
  wait "$app" || true
  echo "$1: held $secs s: $(awk -v a="$after" -v b="$before" 'BEGIN{printf "%.2f", a - b}') CPU-s (total for the process $after s)"
}

# (1) ippeveprinter, stock media (no card size).
dbus-daemon --session --nofork --nopidfile --address="unix:path=$work/bus" >/dev/null &
pids+=($!)
for _ in $(seq 1 100); do [ -S "$work/bus" ] && break; sleep 0.05; done
ipp_port=$(free_port)
mkdir -p "$work/ipp-spool"
DBUS_SYSTEM_BUS_ADDRESS="unix:path=$work/bus" ippeveprinter -vvv -r off -n localhost -p "$ipp_port" \
  -d "$work/ipp-spool" -f application/pdf CivicHeld 2>"$work/ipp.log" &
pids+=($!)
wait_port "$ipp_port"
cfg=$(config "$work/ipp" "ipp://127.0.0.1:$ipp_port/ipp/print")
before=$(grep -c ' POST /ipp/print' "$work/ipp.log" || true)
hold "ipp (no card media)" "$cfg" 310105195001011231 "打印机不支持卡片尺寸"
echo "  IPP requests while held (incl. the first look): $(( $(grep -c ' POST /ipp/print' "$work/ipp.log") - before ))"

# (2) ESC/POS on TCP, paper out (DLE EOT 2 bit 5, DLE EOT 4 bits 5-6).
esc_port=$(free_port)
python3 - "$esc_port" "$work/esc.count" <<'PY' &
import socket, sys, threading
port, count_file = int(sys.argv[1]), sys.argv[2]
answers = {1: 0x12, 2: 0x12 | 0x20, 4: 0x12 | 0x60}
n = 0
lock = threading.Lock()
def serve(c):
    buf = b""
    while True:
        d = c.recv(4096)
        if not d:
            break
        buf += d
        while len(buf) >= 3 and b"\x10\x04" in buf:
            i = buf.index(b"\x10\x04")
            if len(buf) < i + 3:
                break
            c.sendall(bytes([answers.get(buf[i + 2], 0x12)]))
            buf = buf[i + 3:]
    c.close()
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", port)); s.listen(16)
while True:
    c, _ = s.accept()
    with lock:
        n += 1
        open(count_file, "w").write(str(n))
    threading.Thread(target=serve, args=(c,), daemon=True).start()
PY
pids+=($!)
wait_port "$esc_port"
sleep 0.2
cfg=$(config "$work/esc" "escpos+tcp://127.0.0.1:$esc_port")
before=$(cat "$work/esc.count" 2>/dev/null || echo 0)
hold "escpos (paper out)" "$cfg" 310105195209043689 "打印机缺纸，等待中"
echo "  connections while held (incl. the first look): $(( $(cat "$work/esc.count") - before ))"
