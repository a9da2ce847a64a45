#!/usr/bin/env python3
"""xlens against transformers (PyTorch CPU, fp32, eager attention) on SmolLM2-135M, in one run.

    build/cache/venv/bin/python benchmarks/compare_transformers.py --bench build/benchmarks/xlens_bench
        [--threads 2] [--markdown docs/performance-table.md] [--quick]
    build/cache/venv/bin/python benchmarks/compare_transformers.py --make-f32-only

Both sides get the same model (the Q4_1 GGUF dequantised to fp32), the same 128 token ids
((i * 7919) mod vocab), and the same number of threads: torch.set_num_threads(N) here and
OPENBLAS_NUM_THREADS=N for xlens_bench. Steps:

  1. If the f32 Hugging Face folder (default build/cache/models/smollm2-f32) is missing, write it:
     transformers loads the GGUF (dequantising and undoing llama.cpp's Q/K permutation itself) and
     saves plain fp32 safetensors + config.json. xlens_bench's BM_open_safetensors opens this folder.
  2. xlens_bench --benchmark_format=json (medians of --repetitions runs).
  3. transformers: prefill of 128 tokens (median of --runs after warm-up), the same prefill
     returning every hidden state and attention pattern (its nearest analogue of caching every
     hook), and one decode step after a 128-token prefill with past_key_values (the cache is
     cropped back to 128 before every step, as xlens_bench restores its kv_cache), median over
     --decode-steps.
  4. generate, both sides: 16 prompt ids, 64 new tokens, greedy, no stop token. xlens_bench's
     BM_generate times xlens::generate; here model.generate(do_sample=False, max_new_tokens=64) with
     generation_config.eos_token_id = None (so it cannot stop early). Decode tokens/s on both sides =
     63 / (end of the call - the moment the first new token is known): a callback (xlens) or a
     streamer (transformers) timestamps that token, so the 16-token prefill is excluded. Best of
     --generate-runs calls here, best of --repetitions for xlens.
  5. The memory-bandwidth bound of decode: xlens_bench's BM_copy_bandwidth (memcpy of 256 MiB, on
     OpenBLAS's thread count) measures bytes copied per second; a copy moves each byte twice (read +
     write), so the memory traffic is twice that. That traffic divided by the bytes one decode step
     must read (every projection + the unembedding, BM_generate's weight_MB) is the decode tokens/s at
     which streaming the weights would use the whole bandwidth. BM_read_bandwidth (a read-only
     stream) is shown beside it as the cross-check that a pure read does get ~2 × the copied rate.
  6. A markdown table: metric | xlens | transformers | ratio | bar | verdict, and a summary line.

Bars default to the product brief's "Speed" bars; each is a flag so a run can be judged against
another target. The verdict column is information, never an exit status: timings depend on the
machine and its load, so this script exits 0 whenever both sides ran.
"""
import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_GGUF = ROOT / "build/cache/models/SmolLM2-135M-Instruct.Q4_1.gguf"
DEFAULT_F32 = ROOT / "build/cache/models/smollm2-f32"
DEFAULT_BENCH = ROOT / "build/benchmarks/xlens_bench"
PROMPT_TOKENS = 128
GENERATE_PROMPT_TOKENS = 16   # as BM_generate in bench_forward.cpp
GENERATE_NEW_TOKENS = 64


def token_ids(vocab, n, first=0):
    """The sequence xlens_bench uses: a fixed stride through the vocabulary, no tokenizer needed."""
    return [((first + i) * 7919) % vocab for i in range(n)]


def cpu_name():
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "?"


# ---- the f32 folder --------------------------------------------------------------------------------

