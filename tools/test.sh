#!/usr/bin/env bash
# Everything CI checks, from a fresh Debian machine: setup; release build + all tests (C++ unit
# tests, the reference oracle against transformers/gguf/safetensors/TransformerLens, packaging
# (install, pkg-config, vcpkg port, conan create), every doc snippet, the ThreadSanitizer and memory
# tests, fuzz-corpus replays; every header compiles alone without warnings); lint (Doxygen,
# clang-tidy, cppcheck); fuzzing (libFuzzer, ASan+UBSan, XLENS_FUZZ_SECONDS per target); then the
# unit tests and more under AddressSanitizer + UBSan.
#   bash tools/test.sh            (XLENS_SKIP_SANITIZERS=1 skips the sanitizer pass, XLENS_SKIP_FUZZ=1 fuzzing)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
jobs=$(nproc)
bash tools/setup.sh --browser
start=$(date +%s)

echo "== release build"
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DCMAKE_CXX_COMPILER_LAUNCHER=ccache -DXLENS_BUILD_BENCHMARKS=ON >/dev/null
cmake --build build -j"$jobs"
echo "== ctest (release)"
ctest --test-dir build --output-on-failure -j"$jobs"

echo "== lint: Doxygen API reference, clang-tidy, cppcheck"
bash tools/lint.sh

if [ "${XLENS_SKIP_FUZZ:-0}" != 1 ]; then
  echo "== fuzzing: libFuzzer under ASan + UBSan, ${XLENS_FUZZ_SECONDS:-60} s per target"
  bash tools/fuzz.sh
fi

if [ "${XLENS_SKIP_SANITIZERS:-0}" != 1 ]; then
  echo "== AddressSanitizer + UndefinedBehaviorSanitizer build"
  cmake -S . -B build-sanitize -DCMAKE_BUILD_TYPE=Debug -DCMAKE_CXX_FLAGS="-O1 -g" -DXLENS_SANITIZE=ON \
        -DCMAKE_CXX_COMPILER_LAUNCHER=ccache -DXLENS_BUILD_BENCHMARKS=OFF -DXLENS_CACHE_DIR="$root/build/cache" >/dev/null
  cmake --build build-sanitize -j"$jobs" --target xlens_cli_and_tests
  echo "== ctest (sanitizers: unit tests, the oracle on tiny models, tokenizers, two analysis and database families, the CLI's bad-input tests)"
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    ctest --test-dir build-sanitize --output-on-failure -j"$jobs" -R '^(fixtures_|unit$|oracle_forward_|oracle_tokenizer_|oracle_analysis_(gpt2|llama)$|oracle_heads_planted$|oracle_neurons_(gpt2|llama)$|oracle_database_(gpt2|llama)$|cli_)'
fi
echo "tools/test.sh: all tests passed in $(( $(date +%s) - start )) s after setup"
