#!/usr/bin/env python3
"""Activation-patching sweep, xlens against TransformerLens on SmolLM2-135M: seconds and peak memory.

    build/cache/venv/bin/python benchmarks/compare_patching.py --xlens build/tools/xlens
        --bench build/benchmarks/xlens_bench --gguf build/cache/models/SmolLM2-135M-Instruct.Q4_1.gguf
        [--repeat 3] [--threads N]

The sweep: blocks.L.hook_resid_pre of the clean run patched into the corrupted run (denoising) at
every layer x position, one patched forward each (30 x 14 = 420), metric = logit(" Mary") -
logit(" John") at the last position, normalised (m - m_corrupt) / (m_clean - m_corrupt). Prompts,
an indirect-object-identification pair (same length and single-token answers with the SmolLM2
tokenizer, checked):
    clean   "When John and Mary went to the store, John gave a drink to"
    corrupt "When John and Mary went to the store, Mary gave a drink to"
Both tools get the same token ids (the GGUF's tokenizer in transformers) and every core
(torch.set_num_threads; OPENBLAS_NUM_THREADS and OMP_NUM_THREADS in both children's environment,
and `patch --threads N` when xlens's usage text offers it).

- TransformerLens: a child process (this script with --tl-child) loads transformers from the GGUF
  (fp32, eager attention), boots TransformerBridge.boot_transformers(hf_model=...) (default bridge;
  its logits must equal transformers' within 1e-4), then --repeat times: run_with_cache(clean), the
  corrupted run, patching.get_act_patch_resid_pre. Seconds per sweep = best of those, load excluded.
- xlens: `BIN patch GGUF --clean-tokens ... --corrupt-tokens ... --answer id:A --wrong id:B
  --target resid_pre --json OUT --npy OUT`, --repeat times; seconds = the JSON's "seconds" (sweep,
  load excluded), best of the runs. Its "runs" / "unchanged" (patches skipped because the clean and
  corrupted activations are equal there, e.g. before the first differing token) are printed.
- xlens_bench: when it lists BM_patching_resid_pre/threads:T/full_rerun:F (the same prompts), each
  variant's best real time of --repeat repetitions is shown with its patched_runs counter
  (full_rerun:1 reruns each patched prompt from the embedding instead of resuming at the patched
  block), and threads:N/full_rerun:0 is used for the ratio instead of the CLI's seconds.
- Peak memory: ru_maxrss of each child from os.wait4 (model load included; the largest of xlens's
  runs). The TL child also reports its resident memory after loading, for reference.

Prints a table, the thread counts, the max |difference| between the two normalised [layers, positions]
results and "bar: >= 2x faster at <= the same peak memory: met/NOT met". Exit 1 when the results
differ by more than 1e-3 or a tool fails; the bar is information only (timings depend on the load).
"""
import argparse
import importlib.metadata
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

CLEAN = "When John and Mary went to the store, John gave a drink to"
CORRUPT = "When John and Mary went to the store, Mary gave a drink to"
ANSWER, WRONG = " Mary", " John"
AGREE = 1e-3


def run_measured(cmd, env):
    """Run a child to completion; (exit code, peak RSS in MiB, stderr tail)."""
    with tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=err)
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        err.seek(0)
        tail = err.read().decode(errors="replace")[-2000:]
    return proc.returncode, usage.ru_maxrss / 1024, tail  # Linux: ru_maxrss in KiB


def rss_mib():
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmRSS:")) / 1024


# ---- TransformerLens child ------------------------------------------------------------------------

