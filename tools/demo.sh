#!/usr/bin/env bash
# The main job: set the machine up, build xlens, fetch the real model, and probe it on a factual
# prompt: per token, the probability and rank of what the model chose and the layer at which the
# logit lens first agrees; the full trajectory goes to build/probe.html (open it in a browser)
# and build/probe.json. Then the analyses, each with an SVG figure in build/: the logit lens of the
# answer, its direct-logit-attribution receipt, activation patching on an indirect-object prompt, and
# the roles of the attention heads (build/heads.html); FFN neurons read as key-value memories, their
# knowledge as readable rules (build/rules.json) with the rules-only engine's fidelity, an edit, and
# the model as an SQLite database (build/smollm2.db), queried and run from.
#   bash tools/demo.sh ["another prompt"]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
bash tools/setup.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DCMAKE_CXX_COMPILER_LAUNCHER=ccache >/dev/null
cmake --build build -j"$(nproc)" --target xlens_cli inspect_model neuron_memories
model=build/cache/models/SmolLM2-135M-Instruct.Q4_1.gguf
prompt=${1:-"The Eiffel Tower is in the city of"}
echo
echo "== xlens probe: \"$prompt\" and 4 greedy tokens"
build/tools/xlens probe "$model" --prompt "$prompt" -n 4 --html build/probe.html --json build/probe.json
echo "(the interactive report: build/probe.html; the data: build/probe.json)"
echo
echo "== xlens lens: when does \" Paris\" become the answer? (figure: build/lens.svg)"
build/tools/xlens lens "$model" --prompt "$prompt" --target " Paris" --svg build/lens.svg 2>/dev/null | sed -n '/^target/,$p'
echo
echo "== xlens attribute: the receipt for \" Paris\" over \" London\" (figure: build/attribution.svg)"
build/tools/xlens attribute "$model" --prompt "$prompt" --target " Paris" --versus " London" --top 8 --svg build/attribution.svg 2>/dev/null
echo
echo "== xlens patch: where does the indirect object's name travel? (figure: build/patching.svg)"
build/tools/xlens patch "$model" --clean "When John and Mary went to the store, John gave a drink to" \
  --corrupt "When John and Mary went to the store, Mary gave a drink to" --answer " Mary" --wrong " John" \
  --svg build/patching.svg
echo
echo "== xlens heads: which heads do what? (30 State of the Union windows; report: build/heads.html)"
build/tools/xlens heads "$model" --corpus build/cache/corpora/sotu.txt --sequences 30 --html build/heads.html
echo
echo "== xlens edit: which neurons write \" Paris\", and what switching them off does"
build/examples/neuron_memories "$model"
echo
echo "== xlens neurons: one neuron as a key-value memory (keys from 60 State of the Union windows)"
build/tools/xlens neurons "$model" --neuron L24N917 --corpus build/cache/corpora/sotu.txt --windows 60 2>/dev/null
echo
echo "== xlens rules: the model as readable rules, and how much of it they keep (build/rules.json)"
build/tools/xlens rules "$model" --corpus build/cache/corpora/sotu.txt --out build/rules.json --windows 60 --eval-windows 10 2>/dev/null
build/tools/xlens rules-predict build/rules.json --prompt "$prompt" --top 3 --receipt
echo
echo "== xlens export: the model as an SQLite database (build/smollm2.db), queried, and run from it"
build/tools/xlens export "$model" --sqlite build/smollm2.db --neuron-tokens 10 --head-copying --rules build/rules.json
build/tools/xlens query build/smollm2.db --sql "$(cat <<'SQL'
WITH direction AS (
  SELECT vec_mul(u.embedding, u.embedding_dtype, n.weight, n.dtype) AS v
  FROM tokens u, norms n WHERE u.text = ' Paris' AND n.name = 'ln_final')
SELECT layer, neuron, round(vec_dot(w_out, dtype, direction.v, 'F32'), 3) AS promotes_Paris
FROM neurons, direction ORDER BY promotes_Paris DESC LIMIT 5
SQL
)"
build/tools/xlens forward build/smollm2.db --prompt "$prompt" --npy build/logits_from_db.npy
build/tools/xlens forward "$model" --prompt "$prompt" --npy build/logits_from_gguf.npy
cmp build/logits_from_db.npy build/logits_from_gguf.npy && echo "logits from the database and from the GGUF: byte-identical"
echo
echo "== xlens generate --chat"
build/tools/xlens generate "$model" --chat --prompt "What is the capital of France? Answer in one sentence." -n 40
echo
echo "== inspect_model: one run with every hook cached"
build/examples/inspect_model "$model"