def make_f32_folder(gguf, out):
    """GGUF → fp32 HF folder. transformers refuses save_pretrained on a GGUF-loaded model, so the
    dequantised weights are moved into a freshly built model of the same config and saved from there."""
    import torch
    import transformers
    transformers.utils.logging.disable_progress_bar()
    print(f"writing {out} from {gguf} (once; transformers dequantises the GGUF) ...", flush=True)
    t0 = time.perf_counter()
    loaded = transformers.AutoModelForCausalLM.from_pretrained(
        str(gguf.parent), gguf_file=gguf.name, dtype=torch.float32, attn_implementation="eager")
    fresh = transformers.AutoModelForCausalLM.from_config(loaded.config, dtype=torch.float32,
                                                          attn_implementation="eager")
    fresh.load_state_dict(loaded.state_dict(), strict=True)
    out.parent.mkdir(parents=True, exist_ok=True)
    # Written beside the target and renamed, so an interrupted run never leaves a half folder
    # that the benchmark would then time.
    tmp = Path(tempfile.mkdtemp(prefix=out.name + ".", dir=out.parent))
    tmp.chmod(0o755)  # mkdtemp's 0700 would hide the model from other users of a shared cache
    try:
        fresh.save_pretrained(tmp, safe_serialization=True)
        config_path = tmp / "config.json"
        config = json.loads(config_path.read_text())
        # The config still says "gguf-quantised"; the folder holds plain fp32, and a loader that
        # honours quantization_config would look for a GGUF file that is not there.
        config.pop("quantization_config", None)
        config_path.write_text(json.dumps(config, indent=2) + "\n")
        if out.exists():
            shutil.rmtree(out)
        tmp.rename(out)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)
    size = sum(p.stat().st_size for p in out.glob("*.safetensors"))
    print(f"wrote {out} ({size / 1e6:.0f} MB of safetensors) in {time.perf_counter() - t0:.1f} s", flush=True)


# ---- xlens ---------------------------------------------------------------------------------------

def run_xlens(args):
    env = dict(os.environ, OPENBLAS_NUM_THREADS=str(args.threads), XLENS_BENCH_MODEL=str(args.gguf),
               XLENS_BENCH_F32_DIR=str(args.f32_dir))
    cmd = [str(args.bench), "--benchmark_format=json"]
    if args.quick:
        cmd += ["--benchmark_min_time=0.05"]
    else:
        cmd += [f"--benchmark_repetitions={args.repetitions}", "--benchmark_report_aggregates_only=true"]
    cmd += args.bench_arg or []
    print("running:", " ".join(cmd), f"(OPENBLAS_NUM_THREADS={args.threads})", flush=True)
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    sys.stderr.write(proc.stderr[:2000])
    if proc.returncode != 0:
        raise SystemExit(f"xlens_bench failed (exit {proc.returncode}):\n{proc.stderr[-4000:]}")
    print(f"xlens_bench finished in {time.perf_counter() - t0:.0f} s", flush=True)
    return json.loads(proc.stdout)


class BenchResults:
    """Medians (or single runs, with --quick) by benchmark name, times in milliseconds; the "min" and
    "max" aggregates of the benchmarks that compute them (BM_generate, BM_*_bandwidth) kept apart."""
    to_ms = {"ns": 1e-6, "us": 1e-3, "ms": 1.0, "s": 1e3}

    def __init__(self, data):
        self.context = data.get("context", {})
        self.rows, self.errors, self.extremes = {}, {}, {}
        for b in data.get("benchmarks", []):
            name = b.get("run_name", b["name"]).removesuffix("/real_time")
            if b.get("error_occurred"):
                self.errors[name] = b.get("error_message", "error")
                continue
            if b.get("run_type") == "aggregate" and b.get("aggregate_name") in ("min", "max"):
                self.extremes[(name, b["aggregate_name"])] = b
                continue
            if b.get("run_type") == "aggregate" and b.get("aggregate_name") != "median":
                continue
            self.rows[name] = b

    def best(self, name, key):
        """The largest value of a rate counter over the repetitions (the single run without them)."""
        b = self.extremes.get((name, "max"))
        return b.get(key) if b is not None else self.counter(name, key)

    def worst(self, name, key):
        b = self.extremes.get((name, "min"))
        return b.get(key) if b is not None else self.counter(name, key)

    def ms(self, name):
        b = self.rows.get(name)
        return None if b is None else b["real_time"] * self.to_ms[b.get("time_unit", "ns")]

    def counter(self, name, key):
        b = self.rows.get(name)
        return None if b is None else b.get(key)

    def why_missing(self, name):
        return self.errors.get(name, "not run")


# ---- transformers ----------------------------------------------------------------------------------

