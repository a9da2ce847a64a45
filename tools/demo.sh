#!/usr/bin/env bash
# The main job: set the machine up, build xlens, fetch the real model, and inspect it.
#   bash tools/demo.sh [extra inspect_model arguments]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
bash tools/setup.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DCMAKE_CXX_COMPILER_LAUNCHER=ccache >/dev/null
cmake --build build -j"$(nproc)" --target xlens_cli inspect_model
model=build/cache/models/SmolLM2-135M-Instruct.Q4_1.gguf
echo
echo "== xlens info (first lines; all of it in build/info.txt)"
build/tools/xlens info "$model" > build/info.txt  # not piped into head: SIGPIPE would fail the script
head -n 40 build/info.txt
echo
echo "== inspect_model: one run, every hook cached"
build/examples/inspect_model "$model" "$@"
