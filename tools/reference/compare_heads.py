#!/usr/bin/env python3
"""Per-head attention scores of `xlens heads` against TransformerLens's head detector.

    compare_heads.py --xlens BIN --model DIR [--tol 1e-4] [--random-repeats 8] [--repeat-length 20]
                     [--seed 0] [--window 4] [--reference-only] [--keep OUTDIR]

Runs `BIN heads DIR --random-repeats N --repeat-length L --seed S --window K --json OUT.json` and
reads back the exact id sequences xlens scored (schema xlens.heads/1: "sequences", each an optional
prefix (the tokenizer's BOS; none for a folder without a tokenizer) then L random ids repeated
twice, and "scores", score -> [n_layers][n_heads]). Each sequence goes through TransformerLens 4
(TransformerBridge booted on the transformers model, fp32, eager attention; ids as given, no BOS
added) and for every head TL's compute_head_attention_similarity_score(pattern, detection,
exclude_bos=False, exclude_current_token=False, error_measure="mul")
= sum(pattern * detection) / sum(pattern) is taken with the detection patterns of
get_previous_token_head_detection_pattern, get_duplicate_token_head_detection_pattern and
get_induction_head_detection_pattern. Their means over the sequences must equal xlens's
previous_token, duplicate_token and induction within --tol. The sum runs over every query row and
each row sums to 1, so a perfect induction head scores only about 1/2 here: the first repeat has
nothing to find (more when a token recurs inside a repeat).

TL has no detector for xlens's other scores; they are checked against the definitions documented
in include/xlens/analysis/attention_heads.hpp, evaluated here on TL's patterns (A = one head's
pattern, rows i >= 1, K = --window): first_token mean A[i, 0]; self mean A[i, i]; local
mean sum_{2 <= i-j <= K} A[i, j]; mean_distance sum_ij A[i, j] (i - j) / T over all rows; entropy
mean -sum_j A[i, j] ln A[i, j] / ln(i + 1). Also: induction_rows (the share of rows that have an
induction target, i.e. an earlier copy of their token) against TL's induction detection pattern;
schema, layers, heads; N sequences of that shape, ids inside the vocabulary; every score
[n_layers][n_heads], in [0, 1] but mean_distance; the same --seed giving the same sequences and
scores again while another seed gives other sequences.

On a folder from make_planted_heads.py (MANIFEST.json naming the planted heads) the planted heads'
reference scores are printed, and the planted previous-token and induction heads must have TL's
highest score of their role: the reference agrees with the construction. The roles xlens names
(clustering and naming, "roles" in the JSON) must give every planted head its role and no other
head any planted role.

--reference-only runs the reference half alone on sequences made here the same way (BOS prefix
only when the folder has a tokenizer; ids drawn uniformly from the vocabulary by numpy's
default_rng(S), so not xlens's ids). Folders without a tokenizer get compare_analysis.py's
word-level stand-in for TL. Exit 1 on any failure, 2 when the reference fails its own consistency
checks (TL's pattern against transformers' attentions, TL's score against the formula above).
"""
import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch
import transformers

from compare_analysis import Checks, SelfCheckError, maxdiff, word_level_tokenizer

TL_ROLES = {"previous_token": "get_previous_token_head_detection_pattern",
            "duplicate_token": "get_duplicate_token_head_detection_pattern",
            "induction": "get_induction_head_detection_pattern"}


def xlens_defined(A, K):
    """xlens's own scores of one pattern A [T, T] (float64), as attention_heads.hpp defines them."""
    T = A.shape[0]
    i = np.arange(1, T)
    offset = np.arange(T)[:, None] - np.arange(T)[None, :]  # i - j; < 0 above the diagonal
    safe = np.where(A > 0, A, 1.0)
    row_entropy = -(A * np.log(safe)).sum(-1)
    return {"first_token": A[i, 0].mean(), "self": A[i, i].mean(),
            "local": (A * ((offset >= 2) & (offset <= K)))[i].sum(-1).mean(),
            "mean_distance": (A * np.maximum(offset, 0)).sum() / T,
            "entropy": (row_entropy[i] / np.log(i + 1.0)).mean()}