def run_peer(args):
    import torch
    import transformers
    transformers.utils.logging.disable_progress_bar()
    torch.set_num_threads(args.threads)
    out = {"torch_threads": torch.get_num_threads(), "torch": torch.__version__,
           "transformers": transformers.__version__}

    def load():
        return transformers.AutoModelForCausalLM.from_pretrained(
            str(args.f32_dir), dtype=torch.float32, attn_implementation="eager").eval()

    # The first load also imports the modelling code; xlens_bench times warm opens, so this does too.
    model = load()
    opens = []
    for _ in range(3):
        t0 = time.perf_counter()
        load()
        opens.append((time.perf_counter() - t0) * 1e3)
    out["open_ms"] = statistics.median(opens)

    vocab = model.config.vocab_size
    ids = torch.tensor([token_ids(vocab, PROMPT_TOKENS)])
    nxt = torch.tensor([token_ids(vocab, 1, PROMPT_TOKENS)])

    def median_ms(fn, runs, warmup=2):
        for _ in range(warmup):
            fn()
        times = []
        for _ in range(runs):
            t = time.perf_counter()
            fn()
            times.append((time.perf_counter() - t) * 1e3)
        return statistics.median(times)

    with torch.inference_mode():
        out["prefill_ms"] = median_ms(lambda: model(ids, use_cache=False), args.runs)
        out["prefill_all_ms"] = median_ms(
            lambda: model(ids, use_cache=False, output_hidden_states=True, output_attentions=True), args.runs)

        cache = model(ids, use_cache=True).past_key_values

        def step():
            # Negative = tokens to drop: the one spelling transformers 4 and 5 both accept.
            extra = cache.get_seq_length() - PROMPT_TOKENS
            if extra > 0:
                cache.crop(-extra)
            return model(nxt, past_key_values=cache, use_cache=True).logits[0, -1]

        # A cropped-and-reused cache must give what a fresh 129-token run gives, or the timing
        # below would be of something else.
        step()
        full = model(torch.cat([ids, nxt], dim=1), use_cache=False).logits[0, -1]
        delta = float((step() - full).abs().max())
        if delta > 1e-3:
            raise SystemExit(f"transformers decode after crop differs from a full run by {delta:g}")
        out["decode_ms"] = median_ms(step, args.decode_steps)

        out.update(run_peer_generate(model, args))
    return out


def run_peer_generate(model, args):
    """model.generate over the prompt BM_generate uses; decode tokens/s timed from the first new token."""
    import torch
    from transformers.generation.streamers import BaseStreamer

    class Stamps(BaseStreamer):
        """generate() puts the prompt once, then each new token as soon as it is chosen (on CPU the
        stop check is not deferred, so nothing is held back); the second put is the first new token."""
        def __init__(self):
            self.puts = []

        def put(self, value):
            self.puts.append(time.perf_counter())

        def end(self):
            pass

    vocab = model.config.vocab_size
    ids = torch.tensor([token_ids(vocab, GENERATE_PROMPT_TOKENS)])
    # No end-of-sequence token: generation always runs the full 64 (min_new_tokens would instead
    # mask the EOS logit, a different computation). pad_token_id only silences the warning.
    pad = model.generation_config.pad_token_id
    if pad is None:
        pad = model.generation_config.eos_token_id if model.generation_config.eos_token_id is not None else 0
    if isinstance(pad, list):
        pad = pad[0]
    model.generation_config.eos_token_id = None
    model.generation_config.pad_token_id = pad

    def once():
        stamps = Stamps()
        t0 = time.perf_counter()
        seq = model.generate(ids, do_sample=False, max_new_tokens=GENERATE_NEW_TOKENS, streamer=stamps,
                             pad_token_id=pad, eos_token_id=None)
        t1 = time.perf_counter()
        new = seq.shape[1] - ids.shape[1]
        if new != GENERATE_NEW_TOKENS or len(stamps.puts) != GENERATE_NEW_TOKENS + 1:
            raise SystemExit(f"transformers generated {new} tokens ({len(stamps.puts)} streamer puts), "
                             f"expected {GENERATE_NEW_TOKENS}")
        first = stamps.puts[1]
        return {"decode_tok_s": (new - 1) / (t1 - first), "prefill_ms": (first - t0) * 1e3,
                "e2e_tok_s": new / (t1 - t0), "tokens": seq[0, ids.shape[1]:].tolist()}

    with torch.inference_mode():
        once()  # warm-up
        runs = [once() for _ in range(args.generate_runs)]
    rates = [r["decode_tok_s"] for r in runs]
    best = max(runs, key=lambda r: r["decode_tok_s"])
    return {"gen_decode_tok_s": best["decode_tok_s"], "gen_decode_tok_s_all": rates,
            "gen_decode_tok_s_median": statistics.median(rates), "gen_prefill_ms": best["prefill_ms"],
            "gen_e2e_tok_s": best["e2e_tok_s"], "gen_tokens": best["tokens"]}


