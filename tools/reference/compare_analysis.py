#!/usr/bin/env python3
"""Logit lens, direct logit attribution and activation patching of xlens against TransformerLens.

    compare_analysis.py --xlens BIN --model DIR [--tol 1e-4] [--commands lens,attribute,patch]
                        [--answer N --wrong N] [--reference-only]

Reference: TransformerLens 4 (TransformerBridge booted on the transformers model, fp32, eager
attention) with enable_compatibility_mode(center_unembed=False, fold_value_biases=False), which keeps
absolute logits and keeps b_V inside each head's z, as xlens does. Fixed ids: clean
[1,5,9,12,3,7,2,11], corrupted [1,8,9,12,3,13,2,11] (positions 1 and 5 differ). Answer = the clean
run's top token at the last position, wrong = the corrupted run's top token other than that (fixed
per model; --answer/--wrong override). Every tolerance is --tol unless noted.

1. `xlens lens` (default and --frozen-scale): npy [n_layers+1, T, vocab] against
   accumulated_resid(apply_ln=True) @ W_U + b_U, resp. apply_ln_to_stack(accumulated_resid(),
   recompute_ln=False) @ W_U + b_U; layer labels; last row = the model's logits; json top-k (TL's
   logits at xlens's ids equal TL's k largest, so ties are no failure), probabilities = softmax of
   TL's row, logits, target logit / probability / 1-based rank.
2. `xlens attribute` (last position with and without --versus, position 4 with --versus): each head
   against stack_head_results (no ln) + logit_attrs (which applies ln_final's cached scale itself),
   heads + attn_bias per layer against decompose_resid's attn_out, attn_bias against b_O, mlp +
   mlp_bias against mlp_out, mlp_bias against b_out, embed / pos_embed, ln_final_bias +
   unembed_bias against TL's b_U (fold_ln folds ln_final's bias into b_U, so TL cannot split the
   two), final_scale against ln_final.hook_scale, model_value against the run's logits, total =
   sum of components = model_value (1e-3).
3. `xlens patch`: resid_pre, attn_out, mlp_out, head (hook_z, all positions), head_by_position
   (TL's [layer, pos, head] transposed to [layer, head, pos]), each denoising and noising, against
   get_act_patch_* with the normalised logit difference (clean 1, corrupted 0); clean/corrupted
   metric (raw logit differences); --brute-force equals the default; ids of different lengths are
   refused (non-zero exit, a message).

A command asked for with --commands that xlens's usage text does not list is a failure.
--reference-only runs the TransformerLens half alone and prints its numbers. The tiny test folders
have no tokenizer: TL gets a word-level stand-in ("t0".."t{V-1}") written to a temporary folder.
Exit 1 on any failure, 2 when the reference fails its own consistency checks (a bug here).
"""
import argparse
import json
import re
import subprocess
import sys
import tempfile
from collections import defaultdict
from pathlib import Path

import numpy as np
import torch
import transformers

CLEAN = [1, 5, 9, 12, 3, 7, 2, 11]
CORRUPT = [1, 8, 9, 12, 3, 13, 2, 11]
TOP_K = 5
MID = 4  # the non-last position for `attribute`
PATCH_TARGETS = {"resid_pre": "get_act_patch_resid_pre", "attn_out": "get_act_patch_attn_out",
                 "mlp_out": "get_act_patch_mlp_out", "head": "get_act_patch_attn_head_out_all_pos",
                 "head_by_position": "get_act_patch_attn_head_out_by_pos"}
KINDS = {"embed", "pos_embed", "head", "attn_bias", "mlp", "mlp_bias", "ln_final_bias", "unembed_bias"}


class SelfCheckError(RuntimeError):
    """The reference contradicts itself: a bug in this script, not in xlens."""


def maxdiff(got, ref):
    d = np.abs(np.asarray(got, np.float64) - np.asarray(ref, np.float64))
    return float(d.max(initial=0.0)) if not np.isnan(d).any() else float("nan")


def as_array(values, shape):
    """Nested JSON lists as an array of `shape`, NaN when they do not have that shape."""
    try:
        a = np.asarray(values, np.float64)
    except (TypeError, ValueError):
        a = None
    return a if a is not None and a.shape == shape else np.full(shape, np.nan)