def tl_child(args):
    import torch
    import transformers
    from transformer_lens import patching
    from transformer_lens.model_bridge import TransformerBridge

    torch.set_num_threads(args.threads)
    torch.set_grad_enabled(False)
    patching.tqdm = lambda it, **kw: it  # no progress bars
    transformers.utils.logging.disable_progress_bar()
    folder, name = os.path.dirname(os.path.abspath(args.gguf)), os.path.basename(args.gguf)
    t0 = time.perf_counter()
    tok = transformers.AutoTokenizer.from_pretrained(folder, gguf_file=name)
    hf = transformers.AutoModelForCausalLM.from_pretrained(folder, gguf_file=name, dtype=torch.float32,
                                                           attn_implementation="eager").eval()
    clean, corrupt = tok(CLEAN).input_ids, tok(CORRUPT).input_ids
    answer, wrong = (tok(w, add_special_tokens=False).input_ids for w in (ANSWER, WRONG))
    if len(clean) != len(corrupt) or len(answer) != 1 or len(wrong) != 1:
        sys.exit(f"prompts must tokenize to the same length and the answers to one token each: "
                 f"{len(clean)} vs {len(corrupt)} ids, {ANSWER!r} -> {answer}, {WRONG!r} -> {wrong}")
    A, B = answer[0], wrong[0]
    ct, xt = torch.tensor([clean]), torch.tensor([corrupt])
    hf_logits = hf(ct).logits
    model = TransformerBridge.boot_transformers(folder, hf_model=hf, tokenizer=tok)
    load_s = time.perf_counter() - t0
    delta = (model(ct) - hf_logits).abs().max().item()
    if not delta <= 1e-4:
        sys.exit(f"TransformerBridge logits differ from transformers' by {delta:.3g}")
    rss_loaded = rss_mib()

    def logit_diff(logits):
        return (logits[0, -1, A] - logits[0, -1, B]).item()

    times = []
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        clean_logits, clean_cache = model.run_with_cache(ct)
        m_clean, m_corrupt = logit_diff(clean_logits), logit_diff(model(xt))
        metric = lambda lg: (lg[0, -1, A] - lg[0, -1, B] - m_corrupt) / (m_clean - m_corrupt)  # noqa: E731
        values = patching.get_act_patch_resid_pre(model, xt, clean_cache, metric)
        times.append(time.perf_counter() - t0)
        del clean_cache
    Path(args.out).write_text(json.dumps({
        "clean_ids": clean, "corrupt_ids": corrupt, "answer": A, "wrong": B, "seconds": times,
        "load_seconds": load_s, "values": values.tolist(), "clean_metric": m_clean, "corrupted_metric": m_corrupt,
        "torch_threads": torch.get_num_threads(), "bridge_vs_hf": delta, "rss_after_load_mib": rss_loaded,
        "torch": torch.__version__, "transformer_lens": importlib.metadata.version("transformer-lens")}))
    return 0


# ---- xlens ------------------------------------------------------------------------------------------

