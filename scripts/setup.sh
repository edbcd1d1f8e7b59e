#!/usr/bin/env bash
# Set-up from nothing on Debian 12, as root: installs the Debian packages
# aoarm needs (quick when they are there), configures and builds everything,
# and prepares the embedded default corpus. Nothing is downloaded from
# outside the package registries. Idempotent.
#
#   bash scripts/setup.sh            # build into build/
#   BUILD_DIR=out bash scripts/setup.sh
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${BUILD_DIR:-build}

packages=(
  build-essential cmake ninja-build git python3        # toolchain
  llvm-19-dev llvm-19-tools libmlir-19-dev mlir-19-tools  # MLIR 19, lit, FileCheck
  libfmt-dev libcli11-dev nlohmann-json3-dev zlib1g-dev   # libraries
  libgtest-dev googletest                                 # tests
  fortunes wamerican                                      # default corpus, word list
)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
    missing+=("$p")
done
if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}"
  if [ "$(id -u)" -ne 0 ]; then
    echo "setup: error: packages missing (${missing[*]}) and not running as root" >&2
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# The CUDA toolkit (NVRTC) is optional here: without it the GPU path is not
# built, and everything else is.
cmake -G Ninja -S . -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=Release >/dev/null
ninja -C "$BUILD_DIR"

# The default corpus: the BSD-licensed `fortunes` package (quotations,
# literature, jokes; about 1.3 MB of English) in text8 form. See
# docs/data.md. `--data PATH` takes real text8 instead.
corpus=data/fortunes.txt
if [ ! -s "$corpus" ]; then
  mkdir -p data
  sources=()
  for f in /usr/share/games/fortunes/*; do
    case "$f" in *.dat | *.u8 | */art | */ascii-art) continue ;; esac
    [ -f "$f" ] && sources+=(--from "$f")
  done
  "$BUILD_DIR/bin/aoarm" data prepare "${sources[@]}" -o "$corpus"
fi
echo "setup: built $BUILD_DIR; default corpus $corpus"
