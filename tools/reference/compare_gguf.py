#!/usr/bin/env python3
"""Check `xlens forward` on a GGUF model against transformers loading the same GGUF.

    compare_gguf.py --xlens BIN --gguf FILE [--tol 1e-3] [--hooks] [--prompt TEXT ...]

transformers (PyTorch CPU, fp32, eager attention) loads FILE itself: it dequantises every
tensor and undoes llama.cpp's Q/K row permutation, so the reference is independent of how
xlens handles that permutation.  The tokenizer transformers builds from the same GGUF turns
three fixed prompts (prose, code, digits/unicode; each at least 32 tokens) into ids; no
special tokens are added beyond what that tokenizer adds by default.

For each prompt: `BIN forward FILE --tokens ... --npy LOGITS.npy`, then max |delta logit|
must be <= --tol and the argmax must be identical at every position.  Prints max |delta|,
the argmax agreement and the wall time of each side.  With --hooks the first prompt is also
run with --cache and every hook is compared (same table and rules as compare_forward.py)
with the bound tol * max(1, max|reference|) per hook, as the residual stream of a trained
model reaches ~2e4 where one fp32 ulp is already ~2e-3.  Exit 1 on any failure.
"""
import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
import transformers
from safetensors.numpy import load_file

sys.path.insert(0, str(Path(__file__).resolve().parent))
import compare_forward  # noqa: E402  (shared runner, reference and comparison table)

PROMPTS = [
    "The history of the printing press begins in the fifteenth century, when Johannes Gutenberg "
    "combined movable metal type, oil-based ink and a wooden screw press. Within fifty years, "
    "printers in more than two hundred European cities had produced millions of books.",
    "def fibonacci(n):\n    \"\"\"Return the n-th Fibonacci number.\"\"\"\n    a, b = 0, 1\n"
    "    for _ in range(n):\n        a, b = b, a + b\n    return a\n\n\nprint([fibonacci(i) "
    "for i in range(10)])\n",
    "Order #48213 shipped on 2024-03-17 at 09:45: 3 × café au lait (€4.50 each), 12 croissants, "
    "and 1 crème brûlée — total €31.75. Naïve résumé façade: 東京 → Zürich 🚀 ✓ 100%.",
]


def load_reference(gguf):
    """transformers' own GGUF path: dequantise to fp32, un-permute Q/K, build the tokenizer."""
    transformers.utils.logging.disable_progress_bar()
    folder, name = str(gguf.parent), gguf.name
    t0 = time.perf_counter()
    tokenizer = transformers.AutoTokenizer.from_pretrained(folder, gguf_file=name)
    model = transformers.AutoModelForCausalLM.from_pretrained(
        folder, gguf_file=name, dtype=torch.float32, attn_implementation="eager").eval()
    load_s = time.perf_counter() - t0
    hf_logits(model, [0, 1, 2, 3])  # warm-up, so per-prompt times are steady state
    return tokenizer, model, load_s


def hf_logits(model, ids):
    t0 = time.perf_counter()
    with torch.no_grad():
        logits = model(torch.tensor([ids]), use_cache=False).logits[0].numpy()
    return logits, time.perf_counter() - t0


def check_prompt(index, ids, got, ref, tol):
    """Print one summary line; return a list of failure messages."""
    errors = []
    if got.shape != ref.shape or got.dtype != np.float32:
        return [f"prompt {index}: LOGITS.npy is {got.dtype}{got.shape}, expected float32{ref.shape}"]
    if not np.isfinite(got).all():
        errors.append(f"prompt {index}: non-finite logits")
    delta = float(np.abs(got - ref).max())
    if delta > tol:
        errors.append(f"prompt {index}: max |delta logit| {delta:.3g} > {tol:g}")
    got_top, ref_top = got.argmax(-1), ref.argmax(-1)
    bad = np.nonzero(got_top != ref_top)[0]
    for pos in bad:
        # A near-tie in the reference makes a flip less alarming; show the gap to judge.
        top2 = np.sort(ref[pos])[-2:]
        errors.append(f"prompt {index}: argmax differs at position {pos}: xlens {got_top[pos]}, "
                      f"reference {ref_top[pos]} (reference top-2 gap {top2[1] - top2[0]:.3g})")
    print(f"prompt {index}: {len(ids):3d} tokens  max|delta logit| {delta:.3g}  "
          f"argmax agree {len(ids) - len(bad)}/{len(ids)}  max|logit| {np.abs(ref).max():.3g}")
    return errors


def check_hooks(args, model, ids, workdir):
    """Every hook of the first prompt through compare_forward's reference and table."""
    compare_forward.run_xlens(args.xlens, args.gguf, ids, workdir, want_cache=True)
    got_logits = np.load(Path(workdir) / "logits.npy")
    cache = load_file(str(Path(workdir) / "cache.safetensors"))
    ref_logits, ref_hooks = compare_forward.reference(model, ids)
    # Relative bound: SmolLM2's residual stream reaches ~2e4, where one fp32 ulp is ~2e-3.
    failures = compare_forward.compare(ref_logits, ref_hooks, got_logits, cache, args.tol, relative=True)
    return [f"hook {name}: {err}" for name, _shape, _s, _d, err in failures]


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--xlens", required=True, type=Path, help="path of the built xlens program")
    ap.add_argument("--gguf", required=True, type=Path, help="GGUF model file")
    ap.add_argument("--tol", type=float, default=1e-3, help="max |delta logit| (default 1e-3)")
    ap.add_argument("--prompt", action="append", help="use these prompts instead of the built-in three")
    ap.add_argument("--min-tokens", type=int, default=32, help="minimum tokens per prompt (default 32)")
    ap.add_argument("--hooks", action="store_true", help="also compare every hook on the first prompt")
    args = ap.parse_args(argv)

    tokenizer, model, load_s = load_reference(args.gguf)
    print(f"transformers: loaded {args.gguf.name} in {load_s:.2f} s "
          f"({model.config.model_type}, {model.config.num_hidden_layers} layers)")
    errors = []
    with tempfile.TemporaryDirectory(prefix="xlens_gguf_") as tmp:
        for index, text in enumerate(args.prompt or PROMPTS):
            ids = tokenizer(text)["input_ids"]
            if len(ids) < args.min_tokens:
                errors.append(f"prompt {index}: only {len(ids)} tokens (< {args.min_tokens})")
                continue
            try:
                npy, xlens_s = compare_forward.run_xlens(args.xlens, args.gguf, ids, tmp, want_cache=False)
            except RuntimeError as e:
                errors.append(f"prompt {index}: {e}")
                continue
            ref, hf_s = hf_logits(model, ids)
            errors += check_prompt(index, ids, np.load(npy), ref, args.tol)
            print(f"          time: xlens {xlens_s:.3f} s (process incl. load), "
                  f"transformers {hf_s:.3f} s (forward only)")
        if args.hooks and not errors:
            ids = tokenizer((args.prompt or PROMPTS)[0])["input_ids"]
            try:
                errors += check_hooks(args, model, ids, tmp)
            except (RuntimeError, compare_forward.SelfCheckError) as e:
                errors.append(f"hooks: {e}")
    for e in errors:
        print(f"FAIL: {e}")
    print("PASS" if not errors else f"FAIL: {len(errors)} problem(s)")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
