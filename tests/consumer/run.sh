#!/usr/bin/env bash
# Installs xlens from the source tree into a prefix, builds tests/consumer against it with
# find_package(xlens CONFIG), and runs it on a tiny model. Usage: run.sh SOURCE_DIR WORK_DIR TEST_DATA
set -euo pipefail
src=$1 work=$2 data=$3
rm -rf "$work" && mkdir -p "$work"
cmake -S "$src" -B "$work/xlens-build" -DXLENS_BUILD_TESTS=OFF -DXLENS_BUILD_TOOLS=OFF -DXLENS_BUILD_BENCHMARKS=OFF >/dev/null
cmake --install "$work/xlens-build" --prefix "$work/prefix" >/dev/null
test -f "$work/prefix/share/cmake/xlens/xlensConfig.cmake"
launcher=()
command -v ccache >/dev/null && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
cmake -S "$src/tests/consumer" -B "$work/consumer-build" -DCMAKE_PREFIX_PATH="$work/prefix" "${launcher[@]}" >/dev/null
cmake --build "$work/consumer-build" >/dev/null
model=$data/tiny/gpt2_text  # a tiny model with a tokenizer.json
[ -d "$model" ] || { echo "consumer: no tiny model at $model (ctest fixtures fixtures_tiny_models and fixtures_tokenizers make it)"; exit 1; }
"$work/consumer-build/consumer" "$model"
