#!/usr/bin/env bash
# README command 2: set up, build and run the whole test suite (lit,
# GoogleTest, CLI end-to-end; `gpu` tests skip without a GPU).
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${BUILD_DIR:-build}
bash scripts/setup.sh
ctest --test-dir "$BUILD_DIR" --output-on-failure -j2
