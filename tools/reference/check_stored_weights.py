#!/usr/bin/env python3
"""Weights kept in their stored type against the dequantise-everything path, and the memory it saves.

    check_stored_weights.py --xlens BIN --model PATH --tol TOL [--rss-file-factor 1.25 --rss-extra-mb 100]

Runs `BIN forward PATH --tokens ... --npy` twice on the same ids: by default (matrices stay F16,
BF16 or ggml blocks and are dequantised inside each matmul) and with --dequantize (every weight
converted to float32 at load, then plain BLAS). Three sequences: 1, 3 and 64 tokens, so both the
fused decode kernels (up to 4 rows) and the tiled prefill path are used. max |Δlogit| must be ≤ TOL
and the argmax identical at every position.

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
        for n in (1, 3, 64):
            ids = [(i * 7919 + 11) % vocab for i in range(n)]
            stored, rss_stored = run_forward(args.xlens, args.model, ids, [], Path(tmp) / "stored.npy")
            dequantized, rss_dequantized = run_forward(args.xlens, args.model, ids, ["--dequantize"], Path(tmp) / "f32.npy")
            delta = float(np.abs(stored.astype(np.float64) - dequantized).max())
            same_argmax = bool((stored.argmax(-1) == dequantized.argmax(-1)).all())
            print(f"{n:3d} tokens: max |delta logit| {delta:.3g} (tol {args.tol:g}), max |logit| "
                  f"{float(np.abs(dequantized).max()):.3g}, argmax {'identical' if same_argmax else 'DIFFERS'}; "
                  f"peak RSS {rss_stored / 2**20:.1f} MiB stored, {rss_dequantized / 2**20:.1f} MiB with --dequantize")
            if not delta <= args.tol:
                failures.append(f"{n} tokens: max |delta logit| {delta:.3g} > {args.tol:g}")
            if not same_argmax:
                failures.append(f"{n} tokens: the argmax differs")
            if args.rss_file_factor is not None and n == 64:
                size = args.model.stat().st_size
                bound = args.rss_file_factor * size + args.rss_extra_mb * 2**20
                print(f"memory: peak RSS {rss_stored / 2**20:.1f} MiB for a {size / 2**20:.1f} MiB file; bound "
                      f"{args.rss_file_factor:g} x file + {args.rss_extra_mb:g} MiB = {bound / 2**20:.1f} MiB")
                if rss_stored > bound:
                    failures.append(f"peak RSS {rss_stored / 2**20:.1f} MiB is over {bound / 2**20:.1f} MiB")
    for f in failures:
        print("FAIL:", f)
    print("PASS" if not failures else f"FAIL: {len(failures)} problem(s)")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