# ---- the table ---------------------------------------------------------------------------------------

def fmt(x, spec=".1f", unit=""):
    return "—" if x is None else f"{x:{spec}}{unit}"


def verdict(ok):
    return "—" if ok is None else ("met" if ok else "**not met**")


def build_table(args, x, peer):
    rows = []

    def add(metric, xv, pv, ratio, bar, ok):
        rows.append((metric, xv, pv, ratio, bar, verdict(ok)))

    # open
    xo = x.ms("BM_open_safetensors")
    add("open f32 safetensors folder (ms; xlens: header parse + mmap; transformers: from_pretrained, warm)",
        fmt(xo, ".2f") if xo is not None else f"— ({x.why_missing('BM_open_safetensors')[:60]})",
        fmt(peer["open_ms"]), fmt(peer["open_ms"] / xo if xo else None, ".0f", "×"),
        f"≤ {args.bar_open_ms:g} ms", None if xo is None else xo <= args.bar_open_ms)
    xg = x.ms("BM_open_gguf_with_dequant")
    add("open Q4_1 GGUF incl. dequantisation to f32 (ms)", fmt(xg), "—", "—", "no bar", None)

    # prefill
    xp = x.ms(f"BM_prefill/{PROMPT_TOKENS}")
    ratio = peer["prefill_ms"] / xp if xp else None
    add(f"prefill {PROMPT_TOKENS} tokens (ms)", fmt(xp), fmt(peer["prefill_ms"]), fmt(ratio, ".2f", "×"),
        f"≥ {args.bar_prefill:g}× transformers", None if ratio is None else ratio >= args.bar_prefill)

    xc = x.ms(f"BM_prefill_cache_all/{PROMPT_TOKENS}")
    over = xc / xp - 1 if xc and xp else None
    hooks = x.counter(f"BM_prefill_cache_all/{PROMPT_TOKENS}", "hook_points")
    mb = x.counter(f"BM_prefill_cache_all/{PROMPT_TOKENS}", "cache_MB")
    add(f"prefill {PROMPT_TOKENS} + cache every hook (ms; {fmt(hooks, '.0f')} points, {fmt(mb, '.0f')} MB)",
        fmt(xc), fmt(peer["prefill_all_ms"]) + " ¹", f"{fmt(over * 100 if over is not None else None, '+.0f', '%')} vs no hooks",
        f"≤ +{args.bar_cache_overhead * 100:g}% over no hooks", None if over is None else over <= args.bar_cache_overhead)
    xr = x.ms(f"BM_prefill_cache_all_reused/{PROMPT_TOKENS}")
    over_r = xr / xp - 1 if xr and xp else None
    add("  same, one activation_cache reused across runs (ms)", fmt(xr), "—",
        f"{fmt(over_r * 100 if over_r is not None else None, '+.0f', '%')} vs no hooks", "context", None)
    xs = x.ms(f"BM_prefill_cache_resid/{PROMPT_TOKENS}")
    over_s = xs / xp - 1 if xs and xp else None
    add("  same, caching only every hook_resid_post (ms)", fmt(xs), "—",
        f"{fmt(over_s * 100 if over_s is not None else None, '+.0f', '%')} vs no hooks", "context", None)

    # decode
    xd = x.counter("BM_decode_step", "tokens/s")
    pd = 1e3 / peer["decode_ms"]
    ratio = xd / pd if xd else None
    add(f"decode 1 token after {PROMPT_TOKENS}, KV cache (tokens/s)", fmt(xd), fmt(pd), fmt(ratio, ".2f", "×"),
        f"≥ {args.bar_decode:g}× transformers", None if ratio is None else ratio >= args.bar_decode)
    bound = x.counter("BM_decode_bound_gemv", "tokens/s")
    bw = x.counter("BM_decode_bound_gemv", "weight_bytes/s")
    frac = xd / bound if xd and bound else None
    add(f"decode vs bandwidth bound (tokens/s; bound = sgemv over all weights at {fmt(bw / 1e9 if bw else None)} GB/s)",
        fmt(xd), "—", f"{fmt(frac * 100 if frac is not None else None, '.0f', '%')} of {fmt(bound)}",
        f"≥ {args.bar_bandwidth * 100:g}% of bound", None if frac is None else frac >= args.bar_bandwidth)
    t1 = x.counter("BM_decode_linear_T1", "tokens/s")
    add("  the same weights through blocks::linear with T = 1 (sgemm, M = 1; tokens/s)", fmt(t1), "—", "—",
        "context", None)
    nc = x.counter("BM_decode_step_no_cache", "tokens/s")
    add(f"  decode without KV cache (re-run {PROMPT_TOKENS + 1} tokens; tokens/s)", fmt(nc, ".2f"), "—", "—",
        "context", None)

    # generate: decode tokens/s in one run, and the bound from the copy bandwidth
    g = generate_summary(args, x, peer)
    add(f"generate {GENERATE_NEW_TOKENS} greedy tokens after a {GENERATE_PROMPT_TOKENS}-token prompt: decode "
        f"tokens/s (best of {g['x_runs']} / {args.generate_runs}; median in brackets)",
        f"{fmt(g['x'])} ({fmt(g['x_median'])})", f"{fmt(g['p'])} ({fmt(g['p_median'])})", fmt(g["ratio"], ".2f", "×"),
        f"≥ {args.bar_generate:g}× transformers", None if g["ratio"] is None else g["ratio"] >= args.bar_generate)
    add("  generate: prefill of the prompt + first token (ms)", fmt(g["x_prefill"]), fmt(peer["gen_prefill_ms"]),
        "—", "context", None)
    gb = lambda v: fmt(v / 1e9 if v else None, ".1f")
    add(f"generate decode vs bandwidth bound (tokens/s; bound = {gb(g['traffic'])} GB/s of copy traffic "
        f"(memcpy of 256 MiB at {gb(g['copy'])} GB/s copied, each byte read + written; {g['copy_threads']} thread(s)) "
        f"/ {fmt(g['weight_mb'], '.0f')} MB of weights per token)",
        fmt(g["x"]), "—", f"{fmt(g['frac'] * 100 if g['frac'] is not None else None, '.0f', '%')} of {fmt(g['bound'])}",
        "context", None)
    add(f"  cross-check: read-only bound (tokens/s; {gb(g['read'])} GB/s read by a plain loop, "
        f"{g['copy_threads']} thread(s))",
        fmt(g["x"]), "—",
        f"{fmt(g['read_frac'] * 100 if g['read_frac'] is not None else None, '.0f', '%')} of {fmt(g['read_bound'])}",
        "context", None)
    return rows


