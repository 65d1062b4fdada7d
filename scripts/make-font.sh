#!/usr/bin/env bash
# Regenerate assets/fonts/NotoSansSC-Kiosk.otf: the "Noto Sans CJK SC" face
# of Debian's fonts-noto-cjk NotoSansCJK-Regular.ttc, subset to the Unicode
# ranges the kiosk needs (Latin-1, punctuation, symbols, CJK URO + Ext A,
# compatibility ideographs, fullwidth forms).
#
# Requirements:
#   apt-get install -y --no-install-recommends fonts-noto-cjk
#   pip install fonttools          (provides pyftsubset; built with 4.68.0)
#
# Usage: bash scripts/make-font.sh        (run from anywhere)
# Env overrides: NOTO_CJK_TTC=/path/to/NotoSansCJK-Regular.ttc
#
# The family name is deliberately NOT changed (stays "Noto Sans CJK SC"); see
# assets/fonts/README.md for the licence notes.
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
out_dir="$repo_root/assets/fonts"
out="$out_dir/NotoSansSC-Kiosk.otf"
family="Noto Sans CJK SC"

PYTHON="${PYTHON:-python3}"

# --- locate the Debian .ttc -------------------------------------------------
ttc="${NOTO_CJK_TTC:-}"
if [[ -z "$ttc" ]] && command -v dpkg >/dev/null 2>&1; then
    ttc="$(dpkg -L fonts-noto-cjk 2>/dev/null | grep '/NotoSansCJK-Regular\.ttc$' | head -n1 || true)"
fi
if [[ -z "$ttc" ]]; then
    ttc="/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc"
fi
if [[ ! -f "$ttc" ]]; then
    echo "error: NotoSansCJK-Regular.ttc not found (install fonts-noto-cjk, or set NOTO_CJK_TTC)" >&2
    exit 1
fi

if ! "$PYTHON" -c 'import fontTools' 2>/dev/null; then
    echo "error: fontTools not importable by $PYTHON (pip install fonttools)" >&2
    exit 1
fi

# --- find the face whose family name (nameID 1) is exactly "Noto Sans CJK SC"
# (index 2 in Debian's 20220127 build; looked up rather than hard-coded).
face="$("$PYTHON" - "$ttc" "$family" <<'PY'
import sys
from fontTools.ttLib import TTCollection
path, want = sys.argv[1], sys.argv[2]
coll = TTCollection(path, lazy=True)
hits = [i for i, f in enumerate(coll.fonts) if f["name"].getDebugName(1) == want]
if len(hits) != 1:
    sys.exit(f"error: expected exactly one face named {want!r} in {path}, got {hits}")
print(hits[0])
PY
)"
echo "source: $ttc (face $face = \"$family\")"
if command -v dpkg-query >/dev/null 2>&1; then
    echo "package: fonts-noto-cjk $(dpkg-query -W -f='${Version}' fonts-noto-cjk 2>/dev/null || echo '?')"
fi
echo "fonttools: $("$PYTHON" -c 'import fontTools; print(fontTools.version)')"

# --- subset -----------------------------------------------------------------
# Latin with pinyin tone letters, IPA/modifier tone marks, Greek, Cyrillic, number forms
# (Roman numerals), maths, box drawing, bopomofo and the katakana middle dot are in
# GB 2312 and appear on forms; the CJK blocks cover GB 2312, GBK and Extension A.
unicodes="U+0020-007E,U+00A0-017F,U+01CD-01DC,U+0250-02DF,U+0391-03C9,U+0401-0451,\
U+2000-206F,U+2100-218F,U+2190-21FF,U+2200-22FF,U+2460-24FF,U+2500-257F,U+25A0-25FF,\
U+2600-26FF,U+3000-303F,U+30FB,U+3100-312F,U+3200-32FF,U+3400-4DBF,\
U+4E00-9FFF,U+F900-FAFF,U+FE30-FE4F,U+FF00-FFEF"

mkdir -p "$out_dir"
tmp="$(mktemp "$out_dir/.NotoSansSC-Kiosk.XXXXXX.otf")"
trap 'rm -f "$tmp"' EXIT

# Default layout features are kept (pyftsubset's default list) except 'locl': it only
# swaps in Japanese, Korean and Traditional shapes for text tagged with those languages,
# and its ~18,000 extra glyphs would nearly double the file.
# --name-IDs/--name-languages/--name-legacy: keep the whole name table
# (copyright, licence, trademark, zh-CN names) unchanged.
# --notdef-outline: keep the .notdef box so missing characters are visible.
"$PYTHON" -m fontTools.subset "$ttc" \
    --font-number="$face" \
    --unicodes="$unicodes" \
    --no-hinting \
    --layout-features-='locl' \
    --name-IDs='*' \
    --name-languages='*' \
    --name-legacy \
    --notdef-outline \
    --output-file="$tmp"

# --- sanity check: family name preserved, CFF outlines, required hanzi ------
"$PYTHON" - "$tmp" "$family" <<'PY'
import sys
from fontTools.ttLib import TTFont
path, want = sys.argv[1], sys.argv[2]
f = TTFont(path, lazy=True)
fam = f["name"].getDebugName(1)
assert fam == want, f"family name changed: {fam!r}"
assert "CFF " in f, "expected CFF outlines"
cmap = f.getBestCmap()
missing = [c for c in "永国上海市政务服务0Aa" if ord(c) not in cmap]
assert not missing, f"missing {missing}"
PY

mv -f "$tmp" "$out"
trap - EXIT
chmod 0644 "$out"
echo "wrote $out ($(stat -c %s "$out") bytes)"
if command -v sha256sum >/dev/null 2>&1; then
    sha256sum "$out"
fi
