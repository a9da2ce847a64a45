"""Generation, chat template and token probe of xlens against transformers on the same GGUF.

    compare_generation.py --xlens BIN --gguf FILE [--tokens 32]

1. Greedy continuation: `xlens generate --json --ignore-eos -n 32` equals transformers'
   `generate(do_sample=False, max_new_tokens=32)` started from the same prompt ids, token for token.
2. Chat template: the prompt `xlens generate --chat` builds equals transformers'
   `apply_chat_template(..., add_generation_prompt=True)` with the GGUF's template.
3. Token probe: `xlens probe -n 3 --json` against the reference's logits, hidden states and
   attentions: top-k candidates (ids; probabilities within 1e-4), the chosen token's probability and
   rank, each layer's logit-lens top-k, residual norms (relative 1e-3), attention top positions.
Exit status 1 on any failure.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

import torch
import transformers

PROMPTS = ["The Eiffel Tower is in", "def fibonacci(n):\n    \"\"\"Return the n-th Fibonacci number.\"\"\"\n"]


def xlens(args, *argv):
    proc = subprocess.run([args.xlens, *argv], capture_output=True, text=True, timeout=600)
    if proc.returncode != 0:
        sys.exit(f"xlens {' '.join(argv[:2])} failed: {proc.stderr}")
    return proc


def check(ok, what, failures):
    print(("  ok    " if ok else "  FAIL  ") + what)
    if not ok:
        failures.append(what)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--xlens", required=True)
    ap.add_argument("--gguf", required=True)
    ap.add_argument("--tokens", type=int, default=32)
    args = ap.parse_args(argv)
    transformers.utils.logging.disable_progress_bar()
    folder, name = os.path.dirname(os.path.abspath(args.gguf)), os.path.basename(args.gguf)
    t0 = time.perf_counter()
    tokenizer = transformers.AutoTokenizer.from_pretrained(folder, gguf_file=name)
    model = transformers.AutoModelForCausalLM.from_pretrained(folder, gguf_file=name, dtype=torch.float32,
                                                              attn_implementation="eager").eval()
    model.generation_config.eos_token_id = None  # run the whole budget, as xlens --ignore-eos does
    print(f"reference loaded in {time.perf_counter() - t0:.1f} s")
    failures = []

    print("1. greedy continuation")
    for prompt in PROMPTS:
        ours = json.loads(xlens(args, "generate", args.gguf, "--prompt", prompt, "-n", str(args.tokens), "--json",
                                "--ignore-eos").stdout)
        ids = torch.tensor([ours["prompt_ids"]])
        t0 = time.perf_counter()
        with torch.no_grad():
            out = model.generate(ids, attention_mask=torch.ones_like(ids), do_sample=False,
                                 max_new_tokens=args.tokens, pad_token_id=0)
        hf_s = time.perf_counter() - t0
        theirs = out[0, ids.shape[1]:].tolist()
        same = ours["ids"] == theirs
        check(same, f"{len(theirs)} tokens identical for {prompt[:30]!r} (transformers {hf_s:.2f} s): "
              f"{tokenizer.decode(theirs)[:60]!r}", failures)
        if not same:
            print(f"        xlens {ours['ids']}\n        HF    {theirs}")

    print("2. chat template")
    question = "What is the capital of France?"
    ours = json.loads(xlens(args, "generate", args.gguf, "--prompt", question, "--chat", "-n", "1", "--json").stdout)
    theirs = tokenizer.apply_chat_template([{"role": "user", "content": question}], tokenize=False,
                                           add_generation_prompt=True)
    check(ours["prompt"] == theirs, "ChatML prompt identical to apply_chat_template", failures)

    print("3. token probe")
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "probe.json")
        xlens(args, "probe", args.gguf, "--prompt", PROMPTS[0], "-n", "3", "--json", path)
        with open(path) as f:
            probe = json.load(f)
    steps = probe["steps"]
    ids = torch.tensor([[s["token"]["id"] for s in steps]])
    with torch.no_grad():
        out = model(ids, output_hidden_states=True, output_attentions=True)
    logits, hidden, attentions = out.logits[0], out.hidden_states, out.attentions
    n_layers = len(attentions)
    lm = model.get_output_embeddings()
    worst = {"prob": 0.0, "lens": 0.0, "norm": 0.0, "attention": 0.0}
    rank_ok = lens_ids_ok = cand_ok = att_ok = True
    for t, s in enumerate(steps):
        p = torch.softmax(logits[t].double(), -1)
        top = torch.topk(logits[t], len(s["next"]["candidates"]))
        cand_ok &= [c["id"] for c in s["next"]["candidates"]] == top.indices.tolist()
        for c in s["next"]["candidates"]:
            worst["prob"] = max(worst["prob"], abs(c["prob"] - p[c["id"]].item()))
        if s["next"]["chosen"]:
            ch = s["next"]["chosen"]
            worst["prob"] = max(worst["prob"], abs(ch["prob"] - p[ch["id"]].item()))
            rank_ok &= ch["rank"] == 1 + int((logits[t] > logits[t, ch["id"]]).sum())
        for layer in range(n_layers):
            if layer < n_layers - 1:  # hidden_states[L] is after the final norm; the last lens is the output
                lens_logits = lm(model.model.norm(hidden[layer + 1][0, t]))
            else:
                lens_logits = logits[t]
            lp = torch.softmax(lens_logits.double(), -1)
            got = s["lens"][layer]
            lens_ids_ok &= got[0]["id"] == int(torch.argmax(lens_logits))
            for c in got:
                worst["lens"] = max(worst["lens"], abs(c["prob"] - lp[c["id"]].item()))
        for layer in range(n_layers + 1):
            if layer == n_layers:
                continue  # the reference has no un-normed last residual; layer L-1 is compared via the lens
            ref = hidden[layer][0, t].double().norm().item()
            worst["norm"] = max(worst["norm"], abs(s["resid_norm"][layer] - ref) / max(ref, 1e-6))
        for layer in range(n_layers):
            for h, row in enumerate(s["attention"][layer]):
                ref_row = attentions[layer][0, h, t]
                att_ok &= row[0]["pos"] == int(torch.argmax(ref_row)) or \
                    abs(row[0]["weight"] - ref_row.max().item()) < 1e-4
                for a in row:
                    worst["attention"] = max(worst["attention"], abs(a["weight"] - ref_row[a["pos"]].item()))
    check(cand_ok, "top-k candidate ids at every step", failures)
    check(worst["prob"] <= 1e-4, f"candidate and chosen probabilities: max |Δ| {worst['prob']:.2e} (bound 1e-4)", failures)
    check(rank_ok, "chosen token ranks", failures)
    check(lens_ids_ok, f"logit-lens top-1 at all {n_layers} layers of {len(steps)} steps", failures)
    check(worst["lens"] <= 1e-4, f"logit-lens probabilities: max |Δ| {worst['lens']:.2e} (bound 1e-4)", failures)
    check(worst["norm"] <= 1e-3, f"residual norms: max relative |Δ| {worst['norm']:.2e} (bound 1e-3)", failures)
    check(att_ok and worst["attention"] <= 1e-4,
          f"attention top positions; weights max |Δ| {worst['attention']:.2e} (bound 1e-4)", failures)
    generated = [s for s in steps if s["source"] == "generated"]
    check(len(generated) == 3 and all(st["next"]["rule"] in ("argmax", None) for st in generated),
          "3 generated steps chosen by argmax", failures)
    if failures:
        sys.exit(f"FAIL: {len(failures)} checks")
    print("PASS")


if __name__ == "__main__":
    main()