def generate_summary(args, x, peer):
    """The numbers the issue asks for, from both sides' generate runs and the bandwidth benchmarks."""
    xg = x.best("BM_generate", "tokens/s")
    threads = x.context.get("openblas_threads", str(args.threads))
    copy_name, read_name = f"BM_copy_bandwidth/threads:{threads}", f"BM_read_bandwidth/threads:{threads}"
    if copy_name not in x.rows:  # an OpenBLAS thread count the benchmark has no row for
        copy_name, read_name = "BM_copy_bandwidth/threads:1", "BM_read_bandwidth/threads:1"
        threads = "1"
    copy, read = x.best(copy_name, "copied_bytes/s"), x.best(read_name, "read_bytes/s")
    traffic = 2 * copy if copy else None  # each copied byte is read once and written once
    weight_mb = x.counter("BM_generate", "weight_MB") or x.counter(copy_name, "weight_MB")
    bound = traffic / (weight_mb * 1e6) if traffic and weight_mb else None
    read_bound = read / (weight_mb * 1e6) if read and weight_mb else None
    return {
        "x": xg, "x_median": x.counter("BM_generate", "tokens/s"), "x_worst": x.worst("BM_generate", "tokens/s"),
        "x_runs": 1 if args.quick else args.repetitions, "x_prefill": x.counter("BM_generate", "prefill_ms"),
        "p": peer["gen_decode_tok_s"], "p_median": peer["gen_decode_tok_s_median"],
        "p_worst": min(peer["gen_decode_tok_s_all"]),
        "ratio": xg / peer["gen_decode_tok_s"] if xg else None,
        "copy": copy, "traffic": traffic, "copy_worst": x.worst(copy_name, "copied_bytes/s"), "copy_threads": threads,
        "weight_mb": weight_mb, "bound": bound, "frac": xg / bound if xg and bound else None,
        "read": read, "read_bound": read_bound, "read_frac": xg / read_bound if xg and read_bound else None,
    }