def self_check(what, delta, tol=1e-4):
    if not delta <= tol:
        raise SelfCheckError(f"reference self-check failed: {what}: max |delta| {delta:.3g}")


class Checks:
    def __init__(self, tol):
        self.tol, self.failures, self.count = tol, [], 0

    def __call__(self, ok, what):
        self.count += 1
        print(("  ok    " if ok else "  FAIL  ") + what)
        if not ok:
            self.failures.append(what)

    def close(self, what, got, ref, tol=None):
        tol = self.tol if tol is None else tol
        d = maxdiff(got, ref)
        self(d <= tol, f"{what}: max |delta| {d:.3g}")


# ---- TransformerLens --------------------------------------------------------------------------------

def word_level_tokenizer(vocab, folder):
    """TransformerBridge needs a tokenizer it can reload from disk (it re-opens name_or_path)."""
    from tokenizers import Tokenizer, models, pre_tokenizers
    tk = Tokenizer(models.WordLevel({f"t{i}": i for i in range(vocab)}, unk_token="t0"))
    tk.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    transformers.PreTrainedTokenizerFast(tokenizer_object=tk, unk_token="t0", bos_token="t1",
                                         eos_token="t2", pad_token="t0").save_pretrained(folder)
    return transformers.AutoTokenizer.from_pretrained(folder)


