#!/usr/bin/env bash
# The long 好差评 chaos run: `civic-kiosk sync` as a child process against the reference back
# office with --fail-rate 0.2 --drop-rate 0.1 --lose-reply-rate 0.1, killed with SIGKILL at
# least KILLS times (default 200) at random moments and at each named failpoint, restarted
# until it exits 0. Prints the kills, the lost and duplicated counts (both must be 0), and
# how many retries the back office recognised as duplicates.
#
#   scripts/chaos-ratings.sh [KILLS] [SEED]
#
# The CI run of the same test uses 20 kills (`cargo test --test it ratings::`). `--workspace`
# builds the civic-backoffice binary the test runs beside its own.
set -euo pipefail
cd "$(dirname "$0")/.."
kills="${1:-200}"
seed="${2:-$(date +%s)}"
echo "== chaos: $kills kills, seed $seed (rerun with: $0 $kills $seed)"
log="$(mktemp)"
trap 'rm -f "$log"' EXIT
start=$(date +%s)
if ! CIVIC_CHAOS_KILLS="$kills" CIVIC_CHAOS_SEED="$seed" \
    cargo test --release --locked --workspace --test it ratings::no_rating_is_lost_or_counted_twice \
    -- --nocapture 2>&1 | tee "$log" | grep -E '^(chaos:|CHAOS RESULT|test result)'; then
  echo "== FAILED; the full output:"
  cat "$log"
  exit 1
fi
grep -q 'test result: ok. 1 passed' "$log" || { echo "== FAILED"; cat "$log"; exit 1; }
echo "== done in $(( $(date +%s) - start )) s"
