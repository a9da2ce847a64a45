#!/usr/bin/env python3
"""Weights kept in their stored type against float64 and the dequantise-everything path; memory.

    check_stored_weights.py --xlens BIN --model PATH --tol TOL [--rss-file-factor 1.25 --rss-extra-mb 100]

Runs `BIN forward PATH --tokens ... --npy` twice on the same ids: by default (matrices stay F16,
BF16 or ggml blocks and are dequantised inside each matmul) and with --dequantize (every weight
converted to float32 at load, then plain BLAS). Two id sequences each of 1, 3 and 64 tokens, so both
the fused decode kernels (up to 4 rows) and the tiled prefill path are used. The reference is
transformers in float64 on the same file (a GGUF, or an HF folder): both xlens paths compute in
float32 and every weight value is identical in both (dequantisation is bit-exact), so the float64
run is the truth both are measured against.

Checked per sequence: the gap between the two paths, max |Δlogit|, is ≤ TOL, unless the stored path
is the closer of the two to float64 and itself within TOL of it (then the gap is the dequantised
path's own float32 error: its sgemv for 1-4 rows sums in float32 where the fused kernels sum blocks
in float64); and the argmax is identical at every position. Each path's distance to float64 is
printed.

With --rss-file-factor, the peak resident memory of the default 64-token run (the child's
ru_maxrss) must be at most factor × the file's size + --rss-extra-mb; the --dequantize run's peak
is printed beside it. Exit 1 on any failure.
"""
import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np


def run_forward(binary, model, ids, extra, out):
    """Runs one forward in a child process; returns (logits, the child's peak RSS in bytes)."""
    cmd = [str(binary), "forward", str(model), "--tokens", ",".join(map(str, ids)), "--npy", str(out)] + extra
    pid = os.fork()
    if pid == 0:  # a fresh child per run, so its ru_maxrss is its own
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 1)
        os.execv(cmd[0], cmd)
    _, status, usage = os.wait4(pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed with status {status}")
    return np.load(out), usage.ru_maxrss * 1024


def float64_reference(model_path):
    """transformers in float64 on the same file: a GGUF (dequantised by gguf-py) or an HF folder."""
    import torch  # only now: the memory run forks from this process, whose peak it would inherit
    import transformers
    transformers.utils.logging.disable_progress_bar()
    if model_path.suffix == ".gguf":
        model = transformers.AutoModelForCausalLM.from_pretrained(
            str(model_path.parent), gguf_file=model_path.name, dtype=torch.float64, attn_implementation="eager")
    else:
        model = transformers.AutoModelForCausalLM.from_pretrained(str(model_path), dtype=torch.float64,
                                                                  attn_implementation="eager")
    model.eval()

    def logits(ids):
        with torch.no_grad():
            return model(torch.tensor([ids])).logits[0].numpy()
    return logits


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    ap.add_argument("--xlens", type=Path, required=True)
    ap.add_argument("--model", type=Path, required=True)
    ap.add_argument("--tol", type=float, required=True)
    ap.add_argument("--vocab", type=int, default=None, help="token ids are drawn below this (default: 1000)")
    ap.add_argument("--rss-file-factor", type=float)
    ap.add_argument("--rss-extra-mb", type=float, default=100)
    args = ap.parse_args()
    vocab = args.vocab or 1000
    failures = []
    with tempfile.TemporaryDirectory() as tmp:
        if args.rss_file_factor is not None:  # first, while this process is small (a child inherits its peak)
            ids = [(i * 7919) % vocab for i in range(64)]
            _, rss_stored = run_forward(args.xlens, args.model, ids, [], Path(tmp) / "stored.npy")
            _, rss_dequantized = run_forward(args.xlens, args.model, ids, ["--dequantize"], Path(tmp) / "f32.npy")
            size = args.model.stat().st_size
            bound = args.rss_file_factor * size + args.rss_extra_mb * 2**20
            print(f"memory, 64 tokens: peak RSS {rss_stored / 2**20:.1f} MiB for a {size / 2**20:.1f} MiB file "
                  f"({rss_dequantized / 2**20:.1f} MiB with --dequantize); bound {args.rss_file_factor:g} x file + "
                  f"{args.rss_extra_mb:g} MiB = {bound / 2**20:.1f} MiB (the parent's own peak is included)")
            if rss_stored > bound:
                failures.append(f"peak RSS {rss_stored / 2**20:.1f} MiB is over {bound / 2**20:.1f} MiB")
        reference = float64_reference(args.model)
        for offset in (0, 11):
            for n in (1, 3, 64):
                ids = [(i * 7919 + offset) % vocab for i in range(n)]
                exact = reference(ids)
                stored, _ = run_forward(args.xlens, args.model, ids, [], Path(tmp) / "stored.npy")
                dequantized, _ = run_forward(args.xlens, args.model, ids, ["--dequantize"], Path(tmp) / "f32.npy")
                to_exact = float(np.abs(stored - exact).max())
                dequantized_to_exact = float(np.abs(dequantized - exact).max())
                gap = float(np.abs(stored.astype(np.float64) - dequantized).max())
                same_argmax = bool((stored.argmax(-1) == dequantized.argmax(-1)).all())
                print(f"ids (i*7919+{offset:2d}), {n:2d} tokens: stored vs float64 {to_exact:.3g} (tol {args.tol:g}); "
                      f"--dequantize vs float64 {dequantized_to_exact:.3g}; stored vs --dequantize {gap:.3g}; "
                      f"max |logit| {float(np.abs(exact).max()):.3g}; argmax {'identical' if same_argmax else 'DIFFERS'}")
                closer_and_within = to_exact <= args.tol and to_exact <= dequantized_to_exact
                if not (gap <= args.tol or closer_and_within):
                    failures.append(f"ids +{offset}, {n} tokens: stored vs --dequantize {gap:.3g} > {args.tol:g}, and the "
                                    f"stored path is not the closer one within {args.tol:g} of float64 ({to_exact:.3g})")
                if not same_argmax:
                    failures.append(f"ids +{offset}, {n} tokens: the argmax differs from --dequantize")
    for f in failures:
        print("FAIL:", f)
    print("PASS" if not failures else f"FAIL: {len(failures)} problem(s)")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