class Reference:
    """One bridge, the clean and the corrupted run cached, and the TL side of every check."""

    def __init__(self, path, answer, wrong):
        from transformer_lens.model_bridge import TransformerBridge
        transformers.utils.logging.disable_progress_bar()
        hf = transformers.AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32,
                                                               attn_implementation="eager").eval()
        hf_logits = hf(torch.tensor([CLEAN])).logits[0]  # before the bridge rewires the modules
        with tempfile.TemporaryDirectory(prefix="xlens_tok_") as tmp:
            has_tok = any((Path(path) / f).exists() for f in ("tokenizer.json", "tokenizer_config.json"))
            tok = None if has_tok else word_level_tokenizer(hf.config.vocab_size, tmp)
            m = TransformerBridge.boot_transformers(str(path), hf_model=hf, tokenizer=tok)
        m.enable_compatibility_mode(center_unembed=False, fold_value_biases=False)
        self.m, self.cfg, self.sweeps = m, m.cfg, {}
        self.L, self.H, self.T = m.cfg.n_layers, m.cfg.n_heads, len(CLEAN)
        logits, self.cache = m.run_with_cache(torch.tensor([CLEAN]))
        c_logits, self.c_cache = m.run_with_cache(torch.tensor([CORRUPT]))
        self.logits, self.c_logits = logits[0], c_logits[0]
        self_check("TL logits vs transformers", maxdiff(self.logits, hf_logits), 1e-5)
        self.W_U = m.W_U
        self.b_U = m.b_U if getattr(m, "b_U", None) is not None else torch.zeros(self.W_U.shape[1])
        # RMSNorm models get the lens and the attributions from TL's residual stream and component
        # stacks with the final norm, unembedding and soft-cap applied here from transformers'
        # weights: TL does not fold every family's norms (OLMo 2), and it neither applies Gemma 2's
        # final soft-cap in a lens nor reads heads through a norm on the attention output.
        final_norm = getattr(getattr(hf, "model", None), "norm", None)
        self.hf, self.rms = hf, final_norm is not None and getattr(final_norm, "bias", None) is None
        self.post, self.cap = None, 0.0
        if self.rms:
            norm = hf.model.norm
            offset = 1.0 if "gemma" in hf.config.model_type else 0.0
            self.gamma = (offset + norm.weight.detach().float())
            self.eps = getattr(norm, "variance_epsilon", None) or norm.eps
            self.W_U = hf.lm_head.weight.detach().float().T
            self.b_U = torch.zeros(self.W_U.shape[1])
            self.cap = getattr(hf.config, "final_logit_softcapping", None) or 0.0
            post = getattr(hf.model.layers[0], "post_feedforward_layernorm", None) is not None
            self.post = [(offset + l.post_attention_layernorm.weight.detach().float(),
                          getattr(l.post_attention_layernorm, "variance_epsilon", None) or l.post_attention_layernorm.eps)
                         for l in hf.model.layers] if post else None
        last = self.logits[-1]
        self.A = int(last.argmax()) if answer is None else answer
        order = self.c_logits[-1].argsort(descending=True).tolist()
        self.B = next(t for t in order if t != self.A) if wrong is None else wrong
        self.m_clean, self.m_corrupt = self.logit_diff(logits), self.logit_diff(c_logits)
        if abs(self.m_clean - self.m_corrupt) < 0.05:
            raise SelfCheckError(f"clean and corrupted logit differences are too close "
                                 f"({self.m_clean:.4f}, {self.m_corrupt:.4f}): pick --answer/--wrong")

    def logit_diff(self, logits):
        return float(logits[0, -1, self.A] - logits[0, -1, self.B])

    def soft_cap(self, x):
        return torch.tanh(x / self.cap) * self.cap if self.rms and self.cap else x

    def lens(self, frozen):
        """[n_layers+1, T, vocab] and the labels."""
        if self.rms:  # final RMSNorm (recomputed, or with the run's frozen scale), W_U, soft-cap
            acc, labels = self.cache.accumulated_resid(apply_ln=False, return_labels=True)
            scale = (self.cache["ln_final.hook_scale"] if frozen
                     else torch.sqrt(acc.pow(2).mean(-1, keepdim=True) + self.eps))
            out = self.soft_cap((acc / scale * self.gamma) @ self.W_U)[:, 0]
            self_check(f"lens ({'frozen' if frozen else 'recompute'}) last row vs logits", maxdiff(out[-1], self.logits))
            return out.numpy(), labels
        acc, labels = self.cache.accumulated_resid(apply_ln=not frozen, return_labels=True)
        if frozen:
            acc = self.cache.apply_ln_to_stack(acc, recompute_ln=False)
        out = (acc @ self.W_U + self.b_U)[:, 0]
        self_check(f"lens ({'frozen' if frozen else 'recompute'}) last row vs logits", maxdiff(out[-1], self.logits))
        return out.numpy(), labels

    def attribution(self, P, versus):
        """Direct logit attribution of the target (minus `versus`) at position P."""
        c = self.cache
        kw = dict(tokens=torch.tensor([self.A]), pos_slice=P,
                  incorrect_tokens=None if versus is None else torch.tensor([versus]))
        attr = lambda stack: c.logit_attrs(stack, **kw)[:, 0].numpy()  # noqa: E731
        # apply_ln=False: logit_attrs divides by ln_final's cached scale itself (apply_ln=True twice)
        head_stack = c.stack_head_results(layer=-1, pos_slice=P)  # [L*H, 1, d]
        if self.rms:
            u = self.gamma * (self.W_U[:, self.A] - (0 if versus is None else self.W_U[:, versus]))
            s_final = float(c["ln_final.hook_scale"][0, P, 0])
            attr = lambda stack: (stack[:, 0] @ u / s_final).numpy()  # noqa: E731
        if self.post:  # each head through the norm on the attention output, its scale frozen at P
            per_layer = head_stack.reshape(self.L, self.H, -1)
            for l, (g, eps) in enumerate(self.post):
                pre = per_layer[l].sum(0)
                per_layer[l] = per_layer[l] * g / torch.sqrt(pre.pow(2).mean() + eps)
            head_stack = per_layer.reshape(self.L * self.H, 1, -1)
        heads = attr(head_stack).reshape(self.L, self.H)
        stack, labels = c.decompose_resid(pos_slice=P, return_labels=True)
        parts = dict(zip(labels, attr(stack)))

        def bias(t):  # a bias vector as a one-component stack; models without it give 0
            return 0.0 if t is None else float(attr(t.detach().reshape(1, 1, -1))[0])
        b_O = np.array([bias(getattr(b.attn, "b_O", None)) for b in self.m.blocks])
        b_out = np.array([bias(getattr(b.mlp, "b_out", None)) for b in self.m.blocks])
        unembed = float(self.b_U[self.A] - (0 if versus is None else self.b_U[versus]))
        value = float(self.logits[P, self.A] - (0 if versus is None else self.logits[P, versus]))
        if self.rms and self.cap:  # the parts explain the logit before the soft-cap
            pre_cap = torch.atanh(self.logits[P] / self.cap) * self.cap
            value = float(pre_cap[self.A] - (0 if versus is None else pre_cap[versus]))
        attn_out = np.array([parts[f"{l}_attn_out"] for l in range(self.L)])
        self_check("sum of decompose_resid attributions + b_U = logit", abs(sum(parts.values()) + unembed - value))
        self_check("heads + b_O = attn_out per layer", maxdiff(heads.sum(1) + b_O, attn_out))
        return dict(heads=heads, attn_out=attn_out, b_O=b_O, b_out=b_out, unembed=unembed, value=value,
                    mlp_out=np.array([parts[f"{l}_mlp_out"] for l in range(self.L)]),
                    embed=float(parts["embed"]), pos_embed=float(parts.get("pos_embed", 0.0)),
                    scale=float(c["ln_final.hook_scale"][0, P, 0]))

    def patching(self, target, direction):
        """Normalised logit-difference sweep in xlens's layout."""
        from transformer_lens import patching
        patching.tqdm = lambda it, **kw: it  # no progress bars
        tokens, cache = (CORRUPT, self.cache) if direction == "denoising" else (CLEAN, self.c_cache)
        mc, mx = self.m_clean, self.m_corrupt
        metric = lambda lg: (lg[0, -1, self.A] - lg[0, -1, self.B] - mx) / (mc - mx)  # noqa: E731
        out = getattr(patching, PATCH_TARGETS[target])(self.m, torch.tensor([tokens]), cache, metric)
        if target == "head_by_position":
            out = out.permute(0, 2, 1)  # TL: [layer, pos, head]
        out = out.numpy()
        self.sweeps[(target, direction)] = out
        if target == "resid_pre":  # layer 0 at a position whose token is the same changes nothing
            same = [t for t in range(self.T) if CLEAN[t] == CORRUPT[t]]
            self_check("resid_pre patch at unchanged positions of layer 0",
                       maxdiff(out[0, same], 0.0 if direction == "denoising" else 1.0))
            p, q = [t for t in range(self.T) if CLEAN[t] != CORRUPT[t]]  # both runs read the same ids
            if ("resid_pre", "denoising") in self.sweeps and direction == "noising":
                den = self.sweeps[("resid_pre", "denoising")]
                self_check("resid_pre: denoising at one changed position = noising at the other",
                           maxdiff([den[0, p], den[0, q]], [out[0, q], out[0, p]]))
        if target == "head" and direction == "denoising":
            self.check_z_hook(metric)
        return out

    def check_z_hook(self, metric):
        """Patching every head's z at every position of a layer = patching that layer's attn_out."""
        l, corrupt = self.L - 1, torch.tensor([CORRUPT])
        runs = [self.m.run_with_hooks(corrupt, fwd_hooks=[(f"blocks.{l}.{name}", lambda x, hook:
                                                            self.cache[hook.name])])
                for name in ("attn.hook_z", "hook_attn_out")]
        self_check("hook_z patch of a whole layer = its hook_attn_out patch",
                   abs(float(metric(runs[0]) - metric(runs[1]))))


