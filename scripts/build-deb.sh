#!/usr/bin/env bash
# Builds the Debian package with cargo-deb (release build, a few minutes cold) and lists
# its contents. Not part of .ci/run: too slow for every run.
#   scripts/build-deb.sh                  # default features (winit backend)
#   scripts/build-deb.sh --features backend-linuxkms   # extra cargo flags pass through
set -euo pipefail
cd "$(dirname "$0")/.."
if ! cargo deb --version >/dev/null 2>&1; then
  echo "== installing cargo-deb"
  cargo install cargo-deb --locked
fi
command -v dpkg-shlibdeps >/dev/null || {
  echo "== installing dpkg-dev (dpkg-shlibdeps works out the library dependencies)"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends dpkg-dev
}
cargo deb --locked "$@"
deb=$(ls -t target/debian/*.deb | head -n 1)
echo "== $deb"
dpkg-deb --info "$deb" | sed -n '/Package:/,$p'
dpkg -c "$deb"