XLENS_DEFINED = ("first_token", "self", "local", "mean_distance", "entropy")


def self_check(what, delta, tol=1e-5):
    if not delta <= tol:
        raise SelfCheckError(f"reference self-check failed: {what}: max |delta| {delta:.3g}")


def has_tokenizer(path):
    return any((Path(path) / f).exists() for f in ("tokenizer.json", "tokenizer_config.json"))


def reference_sequences(path, cfg, n, length, seed):
    """Like xlens's: BOS (when the folder has a tokenizer) + R + R, R uniform over the vocabulary."""
    bos = getattr(cfg, "bos_token_id", None)
    prefix = [int(bos)] if has_tokenizer(path) and bos is not None else []
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        r = [int(t) for t in rng.integers(0, cfg.vocab_size, length)]
        out.append(prefix + r + r)
    return out


class Reference:
    """TL's scores of every head, averaged over the sequences."""

    def __init__(self, path, sequences, window):
        from transformer_lens import head_detector
        from transformer_lens.model_bridge import TransformerBridge
        transformers.utils.logging.disable_progress_bar()
        hf = transformers.AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32,
                                                               attn_implementation="eager").eval()
        # transformers' own patterns, taken before the bridge rewires the modules
        hf_patterns = [torch.stack(hf(torch.tensor([s]), output_attentions=True).attentions)[:, 0]
                       for s in sequences]
        with tempfile.TemporaryDirectory(prefix="xlens_tok_") as tmp:
            tok = None if has_tokenizer(path) else word_level_tokenizer(hf.config.vocab_size, tmp)
            m = TransformerBridge.boot_transformers(str(path), hf_model=hf, tokenizer=tok)
        self.cfg, self.L, self.H = m.cfg, m.cfg.n_layers, m.cfg.n_heads
        self.scores = {role: np.zeros((self.L, self.H)) for role in (*TL_ROLES, *XLENS_DEFINED)}
        self.induction_rows = 0.0
        for ids, hf_pattern in zip(sequences, hf_patterns):
            tokens = torch.tensor([ids])
            _, cache = m.run_with_cache(tokens, remove_batch_dim=True)
            detection = {role: getattr(head_detector, fn)(tokens) for role, fn in TL_ROLES.items()}
            rows = float((detection["induction"].sum(-1) > 0).sum()) / len(ids)
            self.induction_rows += rows / len(sequences)
            for layer in range(self.L):
                pattern = cache["pattern", layer, "attn"]  # [head, q, k], as detect_head reads it
                self_check(f"L{layer} TL pattern vs transformers' attentions",
                           maxdiff(pattern, hf_pattern[layer]))
                for head in range(self.H):
                    p = pattern[head]
                    for role, d in detection.items():
                        score = head_detector.compute_head_attention_similarity_score(
                            p, detection_pattern=d, exclude_bos=False, exclude_current_token=False,
                            error_measure="mul")
                        # the definition xlens implements, in float64
                        formula = float((p.double() * d.double()).sum() / p.double().sum())
                        self_check(f"L{layer}H{head} {role}: TL score vs sum(p*d)/sum(p)",
                                   abs(score - formula))
                        self.scores[role][layer, head] += score / len(sequences)
                    for role, value in xlens_defined(p.double().numpy(), window).items():
                        self.scores[role][layer, head] += value / len(sequences)


def run_xlens(args, out, seed):
    cmd = [str(args.xlens), "heads", str(args.model), "--random-repeats", str(args.random_repeats),
           "--repeat-length", str(args.repeat_length), "--seed", str(seed), "--window", str(args.window),
           "--json", str(out)]
    return subprocess.run(cmd, capture_output=True, text=True), " ".join(cmd[1:])


def as_array(values, shape):
    """Nested JSON lists as an array of `shape`, or None when they do not have that shape."""
    try:
        a = np.asarray(values, np.float64)
    except (TypeError, ValueError):
        return None
    return a if a.shape == shape else None


