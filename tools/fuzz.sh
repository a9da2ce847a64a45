#!/usr/bin/env bash
# Builds the libFuzzer targets (tests/fuzz) with Clang under ASan + UBSan and runs each for a bounded
# time on a scratch copy of its seed corpus, two at a time. Fails on any crash, sanitizer report,
# timeout or out-of-memory, and says which input to keep as a regression test.
#   bash tools/fuzz.sh            XLENS_FUZZ_SECONDS (default 60), XLENS_FUZZ_BUILD (default build-fuzz)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
seconds=${XLENS_FUZZ_SECONDS:-60}
build=${XLENS_FUZZ_BUILD:-$root/build-fuzz}
targets=(safetensors_header gguf_metadata config_json tokenizer_json)
declare -A max_len=([safetensors_header]=4096 [gguf_metadata]=32768 [config_json]=4096 [tokenizer_json]=16384)

launcher=()
command -v ccache >/dev/null && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
CXX=clang++ cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Debug -DXLENS_FUZZ=ON -DXLENS_BUILD_TOOLS=OFF \
  -DXLENS_BUILD_BENCHMARKS=OFF "${launcher[@]}" >/dev/null
cmake --build "$build" -j"$(nproc)" --target fuzz_all

export ASAN_OPTIONS=abort_on_error=1:detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
export OPENBLAS_NUM_THREADS=1
run() {
  local target=$1 work=$build/fuzz-run/$1
  rm -rf "$work" && mkdir -p "$work/corpus" "$work/artifacts"
  # Seeds and the saved crashes (fixed ones: good starting points); the repo's copies never grow.
  cp "$root/tests/fuzz/corpus/$target/"* "$work/corpus/"
  cp "$root/tests/fuzz/regressions/$target/"* "$work/corpus/" 2>/dev/null || true
  local dict=()
  [ -f "$root/tests/fuzz/dict/$target.dict" ] && dict=(-dict="$root/tests/fuzz/dict/$target.dict")
  if "$build/tests/fuzz/fuzz_$target" "$work/corpus" "${dict[@]}" -max_total_time="$seconds" -max_len="${max_len[$target]}" \
       -rss_limit_mb=2048 -timeout=10 -print_final_stats=1 -artifact_prefix="$work/artifacts/" >"$work/log" 2>&1; then
    echo "fuzz_$target: ${seconds} s, $(grep -o 'stat::number_of_executed_units: *[0-9]*' "$work/log" | grep -o '[0-9]*$') runs, $(grep -o 'cov: [0-9]* ft: [0-9]*' "$work/log" | tail -n 1), no crash"
  else
    echo "fuzz_$target FAILED:"; tail -n 40 "$work/log"
    for a in "$work"/artifacts/*; do
      [ -e "$a" ] && echo "  keep it: cp '$a' '$root/tests/fuzz/regressions/$target/<what-it-broke>'" \
        "(shrink it first: $build/tests/fuzz/fuzz_$target -minimize_crash=1 -runs=100000 '$a')"
    done
    return 1
  fi
}
status=0
for ((i = 0; i < ${#targets[@]}; i += 2)); do  # two at a time: one per core
  run "${targets[i]}" & first=$!
  second=
  if ((i + 1 < ${#targets[@]})); then run "${targets[i + 1]}" & second=$!; fi
  wait "$first" || status=1
  if [ -n "$second" ]; then wait "$second" || status=1; fi
done
exit $status
