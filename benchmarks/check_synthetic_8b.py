#!/usr/bin/env python3
"""The memory bar at a real size: forward, generate, lens and patch on a Llama-3-8B-shaped Q4_K_M GGUF.

    build/cache/venv/bin/python benchmarks/check_synthetic_8b.py --xlens build/tools/xlens [--limit-gb 7]

Writes the file once (tools/reference/make_synthetic_gguf.py, ~4.5 GB in build/cache/models), then
runs each command in a child and reads its peak resident memory (ru_maxrss); each must stay under
--limit-gb. Not in CI (minutes of work and a 4.5 GB file); docs/performance.md records a run.
"""
import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from compare_llamacpp import MODELS, ROOT, run_measured  # noqa: E402

PROMPT = "The Eiffel Tower is in the city of"


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    ap.add_argument("--xlens", type=Path, required=True)
    ap.add_argument("--limit-gb", type=float, default=7.0)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    big = MODELS / "synthetic-llama3-8b.Q4_K_M.gguf"
    if not big.exists():
        import subprocess
        subprocess.run([sys.executable, str(ROOT / "tools" / "reference" / "make_synthetic_gguf.py"), str(big),
                        "--tokenizer-from", str(MODELS / "SmolLM2-135M-Instruct.Q4_1.gguf")], check=True)
    x, t = str(args.xlens), ["--threads", str(args.threads)]
    commands = {
        "forward": [x, "forward", str(big), "--prompt", PROMPT, "--npy", "/tmp/xlens_8b_logits.npy"] + t,
        "generate": [x, "generate", str(big), "--prompt", PROMPT, "-n", "8", "--ignore-eos"] + t,
        "lens": [x, "lens", str(big), "--prompt", PROMPT, "--top", "3"] + t,
        "patch": [x, "patch", str(big), "--clean", "When John and Mary went to the store, John gave a drink to",
                  "--corrupt", "When John and Mary went to the store, Mary gave a drink to", "--answer", " Mary",
                  "--wrong", " John", "--layers", "0,16,31"] + t,
    }
    print(f"{big.name}: {big.stat().st_size / 1e9:.2f} GB; {args.threads} threads")
    print("| command | seconds | peak RSS GB | bar |")
    print("|---|---|---|---|")
    failed = False
    for name, cmd in commands.items():
        t0 = time.perf_counter()
        _, rss = run_measured(cmd)
        seconds = time.perf_counter() - t0
        ok = rss <= args.limit_gb * 1e9
        failed |= not ok
        print(f"| {name} | {seconds:.1f} | {rss / 1e9:.2f} | {'≤' if ok else '>'} {args.limit_gb:g} GB |", flush=True)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