def summary_lines(args, x, peer):
    g = generate_summary(args, x, peer)
    ctx = x.context
    ok = None if g["ratio"] is None else g["ratio"] >= args.bar_generate
    pct = lambda v: fmt(v * 100 if v is not None else None, ".0f", "%")
    gb2 = lambda v: fmt(v / 1e9 if v else None, ".2f")
    return [
        f"generate decode ({GENERATE_PROMPT_TOKENS}-token prompt, {GENERATE_NEW_TOKENS} new greedy tokens, "
        f"OpenBLAS core {ctx.get('openblas_core', '?')}, {ctx.get('openblas_threads', '?')} thread(s); "
        f"torch {peer['torch_threads']} thread(s)):",
        f"  xlens        {fmt(g['x'])} tokens/s (best; worst {fmt(g['x_worst'])}, median {fmt(g['x_median'])})",
        f"  transformers {fmt(g['p'])} tokens/s (best; worst {fmt(g['p_worst'])}, median {fmt(g['p_median'])})",
        f"  ratio        {fmt(g['ratio'], '.2f', '×')} xlens/transformers — bar ≥ {args.bar_generate:g}×: {verdict(ok)}",
        f"  copy         {gb2(g['copy'])} GB/s copied (memcpy of 256 MiB, {g['copy_threads']} thread(s), best; worst "
        f"{gb2(g['copy_worst'])}) = {gb2(g['traffic'])} GB/s of traffic (each byte read once, written once)",
        f"  bound        {fmt(g['bound'])} tokens/s = {gb2(g['traffic'])} GB/s / {fmt(g['weight_mb'], '.1f')} MB of "
        f"weights per token; xlens at {pct(g['frac'])} of it",
        f"  read-only    {fmt(g['read_bound'])} tokens/s = {gb2(g['read'])} GB/s read (cross-check); "
        f"xlens at {pct(g['read_frac'])} of it",
    ]