def check_sequences(chk, sequences, args, vocab, n_ctx):
    n, L = args.random_repeats, args.repeat_length
    shaped = [s for s in sequences if isinstance(s, list) and len(s) - 2 * L in (0, 1) and len(s) <= n_ctx
              and all(isinstance(t, int) and 0 <= t < vocab for t in s) and s[-2 * L:-L] == s[-L:]]
    chk(len(sequences) == n and len(shaped) == n,
        f"{len(sequences)} sequences (want {n}), {len(shaped)} of them [BOS] + {L} ids repeated twice, "
        f"inside the vocabulary of {vocab} and the context of {n_ctx}")
    return len(shaped) == n


def print_table(ref, got=None):
    for layer in range(ref.shape[0]):
        print(f"    L{layer}  ref   " + " ".join(f"{v:7.4f}" for v in ref[layer]))
        if got is not None:
            print(f"        xlens " + " ".join(f"{v:7.4f}" for v in got[layer]))


def check_planted(chk, model_dir, ref):
    """The planted heads of make_planted_heads.py, seen by TL."""
    path = Path(model_dir) / "MANIFEST.json"
    manifest = json.loads(path.read_text()) if path.exists() else {}
    if not isinstance(manifest, dict) or "induction" not in manifest:
        return
    print("planted heads (MANIFEST.json), reference scores:")
    for role, heads in manifest.items():
        for layer, head in heads:
            cells = ", ".join(f"{r} {ref.scores[r][layer, head]:.4f}" for r in ref.scores)
            print(f"    {role:15s} L{layer}H{head}: {cells}")
    for role in ("previous_token", "induction"):
        (layer, head), = manifest[role]
        s = ref.scores[role]
        top = np.unravel_index(s.argmax(), s.shape)
        chk(tuple(int(x) for x in top) == (layer, head),
            f"planted {role} head L{layer}H{head} has TL's highest {role} score "
            f"({s[layer, head]:.4f}; highest L{top[0]}H{top[1]} {s.max():.4f})")