# ---- xlens ------------------------------------------------------------------------------------------

def xlens(args, *argv):
    return subprocess.run([str(args.xlens), *map(str, argv)], capture_output=True, text=True, timeout=900)


def ran(chk, proc, what):
    if proc.returncode != 0:
        chk(False, f"{what}: xlens exited {proc.returncode}: {(proc.stderr or proc.stdout).strip()[:300]}")
    return proc.returncode == 0


def fmt(values):
    return "[" + ", ".join(f"{float(v):+.4f}" for v in values) + "]"


def ids(tokens):
    return ",".join(map(str, tokens))


def check_lens(args, ref, chk, work):
    A, K = ref.A, TOP_K
    for frozen in (False, True):
        mode = "frozen" if frozen else "recompute"
        tl, labels = ref.lens(frozen)
        rank = [1 + int((row > row[A]).sum()) for row in tl[:, -1]]
        print(f"  TL {mode}: {tl.shape}, labels {labels}, target {A} rank at the last position by layer {rank}")
        if args.reference_only:
            continue
        j, n = work / f"lens_{mode}.json", work / f"lens_{mode}.npy"
        cmd = ["lens", args.model, "--tokens", ids(CLEAN), "--target", f"id:{A}", "--top", K,
               "--json", j, "--npy", n] + (["--frozen-scale"] if frozen else [])
        if not ran(chk, xlens(args, *cmd), f"lens {mode}"):
            continue
        got, data = np.load(n), json.loads(j.read_text())
        if got.shape != tl.shape or got.dtype != np.float32:
            chk(False, f"{mode}: npy {got.shape} {got.dtype}, expected {tl.shape} float32")
            continue
        chk.close(f"{mode}: npy {got.shape} vs TL", got, tl)
        chk.close(f"{mode}: last row vs the model's logits", got[-1], ref.logits)
        header = (data.get("schema"), data.get("tokens"), data.get("layers"), data.get("norm"), data.get("target"))
        chk(header == ("xlens.lens/1", CLEAN, labels, mode, A),
            f"{mode}: json schema, tokens, layers = TL's labels, norm, target: {header[0]}, {header[2]}, "
            f"{header[3]}, {header[4]}")
        cells = data.get("cells", [])
        if len(cells) != len(labels) or any(len(row) != ref.T for row in cells):
            chk(False, f"{mode}: json cells are not [{len(labels)}][{ref.T}]")
            continue
        probs = torch.softmax(torch.from_numpy(tl).double(), -1).numpy()
        d = defaultdict(float)
        bad_k = bad_rank = 0
        for i, row_cells in enumerate(cells):
            for t, cell in enumerate(row_cells):
                row, p, top = tl[i, t], probs[i, t], cell["top"]
                top_ids = [c["id"] for c in top]
                if len(top_ids) != K:
                    bad_k += 1
                    continue
                d["top"] = max(d["top"], maxdiff(row[top_ids], np.sort(row)[::-1][:K]))
                d["prob"] = max(d["prob"], maxdiff([c["prob"] for c in top], p[top_ids]))
                d["logit"] = max(d["logit"], maxdiff([c["logit"] for c in top], row[top_ids]))
                tg = cell["target"]
                d["tlogit"] = max(d["tlogit"], maxdiff(tg["logit"], row[A]))
                d["tprob"] = max(d["tprob"], maxdiff(tg["prob"], p[A]))
                lo, hi = 1 + (row > row[A] + args.tol).sum(), 1 + (row > row[A] - args.tol).sum()
                bad_rank += not lo <= tg["rank"] <= hi
        chk(bad_k == 0, f"{mode}: {K} top entries in every cell ({bad_k} cells differ)")
        chk(d["top"] <= args.tol, f"{mode}: top-{K} ids are TL's {K} largest (logit gap {d['top']:.3g})")
        chk(d["prob"] <= args.tol and d["logit"] <= args.tol,
            f"{mode}: top-{K} probs = softmax {d['prob']:.3g}, logits {d['logit']:.3g}")
        chk(d["tlogit"] <= args.tol and d["tprob"] <= args.tol and bad_rank == 0,
            f"{mode}: target logit {d['tlogit']:.3g}, prob {d['tprob']:.3g}, 1-based rank ({bad_rank} wrong)")