def bench_rows(args, env):
    """{variant: (best real seconds, patched runs)} of every BM_patching_resid_pre/... in the bench."""
    listing = subprocess.run([args.bench, "--benchmark_list_tests"], env=env, capture_output=True, text=True)
    if listing.returncode != 0 or "BM_patching_resid_pre" not in listing.stdout:
        return {}
    print("xlens_bench: BM_patching_resid_pre ...", flush=True)
    proc = subprocess.run([args.bench, "--benchmark_filter=^BM_patching_resid_pre", "--benchmark_format=json",
                           f"--benchmark_repetitions={args.repeat}"], env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        print(f"xlens_bench failed (exit {proc.returncode}): {proc.stderr[-500:]}")
        return {}
    unit, rows = {"ns": 1e-9, "us": 1e-6, "ms": 1e-3, "s": 1.0}, {}
    for b in json.loads(proc.stdout)["benchmarks"]:
        if b.get("run_type", "iteration") != "iteration" or b.get("error_occurred"):
            continue
        name = b.get("run_name", b["name"]).removeprefix("BM_patching_resid_pre/").removesuffix("/real_time")
        sec = b["real_time"] * unit[b.get("time_unit", "ns")]
        rows[name] = (min(sec, rows.get(name, (sec,))[0]), b.get("patched_runs"))
    return rows


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--xlens", help="path of the built xlens program")
    ap.add_argument("--bench", help="path of xlens_bench (Google Benchmark)")
    ap.add_argument("--gguf", required=True, help="SmolLM2-135M GGUF")
    ap.add_argument("--repeat", type=int, default=3, help="sweeps per tool; the best is reported (default 3)")
    ap.add_argument("--threads", type=int, default=len(os.sched_getaffinity(0)),
                    help="torch threads = OPENBLAS_NUM_THREADS (default: every core)")
    ap.add_argument("--tl-child", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--out", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    args.repeat = max(1, args.repeat)
    if args.tl_child:
        return tl_child(args)
    if not args.xlens or not args.bench:
        ap.error("--xlens and --bench are required")

    n = str(args.threads)
    env = dict(os.environ, OPENBLAS_NUM_THREADS=n, OMP_NUM_THREADS=n, XLENS_BENCH_MODEL=str(args.gguf))
    with tempfile.TemporaryDirectory(prefix="xlens_patchbench_") as tmp:
        tmp = Path(tmp)
        print(f"TransformerLens: {args.repeat} sweeps in a child process ...", flush=True)
        rc, tl_peak, err = run_measured([sys.executable, os.path.abspath(__file__), "--tl-child", "--gguf",
                                         str(args.gguf), "--repeat", str(args.repeat), "--threads", n,
                                         "--out", str(tmp / "tl.json")], dict(env, TQDM_DISABLE="1"))
        if rc != 0:
            print(f"TransformerLens child failed (exit {rc}):\n{err}")
            return 1
        tl = json.loads((tmp / "tl.json").read_text())
        tl_values = np.array(tl["values"])
        print(f"  {len(tl['clean_ids'])} ids, answer {tl['answer']} wrong {tl['wrong']}, load {tl['load_seconds']:.1f} s, "
              f"sweeps {', '.join(f'{s:.2f}' for s in tl['seconds'])} s; bridge logits vs transformers "
              f"{tl['bridge_vs_hf']:.2g}; clean {tl['clean_metric']:+.4f}, corrupted {tl['corrupted_metric']:+.4f}")

        print(f"xlens: {args.repeat} runs of `{Path(args.xlens).name} patch` ...", flush=True)
        cmd = [args.xlens, "patch", str(args.gguf), "--clean-tokens", ",".join(map(str, tl["clean_ids"])),
               "--corrupt-tokens", ",".join(map(str, tl["corrupt_ids"])), "--answer", f"id:{tl['answer']}",
               "--wrong", f"id:{tl['wrong']}", "--target", "resid_pre", "--json", str(tmp / "x.json"),
               "--npy", str(tmp / "x.npy")]
        usage = subprocess.run([args.xlens], capture_output=True, text=True)
        if "--threads" in (usage.stdout + usage.stderr).partition("xlens patch")[2].partition("\n  xlens ")[0]:
            cmd += ["--threads", n]
        x_seconds, x_peak = [], 0.0
        for _ in range(args.repeat):
            t0 = time.perf_counter()
            rc, peak, err = run_measured(cmd, env)
            if rc != 0:
                print(f"xlens patch failed (exit {rc}):\n{err}")
                return 1
            data = json.loads((tmp / "x.json").read_text())
            x_seconds.append(float(data["seconds"]))
            x_peak = max(x_peak, peak)
            print(f"  sweep {x_seconds[-1]:.3f} s (process {time.perf_counter() - t0:.1f} s, peak {peak:.0f} MiB)")
        x_values = np.load(tmp / "x.npy")
    bench = bench_rows(args, env)
    bench_s = bench.get(f"threads:{n}/full_rerun:0", (None,))[0]

    tl_s, cli_s = min(tl["seconds"]), min(x_seconds)
    x_s = bench_s if bench_s is not None else cli_s
    print(f"\nthreads: OPENBLAS_NUM_THREADS={n}{' and --threads ' + n if '--threads' in cmd else ''} (xlens), "
          f"torch.get_num_threads()={tl['torch_threads']} (TransformerLens child); torch {tl['torch']}, "
          f"transformer-lens {tl['transformer_lens']}")
    print(f"\n| {'resid_pre sweep ' + 'x'.join(map(str, tl_values.shape)):40} | {'s / sweep':>10} | {'peak RSS MiB':>12} |")
    print(f"|{'-' * 42}|{'-' * 12}|{'-' * 14}|")
    print(f"| {'TransformerLens 4 (bridge)':40} | {tl_s:10.3f} | {tl_peak:12.0f} |")
    print(f"| {'xlens patch (CLI seconds)':40} | {cli_s:10.3f} | {x_peak:12.0f} |")
    for name, (sec, runs) in bench.items():
        short = name.replace("/full_rerun:0", "").replace("/full_rerun:1", " rerun")
        label = f"xlens_bench {short}" + (f" ({runs:.0f} runs)" if runs is not None else "")
        print(f"| {label:40} | {sec:10.3f} | {'':>12} |")
    print(f"| {'ratio TL / xlens':40} | {tl_s / x_s:9.2f}x | {tl_peak / x_peak:11.2f}x |")
    runs = (f"{data['runs']} patched forwards, {data['unchanged']} no-op patches skipped"
            if "runs" in data and "unchanged" in data else "patched forwards not reported")
    print(f"(xlens: {runs}; TransformerLens: {tl_values.size} patched forwards, "
          f"{tl['rss_after_load_mib']:.0f} MiB resident after loading; "
          f"ratio uses {f'xlens_bench threads:{n}/full_rerun:0' if bench_s is not None else 'the CLI seconds'})")

    if x_values.shape != tl_values.shape:
        print(f"FAIL: xlens result {x_values.shape}, TransformerLens {tl_values.shape}")
        return 1
    diff = float(np.abs(x_values.astype(np.float64) - tl_values).max())
    agree = diff <= AGREE
    print(f"{'ok  ' if agree else 'FAIL'}  normalised results agree: max |xlens - TL| = {diff:.3g} (<= {AGREE:g})")
    met = tl_s / x_s >= 2 and x_peak <= tl_peak
    print(f"bar: >= 2x faster at <= the same peak memory: {'met' if met else 'NOT met'}")
    return 0 if agree else 1


if __name__ == "__main__":
    sys.exit(main())