def check_planted_roles(chk, model_dir, data):
    """The pipeline's roles on the planted model: every planted head named after its role, and no
    other head given any planted role."""
    path = Path(model_dir) / "MANIFEST.json"
    manifest = json.loads(path.read_text()) if path.exists() else {}
    if not isinstance(manifest, dict) or "induction" not in manifest or data is None:
        return
    named = {(r["layer"], r["head"]): r["role"] for r in data.get("roles", [])}
    planted = {(layer, head): role for role, heads in manifest.items() for layer, head in heads}
    print("roles named by xlens: " + ", ".join(f"L{l}H{h} {r}" for (l, h), r in sorted(named.items())))
    for (layer, head), role in sorted(planted.items()):
        chk(named.get((layer, head)) == role, f"planted {role} head L{layer}H{head} is named {named.get((layer, head))}")
    others = {k: r for k, r in named.items() if k not in planted and r in manifest}
    chk(not others, "no other head has a planted role" + (f"; but {others}" if others else ""))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--xlens", type=Path, help="path of the built xlens program")
    ap.add_argument("--model", required=True, type=Path, help="Hugging Face model folder")
    ap.add_argument("--tol", type=float, default=1e-4, help="max |delta| allowed (default 1e-4)")
    ap.add_argument("--random-repeats", type=int, default=8, help="N sequences (default 8)")
    ap.add_argument("--repeat-length", type=int, default=20, help="L random ids per repeat (default 20)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--window", type=int, default=4, help="K of the local score (default 4, as xlens)")
    ap.add_argument("--reference-only", action="store_true", help="TransformerLens numbers only, no xlens")
    ap.add_argument("--keep", type=Path, help="keep xlens's outputs in this folder")
    args = ap.parse_args(argv)
    if not args.reference_only and args.xlens is None:
        ap.error("--xlens is required unless --reference-only")
    torch.set_grad_enabled(False)
    torch.set_num_threads(1)  # tiny matrices: more threads only add contention
    cfg = transformers.AutoConfig.from_pretrained(args.model)
    n_ctx = getattr(cfg, "max_position_embeddings", None) or getattr(cfg, "n_positions", 0)
    chk = Checks(args.tol)

    with tempfile.TemporaryDirectory(prefix="xlens_heads_") as tmp:
        work = args.keep or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        data = None
        if args.reference_only:
            sequences = reference_sequences(args.model, cfg, args.random_repeats, args.repeat_length, args.seed)
        else:
            proc, cmd = run_xlens(args, work / "heads.json", args.seed)
            chk(proc.returncode == 0, f"xlens {cmd}: exit {proc.returncode}"
                + ("" if proc.returncode == 0 else f": {proc.stderr.strip()[:300]}"))
            if proc.returncode != 0:
                print(f"FAIL: {len(chk.failures)} of {chk.count} checks failed")
                return 1
            data = json.loads((work / "heads.json").read_text())
            sequences = data.get("sequences") or []
            header = (data.get("schema"), data.get("layers"), data.get("heads"))
            chk(header[0] == "xlens.heads/1" and header[1:] == (cfg.num_hidden_layers, cfg.num_attention_heads),
                f"schema, layers, heads {header}")
            if not check_sequences(chk, sequences, args, cfg.vocab_size, n_ctx):
                print(f"FAIL: {len(chk.failures)} of {chk.count} checks failed")
                return 1
        try:
            ref = Reference(args.model, sequences, args.window)
        except SelfCheckError as e:
            print(e, file=sys.stderr)
            return 2
        print(f"model {args.model} ({cfg.model_type}, {ref.L} layers x {ref.H} heads), {len(sequences)} "
              f"sequences of {len(sequences[0])} ids, seed {args.seed}; first: {sequences[0]}")

        scores = (data or {}).get("scores") or {}
        for role in (*TL_ROLES, *XLENS_DEFINED):
            source = (f"TL {TL_ROLES[role]}, mul" if role in TL_ROLES
                      else "attention_heads.hpp's definition on TL's patterns")
            print(f"{role} ({source}, mean over sequences)")
            got = None if data is None else as_array(scores.get(role), (ref.L, ref.H))
            print_table(ref.scores[role], got)
            if data is not None:
                if got is None:
                    chk(False, f"{role}: xlens has no [{ref.L}][{ref.H}] array")
                else:
                    chk.close(f"{role}: [{ref.L}, {ref.H}] vs reference", got, ref.scores[role])
        print(f"induction_rows (rows with a target in TL's induction pattern): reference {ref.induction_rows:.6f}")
        if data is not None:
            chk.close("induction_rows", data.get("induction_rows", np.nan), ref.induction_rows)

        if data is not None:
            top = lambda r: np.inf if r == "mean_distance" else 1 + 1e-6  # noqa: E731  (in positions)
            bad = [r for r, v in scores.items() if (a := as_array(v, (ref.L, ref.H))) is None
                   or not (np.isfinite(a).all() and a.min() >= -1e-6 and a.max() <= top(r))]
            chk(not bad, f"{len(scores)} score arrays ({', '.join(scores)}) [{ref.L}][{ref.H}], in [0, 1] "
                "but mean_distance"
                + (f"; not: {bad}" if bad else ""))
            again, cmd = run_xlens(args, work / "again.json", args.seed)
            other, cmd2 = run_xlens(args, work / "other.json", args.seed + 1)
            if again.returncode == 0 and other.returncode == 0:
                a, o = (json.loads((work / f).read_text()) for f in ("again.json", "other.json"))
                chk(a.get("sequences") == sequences and a.get("scores") == scores,
                    f"seed {args.seed} again: same sequences and scores")
                chk(o.get("sequences") != sequences, f"seed {args.seed + 1}: other sequences")
            else:
                chk(False, f"reruns: exit {again.returncode} ({cmd}), {other.returncode} ({cmd2})")
        check_planted(chk, args.model, ref)
        check_planted_roles(chk, args.model, data)

    if chk.failures:
        print(f"FAIL: {len(chk.failures)} of {chk.count} checks failed (tol {args.tol:g})")
        return 1
    if args.reference_only:
        print("reference only: TransformerLens side ran and passed its self-checks"
              + (f" and {chk.count} checks" if chk.count else ""))
        return 0
    print(f"PASS: {chk.count} checks within {args.tol:g}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