def check_attribute(args, ref, chk, work):
    L, H, last = ref.L, ref.H, ref.T - 1
    for versus, position in ((None, None), (ref.B, None), (ref.B, MID)):
        P = last if position is None else position
        r = ref.attribution(P, versus)
        tag = f"target {ref.A}" + (f" vs {versus}" if versus is not None else "") + f" at {P}"
        order = np.argsort(-np.abs(r["heads"]), axis=None)[:4]
        top = ", ".join(f"L{i // H}H{i % H} {r['heads'].flat[i]:+.4f}" for i in order)
        print(f"  TL {tag}: value {r['value']:+.5f}, scale {r['scale']:.4f}, embed {r['embed']:+.4f}, "
              f"attn_out {fmt(r['attn_out'])}, mlp_out {fmt(r['mlp_out'])}, "
              f"b_U {r['unembed']:+.4f}; heads {top}")
        if args.reference_only:
            continue
        j = work / f"attr_{P}_{versus}.json"
        cmd = ["attribute", args.model, "--tokens", ids(CLEAN), "--target", f"id:{ref.A}", "--json", j]
        cmd += [] if versus is None else ["--versus", f"id:{versus}"]
        cmd += [] if position is None else ["--position", position]
        if not ran(chk, xlens(args, *cmd), f"attribute {tag}"):
            continue
        data = json.loads(j.read_text())
        comps = data.get("components", [])
        heads, sums, bad = np.full((L, H), np.nan), defaultdict(float), []
        for c in comps:
            if c["kind"] == "head":
                heads[c["layer"], c["head"]] = c["value"]
                bad += [] if c["label"] == f"L{c['layer']}H{c['head']}" else [c["label"]]
            else:
                sums[(c["kind"], c["layer"])] += c["value"]
                bad += [] if c["kind"] in KINDS else [c["kind"]]
        get = lambda kind, l=-1: sums.get((kind, l), 0.0)  # noqa: E731
        per_layer = lambda kind: np.array([get(kind, l) for l in range(L)])  # noqa: E731
        header = (data.get("schema"), data.get("position"), data.get("target"), data.get("versus"))
        chk(header == ("xlens.attribution/1", P, ref.A, versus) and not bad,
            f"{tag}: json schema, position, target, versus {header}; labels/kinds {bad or 'ok'}")
        chk.close(f"{tag}: {L * H} heads vs stack_head_results + logit_attrs", heads, r["heads"])
        chk.close(f"{tag}: heads + attn_bias per layer vs attn_out", np.nan_to_num(heads).sum(1)
                  + per_layer("attn_bias"), r["attn_out"])
        chk.close(f"{tag}: attn_bias vs b_O", per_layer("attn_bias"), r["b_O"])
        chk.close(f"{tag}: mlp + mlp_bias vs mlp_out", per_layer("mlp") + per_layer("mlp_bias"), r["mlp_out"])
        chk.close(f"{tag}: mlp_bias vs b_out", per_layer("mlp_bias"), r["b_out"])
        chk.close(f"{tag}: embed, pos_embed", [get("embed"), get("pos_embed")], [r["embed"], r["pos_embed"]])
        chk.close(f"{tag}: ln_final_bias + unembed_bias vs TL b_U (bias folded)",
                  get("ln_final_bias") + get("unembed_bias"), r["unembed"])
        chk.close(f"{tag}: final_scale", data.get("final_scale", np.nan), r["scale"])
        chk.close(f"{tag}: model_value vs TL logits", data.get("model_value", np.nan), r["value"])
        total = sum(c["value"] for c in comps)
        chk(maxdiff(total, data.get("total", np.nan)) <= 1e-3 and maxdiff(data.get("total", np.nan),
            data.get("model_value", np.nan)) <= 1e-3,
            f"{tag}: total {data.get('total')} = sum of components {total:.6f} = model_value (1e-3)")