def render(rows, lines_after):
    head = ("metric", "xlens", "transformers", "ratio", "bar", "verdict")
    out = ["| " + " | ".join(head) + " |", "|" + "|".join(["---"] * len(head)) + "|"]
    out += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(out + [""] + lines_after) + "\n"


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bench", type=Path, default=DEFAULT_BENCH, help=f"xlens_bench program (default {DEFAULT_BENCH})")
    ap.add_argument("--gguf", type=Path, default=DEFAULT_GGUF, help="the GGUF model both sides start from")
    ap.add_argument("--f32-dir", type=Path, default=DEFAULT_F32, help="f32 Hugging Face folder (written if missing)")
    ap.add_argument("--threads", type=int, default=2, help="torch threads = OPENBLAS_NUM_THREADS (default 2)")
    ap.add_argument("--runs", type=int, default=7, help="timed transformers prefill runs after warm-up (default 7)")
    ap.add_argument("--decode-steps", type=int, default=32, help="timed transformers decode steps (default 32)")
    ap.add_argument("--repetitions", type=int, default=5, help="xlens_bench repetitions; medians are used (default 5)")
    ap.add_argument("--quick", action="store_true", help="smoke run: one short xlens repetition, 5 peer runs")
    ap.add_argument("--bench-arg", action="append", help="extra argument for xlens_bench (repeatable)")
    ap.add_argument("--markdown", type=Path, help="also write the table to this file")
    ap.add_argument("--make-f32-only", action="store_true", help="write the f32 folder if missing, then stop")
    ap.add_argument("--bar-prefill", type=float, default=1.5, help="prefill speed-up over transformers (default 1.5)")
    ap.add_argument("--bar-cache-overhead", type=float, default=0.15, help="caching-every-hook overhead (default 0.15)")
    ap.add_argument("--bar-open-ms", type=float, default=50.0, help="open time of the f32 folder (default 50 ms)")
    ap.add_argument("--bar-decode", type=float, default=3.0, help="decode tokens/s over transformers (default 3)")
    ap.add_argument("--bar-bandwidth", type=float, default=0.60, help="decode share of the bandwidth bound (default 0.6)")
    ap.add_argument("--bar-generate", type=float, default=2.0,
                    help="generate's decode tokens/s over transformers' (default 2, the issue's first bar)")
    ap.add_argument("--generate-runs", type=int, default=5,
                    help="timed transformers generate calls after a warm-up; the best is used (default 5)")
    args = ap.parse_args(argv)
    if args.quick:
        args.runs, args.decode_steps = min(args.runs, 5), min(args.decode_steps, 8)
        args.generate_runs = min(args.generate_runs, 2)

    # Before torch is imported: its OpenMP pool is sized from this on first use.
    os.environ["OMP_NUM_THREADS"] = str(args.threads)
    load_start = os.getloadavg()[0]

    if not (args.f32_dir / "config.json").exists():
        make_f32_folder(args.gguf, args.f32_dir)
    if args.make_f32_only:
        return 0
    if not args.bench.exists():
        raise SystemExit(f"{args.bench}: not built (cmake -DXLENS_BUILD_BENCHMARKS=ON, then build target xlens_bench)")

    # xlens first, in its own process, so torch's worker threads are not yet alive to compete.
    x = BenchResults(run_xlens(args))
    # Same thread count on both sides: torch gets what OpenBLAS reports it used.
    try:
        args.threads = int(x.context.get("openblas_threads", args.threads))
    except ValueError:
        pass
    print(f"running transformers ({args.threads} threads) ...", flush=True)
    peer = run_peer(args)
    load_end = os.getloadavg()[0]

    ctx = x.context
    notes = [
        "¹ transformers' nearest analogue of caching every hook: output_hidden_states + output_attentions "
        "(fewer tensors than xlens records; shown for scale, the bar compares xlens with itself).",
        "",
        f"- machine: {cpu_name()}, {os.cpu_count()} logical CPUs; load average {load_start:.2f} at start, "
        f"{load_end:.2f} at end" + (" — **not a quiet machine, treat numbers as rough**" if max(load_start, load_end) > 0.5 else ""),
        f"- OpenBLAS: core {ctx.get('openblas_core', '?')}, {ctx.get('openblas_threads', '?')} thread(s) "
        f"[{ctx.get('openblas_config', '?')}]",
        f"- torch {peer['torch']} ({peer['torch_threads']} threads), transformers {peer['transformers']}, "
        f"fp32, eager attention, inference_mode",
        f"- tokens: ids (i · 7919) mod vocab, {PROMPT_TOKENS} of them; xlens medians of "
        f"{'1 short run (--quick)' if args.quick else f'{args.repetitions} repetitions'}; transformers medians of "
        f"{args.runs} prefill runs and {args.decode_steps} decode steps",
        f"- generate: ids (i · 7919) mod vocab, {GENERATE_PROMPT_TOKENS} of them, then {GENERATE_NEW_TOKENS} new "
        f"greedy tokens with no stop token; decode tokens/s = {GENERATE_NEW_TOKENS - 1} / (end of the call − first "
        f"new token), so the prompt's prefill is excluded; best of {'1 short run' if args.quick else f'{args.repetitions} repetitions'} "
        f"(xlens) and of {args.generate_runs} calls after a warm-up (transformers)",
        f"- ratio: how many times faster xlens is (time_transformers / time_xlens, or tokens/s_xlens / tokens/s_transformers)",
    ]
    text = render(build_table(args, x, peer), notes + [""] + ["```"] + summary_lines(args, x, peer) + ["```"])
    print()
    print(text)
    if args.markdown:
        args.markdown.parent.mkdir(parents=True, exist_ok=True)
        args.markdown.write_text(text)
        print(f"wrote {args.markdown}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
