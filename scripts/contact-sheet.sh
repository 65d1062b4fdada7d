#!/usr/bin/env bash
# One PNG of every resident and technician page, as a person reviews them: each page in
# portrait (1080x1920) and landscape (1920x1080), normal and 长者模式, Chinese and English,
# rendered headless by `civic-kiosk screenshot --page all` (the same pages the layout test
# walks). Rows are pages; the eight columns are the variants, labelled.
#
#   scripts/contact-sheet.sh [OUT.png]     (default target/contact-sheet.png)
#
# Needs: imagemagick (montage), installed here if missing.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib/apt-need.sh
apt_need imagemagick
out=${1:-target/contact-sheet.png}
export RUST_FONTCONFIG_DLOPEN=1
cargo build --quiet --bin civic-kiosk
bin=target/debug/civic-kiosk
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
variants=() files=()
for size in 1080x1920 1920x1080; do
  for large in "" --large-font; do
    for lang in zh en; do
      v="$size${large:+-large}-$lang"
      mkdir -p "$work/$v"
      args=(screenshot --page all --size "$size" --out "$work/$v")
      [ -n "$large" ] && args+=(--large-font)
      [ "$lang" = en ] && args+=(--lang en)
      "$bin" "${args[@]}" >/dev/null
      variants+=("$v")
      # screenshot's own file names: PAGE-WxH[-large][-en].png
      files+=("$size${large:+-large}$([ "$lang" = en ] && echo -en)")
    done
  done
done
# Pages in name order; one tile per page and variant.
tiles=()
for f in "$work/${variants[0]}"/*.png; do
  page=$(basename "$f" "-${files[0]}.png")
  for i in "${!variants[@]}"; do
    tiles+=(-label "$page ${variants[$i]}" "$work/${variants[$i]}/$page-${files[$i]}.png")
  done
done
montage "${tiles[@]}" -tile "${#variants[@]}x" -geometry 270x270+6+6 -pointsize 13 \
  -background '#dddddd' "$out"
echo "$out: $(( ${#tiles[@]} / 3 )) screens, ${#variants[@]} variants per page"