def check_patch(args, ref, chk, work):
    print(f"  TL clean metric {ref.m_clean:+.5f}, corrupted {ref.m_corrupt:+.5f} "
          f"(logit {ref.A} - logit {ref.B} at the last position)")
    for target in PATCH_TARGETS:
        for direction in ("denoising", "noising"):
            tl = ref.patching(target, direction)
            tag = f"{target} {direction}"
            print(f"  TL {tag}: {tl.shape}, min {tl.min():+.4f}, max {tl.max():+.4f}"
                  + (f"\n{np.array2string(tl, precision=3, suppress_small=True)}" if target == "resid_pre" else ""))
            if args.reference_only:
                continue
            j, n, nb = work / f"p_{tag}.json", work / f"p_{tag}.npy", work / f"p_{tag}_bf.npy"
            cmd = ["patch", args.model, "--clean-tokens", ids(CLEAN), "--corrupt-tokens", ids(CORRUPT),
                   "--answer", f"id:{ref.A}", "--wrong", f"id:{ref.B}", "--target", target,
                   "--direction", direction]
            if not ran(chk, xlens(args, *cmd, "--json", j, "--npy", n), f"patch {tag}"):
                continue
            got, data = np.load(n), json.loads(j.read_text())
            if got.shape != tl.shape or got.dtype != np.float32:
                chk(False, f"{tag}: npy {got.shape} {got.dtype}, expected {tl.shape} float32")
                continue
            chk.close(f"{tag}: {got.shape} vs TL {PATCH_TARGETS[target]}", got, tl)
            header = (data.get("schema"), data.get("target"), data.get("direction"), data.get("shape"),
                      data.get("normalised"), len(data.get("axes", [])))
            chk(header == ("xlens.patching/1", target, direction, list(tl.shape), True, tl.ndim),
                f"{tag}: json schema, target, direction, shape, normalised, axes {data.get('axes')}")
            chk.close(f"{tag}: json values = npy", as_array(data.get("values"), got.shape), got, 1e-6)
            chk.close(f"{tag}: clean_metric, corrupted_metric",
                      [data.get("clean_metric", np.nan), data.get("corrupted_metric", np.nan)],
                      [ref.m_clean, ref.m_corrupt])
            if ran(chk, xlens(args, *cmd, "--brute-force", "--json", work / "bf.json", "--npy", nb),
                   f"patch {tag} --brute-force"):
                chk.close(f"{tag}: --brute-force = default", np.load(nb), got)
    if not args.reference_only:
        proc = xlens(args, "patch", args.model, "--clean-tokens", ids(CLEAN), "--corrupt-tokens",
                     ids(CORRUPT[:-1]), "--answer", f"id:{ref.A}", "--wrong", f"id:{ref.B}",
                     "--target", "resid_pre", "--json", work / "bad.json")
        msg = (proc.stderr or proc.stdout).strip()
        chk(proc.returncode != 0 and msg != "", f"lengths {len(CLEAN)} vs {len(CORRUPT) - 1} refused: "
            f"exit {proc.returncode}, {msg[:120]!r}" + ("" if "length" in msg else " (no 'length' in it)"))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--xlens", type=Path, help="path of the built xlens program")
    ap.add_argument("--model", required=True, type=Path, help="Hugging Face model folder")
    ap.add_argument("--tol", type=float, default=1e-4, help="max |delta| allowed (default 1e-4)")
    ap.add_argument("--commands", default="lens,attribute,patch", help="which subcommands to check")
    ap.add_argument("--answer", type=int, help="answer / target token id (default: clean top-1)")
    ap.add_argument("--wrong", type=int, help="wrong / versus token id (default: corrupted top-1)")
    ap.add_argument("--reference-only", action="store_true", help="TransformerLens numbers only, no xlens")
    ap.add_argument("--keep", type=Path, help="keep xlens's outputs in this folder")
    args = ap.parse_args(argv)
    commands = [c for c in args.commands.split(",") if c]
    if not args.reference_only and args.xlens is None:
        ap.error("--xlens is required unless --reference-only")
    torch.set_grad_enabled(False)
    torch.set_num_threads(1)  # tiny matrices: more threads only add contention
    try:
        ref = Reference(args.model, args.answer, args.wrong)
    except SelfCheckError as e:
        print(e, file=sys.stderr)
        return 2
    print(f"model {args.model} ({getattr(ref.cfg, 'architecture', '?')}, "
          f"{ref.cfg.normalization_type}, {ref.L} layers x {ref.H} heads), clean {CLEAN}, corrupted {CORRUPT}, "
          f"answer {ref.A}, wrong {ref.B}")
    chk = Checks(args.tol)
    listed = set()
    if not args.reference_only:
        usage = xlens(args)
        listed = set(re.findall(r"^\s*xlens (\w+)", usage.stdout + usage.stderr, re.M))
    with tempfile.TemporaryDirectory(prefix="xlens_analysis_") as tmp:
        work = args.keep or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        for name, fn in (("lens", check_lens), ("attribute", check_attribute), ("patch", check_patch)):
            if name not in commands:
                continue
            print(f"{name}")
            if not args.reference_only and name not in listed:
                chk(False, f"xlens's usage text lists no `{name}` subcommand")
                continue
            try:
                fn(args, ref, chk, work)
            except SelfCheckError as e:
                print(e, file=sys.stderr)
                return 2
            except (KeyError, TypeError, IndexError, ValueError, json.JSONDecodeError) as e:
                chk(False, f"{name}: malformed xlens output: {type(e).__name__}: {e}")
    if args.reference_only:
        print("reference only: TransformerLens side ran and passed its self-checks")
        return 0
    if chk.failures:
        print(f"FAIL: {len(chk.failures)} of {chk.count} checks failed (tol {args.tol:g})")
        return 1
    print(f"PASS: {chk.count} checks within {args.tol:g}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
