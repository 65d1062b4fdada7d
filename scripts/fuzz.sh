#!/usr/bin/env bash
# Runs each cargo-fuzz target for SECONDS (default 60) and prints what it did.
#   scripts/fuzz.sh [SECONDS] [TARGET…]
# Targets: config_parse, id_parse, api_decode, escpos_status (fuzz/fuzz_targets/).
# Needs cargo-fuzz (`cargo install cargo-fuzz --locked`). cargo-fuzz wants a nightly
# compiler; this machine has stable only, so RUSTC_BOOTSTRAP=1 unlocks the flags it uses.
# The same properties run as proptests in `cargo test` (tests/it/properties.rs).
set -euo pipefail
cd "$(dirname "$0")/.."
secs="${1:-60}"
shift || true
targets=("$@")
if [ "${#targets[@]}" -eq 0 ]; then
  targets=(config_parse id_parse api_decode escpos_status)
fi
command -v cargo-fuzz >/dev/null || { echo "cargo-fuzz is not installed: cargo install cargo-fuzz --locked"; exit 2; }
export RUSTC_BOOTSTRAP=1
# fontique (through slint) wants RUST_FONTCONFIG_DLOPEN, as in .cargo/config.toml.
export RUST_FONTCONFIG_DLOPEN=1
failed=()
for t in "${targets[@]}"; do
  echo "== $t: ${secs} s"
  mkdir -p "fuzz/corpus/$t"
  log="$(mktemp)"
  if cargo fuzz run --sanitizer none "$t" "fuzz/corpus/$t" -- -max_total_time="$secs" -print_final_stats=1 >"$log" 2>&1; then
    grep -E "stat::number_of_executed_units|stat::new_units_added|Done [0-9]+ runs" "$log" | sed 's/^/   /'
    echo "   ok: no crash"
  else
    tail -40 "$log"
    failed+=("$t")
  fi
  rm -f "$log"
done
if [ "${#failed[@]}" -gt 0 ]; then
  echo "== crashed: ${failed[*]} (inputs in fuzz/artifacts/)"
  exit 1
fi
echo "== all targets ran ${secs} s without a crash"
