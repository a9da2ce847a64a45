#!/usr/bin/env bash
# The main job: set the machine up, build xlens, fetch the real model, and probe it on a factual
# prompt: per token, the probability and rank of what the model chose and the layer at which the
# logit lens first agrees; the full trajectory goes to build/probe.html (open it in a browser)
# and build/probe.json.
#   bash tools/demo.sh ["another prompt"]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
bash tools/setup.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DCMAKE_CXX_COMPILER_LAUNCHER=ccache >/dev/null
cmake --build build -j"$(nproc)" --target xlens_cli inspect_model
model=build/cache/models/SmolLM2-135M-Instruct.Q4_1.gguf
prompt=${1:-"The Eiffel Tower is in the city of"}
echo
echo "== xlens probe: \"$prompt\" and 4 greedy tokens"
build/tools/xlens probe "$model" --prompt "$prompt" -n 4 --html build/probe.html --json build/probe.json
echo "(the interactive report: build/probe.html; the data: build/probe.json)"
echo
echo "== xlens generate --chat"
build/tools/xlens generate "$model" --chat --prompt "What is the capital of France? Answer in one sentence." -n 40
echo
echo "== inspect_model: one run with every hook cached"
build/examples/inspect_model "$model"
