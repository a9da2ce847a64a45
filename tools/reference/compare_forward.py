#!/usr/bin/env python3
"""Check `xlens forward` (logits and every hook activation) against transformers.

    compare_forward.py --xlens BIN --model DIR [--tokens 1,2,3] [--tol 1e-4] [--relative] [--keep OUTDIR]
                       [--xlens-model FILE]

Runs `BIN forward DIR --tokens ... --npy LOGITS.npy --cache CACHE.safetensors` in a
temporary directory, then runs the same ids through transformers (PyTorch CPU, fp32,
eager attention; fp16/bf16 checkpoints are upcast to fp32 on load) with forward hooks,
builds the reference value of every TransformerLens-named hook of the xlens contract and
prints one row per hook: name, shape, max |reference|, max |delta|.

Fails (exit 1) when a delta exceeds --tol, when a hook expected for the family is missing,
when a shape or dtype differs, when the cache holds a hook this script does not know
(nothing goes unchecked), or when the -inf mask of hook_attn_scores differs.  Exit 2 means
the reference failed its own consistency checks (a bug here, not in xlens).

--xlens-model runs xlens on another file of the same model (a GGUF that llama.cpp's converter
wrote from DIR) and checks it against transformers on DIR: same logits, same hooks.  With
--f16-matrices the reference first rounds every matrix (every parameter of 2 or more dimensions)
to float16, as the converter's f16 output stores them, after checking that the GGUF holds exactly
its matrices in F16 and its vectors in F32 (the converter's one exception: GPT-2's position table
stays F32); the arithmetic stays float32 on both sides.

Default tokens: 17 ids with a repeated half (induction-style) that include the first and
last vocabulary ids, fixed per vocabulary size.
"""
import argparse
import dataclasses
import json
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import transformers
from safetensors.numpy import load_file
from transformers.pytorch_utils import Conv1D


@dataclass(frozen=True)
class Family:
    """Where each piece of one transformers family lives (attribute names)."""
    base: str                 # decoder stack inside the *ForCausalLM
    embed: str
    pos_embed: str | None     # learned absolute positions (GPT-2 only)
    layers: str
    ln1: str
    ln2: str
    attn: str
    qkv: tuple                # (q, k, v) Linear names, or (fused,) for GPT-2 / NeoX
    out_proj: str             # inside attn
    mlp: str
    mlp_in: str               # gate_proj for gated MLPs
    mlp_up: str | None        # up_proj for gated MLPs
    mlp_out: str
    final_norm: str
    rms: bool
    rotary: bool
    ln1_post: str | None = None   # norms on the attention / MLP outputs (Gemma 2/3, OLMo 2)
    ln2_post: str | None = None
    qk_norm: str | None = None    # "per_head" (Qwen3, Gemma 3) or "whole" (OLMo 2)
    gain_offset: float = 0.0      # Gemma: the gain is 1 + w
    embed_scaled: bool = False    # Gemma: embeddings x sqrt(d_model)
    gate_up: bool = False         # Phi-3: mlp_in is one projection whose output is [gate | up]


LLAMA_LIKE = Family(base="model", embed="embed_tokens", pos_embed=None, layers="layers",
                    ln1="input_layernorm", ln2="post_attention_layernorm", attn="self_attn",
                    qkv=("q_proj", "k_proj", "v_proj"), out_proj="o_proj", mlp="mlp",
                    mlp_in="gate_proj", mlp_up="up_proj", mlp_out="down_proj",
                    final_norm="norm", rms=True, rotary=True)
GEMMA = dataclasses.replace(LLAMA_LIKE, gain_offset=1.0, embed_scaled=True)
GEMMA2 = dataclasses.replace(GEMMA, ln2="pre_feedforward_layernorm", ln1_post="post_attention_layernorm",
                             ln2_post="post_feedforward_layernorm")
FAMILIES = {
    "llama": LLAMA_LIKE, "mistral": LLAMA_LIKE, "qwen2": LLAMA_LIKE,
    "qwen3": dataclasses.replace(LLAMA_LIKE, qk_norm="per_head"),
    "gemma": GEMMA, "gemma2": GEMMA2, "gemma3_text": dataclasses.replace(GEMMA2, qk_norm="per_head"),
    "olmo2": dataclasses.replace(LLAMA_LIKE, ln1=None, ln2=None, ln1_post="post_attention_layernorm",
                                 ln2_post="post_feedforward_layernorm", qk_norm="whole"),
    # Phi-3: qkv_proj's output is [q | k | v] with k, v n_kv_heads wide; gate_up_proj's is [gate | up].
    "phi3": dataclasses.replace(LLAMA_LIKE, qkv=("qkv_proj",), mlp_in="gate_up_proj", mlp_up=None, gate_up=True),
    "gpt2": Family(base="transformer", embed="wte", pos_embed="wpe", layers="h", ln1="ln_1",
                   ln2="ln_2", attn="attn", qkv=("c_attn",), out_proj="c_proj", mlp="mlp",
                   mlp_in="c_fc", mlp_up=None, mlp_out="c_proj", final_norm="ln_f", rms=False,
                   rotary=False),
    "gpt_neox": Family(base="gpt_neox", embed="embed_in", pos_embed=None, layers="layers",
                       ln1="input_layernorm", ln2="post_attention_layernorm", attn="attention",
                       qkv=("query_key_value",), out_proj="dense", mlp="mlp",
                       mlp_in="dense_h_to_4h", mlp_up=None, mlp_out="dense_4h_to_h",
                       final_norm="final_layer_norm", rms=False, rotary=True),
}


def load_model(path):
    """fp32 + eager attention so that output_attentions returns the softmax HF used."""
    transformers.utils.logging.disable_progress_bar()
    return transformers.AutoModelForCausalLM.from_pretrained(
        path, dtype=torch.float32, attn_implementation="eager").eval()


def default_tokens(vocab, n_ctx, n=17):
    """Deterministic ids: a random first half that includes 0 and vocab-1 (edge rows of the
    embedding), then that half repeated so induction-style attention is exercised."""
    n = min(n, n_ctx)
    half = (n + 1) // 2
    rng = np.random.default_rng(vocab)
    first = [0, vocab - 1] + [int(t) for t in rng.integers(1, vocab - 1, half - 2)]
    first = [int(t) for t in rng.permutation(first)]
    return (first + first)[:n]


class Recorder:
    """Forward hooks that store module inputs / outputs / kwargs (batch dim dropped)."""

    def __init__(self):
        self.acts, self.handles = {}, []

    def output(self, module, key, index=None):
        def fn(_mod, _inp, out):
            self.acts[key] = (out if index is None else out[index]).detach()[0]
        self.handles.append(module.register_forward_hook(fn))

    def input(self, module, key):
        def fn(_mod, args, kwargs):
            x = args[0] if args else next(iter(kwargs.values()))
            self.acts[key] = x.detach()[0]
        self.handles.append(module.register_forward_pre_hook(fn, with_kwargs=True))

    def kwarg(self, module, key, name):
        def fn(_mod, _args, kwargs):
            self.acts[key] = kwargs[name]
        self.handles.append(module.register_forward_pre_hook(fn, with_kwargs=True))

    def remove(self):
        for h in self.handles:
            h.remove()


def attach(model, fam, rec):
    base = getattr(model, fam.base)
    rec.output(getattr(base, fam.embed), "embed")
    if fam.pos_embed:
        rec.output(getattr(base, fam.pos_embed), "pos_embed")
    for i, layer in enumerate(getattr(base, fam.layers)):
        attn, mlp = getattr(layer, fam.attn), getattr(layer, fam.mlp)
        rec.input(layer, ("resid_pre", i))
        rec.output(layer, ("resid_post", i))
        for ln in ("ln1", "ln2", "ln1_post", "ln2_post"):
            if getattr(fam, ln):
                norm = getattr(layer, getattr(fam, ln))
                rec.input(norm, (ln + "_in", i))
                rec.output(norm, (ln + "_out", i))
        for j, name in enumerate(fam.qkv):
            rec.output(getattr(attn, name), ("qkv", i, j))
        if fam.qk_norm:
            for which in ("q_norm", "k_norm"):
                rec.input(getattr(attn, which), (which + "_in", i))
                rec.output(getattr(attn, which), (which + "_out", i))
        if fam.rotary:
            rec.kwarg(attn, ("rope", i), "position_embeddings")
        rec.input(getattr(attn, fam.out_proj), ("z", i))
        rec.output(attn, ("attn_out", i), index=0)
        rec.output(getattr(mlp, fam.mlp_in), ("mlp_pre", i))
        if fam.mlp_up:
            rec.output(getattr(mlp, fam.mlp_up), ("mlp_pre_linear", i))
        rec.input(getattr(mlp, fam.mlp_out), ("mlp_post", i))
        rec.output(mlp, ("mlp_out", i))
    rec.input(getattr(base, fam.final_norm), "lnf_in")
    rec.output(getattr(base, fam.final_norm), "lnf_out")


class SelfCheckError(RuntimeError):
    """The reference does not reproduce what transformers computed: a bug in this script."""


def self_check(what, a, b, tol=2e-5):
    d = (a - b).abs().max().item() if a.numel() else 0.0
    if not d <= tol * max(1.0, b.abs().max().item()):
        raise SelfCheckError(f"reference self-check failed: {what}: max |delta| {d:.3g}")


def norm_hooks(norm, x, out, rms, what, gain_offset=0.0):
    """(hook_scale [...,1], hook_normalized [...,d]) with TransformerLens semantics."""
    if rms:
        eps = getattr(norm, "variance_epsilon", None) or norm.eps
        var = x.pow(2).mean(-1, keepdim=True)
        normalized = x * torch.rsqrt(var + eps)  # the value HF multiplies by the gain
        self_check(what + " rms gain", (gain_offset + norm.weight) * normalized, out)
        return torch.sqrt(var + eps), normalized
    centred = x - x.mean(-1, keepdim=True)
    scale = torch.sqrt(centred.pow(2).mean(-1, keepdim=True) + norm.eps)
    self_check(what + " layernorm", centred / scale * norm.weight + norm.bias, out)
    return scale, out  # for LayerNorm hook_normalized is the norm's output


def split_qkv(fam, acts, i, T, n_heads, n_kv, d_head):
    """Per-head q [T,H,dh], k and v [T,Hkv,dh] from the projection outputs."""
    if len(fam.qkv) == 3:
        q, k, v = (acts[("qkv", i, j)] for j in range(3))
    elif fam.base != "gpt_neox":  # GPT-2 c_attn, Phi-3 qkv_proj: [q | k | v], each head-major
        q, k, v = acts[("qkv", i, 0)].split([n_heads * d_head, n_kv * d_head, n_kv * d_head], dim=-1)
    else:  # NeoX query_key_value: per head [q_h | k_h | v_h]
        q, k, v = acts[("qkv", i, 0)].view(T, n_heads, 3 * d_head).chunk(3, dim=-1)
    return (q.reshape(T, n_heads, d_head), k.reshape(T, n_kv, d_head),
            v.reshape(T, n_kv, d_head))


def out_weight(proj, n_heads, d_head):
    """Output projection as [H, d_head, d_model] (Linear stores [d_model, H*dh], Conv1D the
    transpose)."""
    w = proj.weight if isinstance(proj, Conv1D) else proj.weight.T
    return w.reshape(n_heads, d_head, -1)


def attention_hooks(fam, layer, acts, attentions, i, dims):
    T, n_heads, n_kv, d_head = dims
    attn = getattr(layer, fam.attn)
    q, k, v = split_qkv(fam, acts, i, T, n_heads, n_kv, d_head)
    hooks = {"hook_q": q, "hook_k": k, "hook_v": v}
    if fam.qk_norm:
        normed = []
        for which, x, heads in (("q_norm", q, n_heads), ("k_norm", k, n_kv)):
            x_in, x_out = acts[(which + "_in", i)], acts[(which + "_out", i)]
            if fam.qk_norm == "per_head" and x_in.shape[:2] == (heads, T):  # Gemma 3 norms [heads, T, d_head]
                x_in, x_out = x_in.transpose(0, 1), x_out.transpose(0, 1)
            self_check(f"L{i} {which} input vs hook", x_in.reshape(x.shape), x)
            # per head: [T, heads, d_head]; whole projection: [T, heads * d_head]
            flat = x_in if fam.qk_norm == "whole" else x_in.reshape(T, heads, d_head)
            scale, normalized = norm_hooks(getattr(attn, which), flat, x_out.reshape(flat.shape),
                                           True, f"L{i} {which}", fam.gain_offset)
            hooks[f"{which}.hook_scale"] = scale
            hooks[f"{which}.hook_normalized"] = normalized
            normed.append(x_out.reshape(T, heads, d_head))
        q, k = normed
    if fam.rotary:
        # The family's own apply_rotary_pos_emb with the cos/sin the layer actually received;
        # it works in [B, heads, T, dh] layout.
        rope_fn = sys.modules[type(attn).__module__].apply_rotary_pos_emb
        cos, sin = acts[("rope", i)]
        rq, rk = rope_fn(q.transpose(0, 1)[None], k.transpose(0, 1)[None], cos, sin)
        q, k = rq[0].transpose(0, 1), rk[0].transpose(0, 1)
        hooks.update(hook_rot_q=q, hook_rot_k=k)
    k_full = k.repeat_interleave(n_heads // n_kv, dim=1)  # query head h reads kv head h // group
    scores = torch.einsum("qhd,khd->hqk", q, k_full) * attn.scaling
    cap = getattr(attn, "attn_logit_softcapping", None)
    if cap:
        scores = torch.tanh(scores / cap) * cap
    masked = torch.ones(T, T, dtype=torch.bool).triu(1)
    window = getattr(attn, "sliding_window", None)
    if window is None and type(attn).__name__ == "Phi3Attention":  # Phi-3 passes the config's window on each call
        window = attn.config.sliding_window
    if window:  # a query sees keys with q - k < window
        masked |= torch.ones(T, T, dtype=torch.bool).tril(-window)
    scores = scores.masked_fill(masked, float("-inf"))
    pattern = attentions[i][0]
    self_check(f"L{i} softmax(scores) vs HF attentions", scores.softmax(-1), pattern, 1e-6)
    z = acts[("z", i)].reshape(T, n_heads, d_head)
    self_check(f"L{i} pattern @ v vs o_proj input",
               torch.einsum("hqk,khd->qhd", pattern, v.repeat_interleave(n_heads // n_kv, 1)), z)
    proj = getattr(attn, fam.out_proj)
    result = torch.einsum("thd,hdm->thm", z, out_weight(proj, n_heads, d_head))
    bias = proj.bias if proj.bias is not None else 0.0
    self_check(f"L{i} sum of hook_result + bias vs attn output",
               result.sum(1) + bias, acts[("attn_out", i)])
    hooks.update(hook_attn_scores=scores, hook_pattern=pattern, hook_z=z, hook_result=result)
    return {f"blocks.{i}.attn.{k}": v for k, v in hooks.items()}


def reference(model, ids):
    """Run transformers once; return (logits [T,V], {hook name: tensor}) for every hook."""
    cfg = model.config
    fam = FAMILIES[cfg.model_type]
    base = getattr(model, fam.base)
    layers = getattr(base, fam.layers)
    n_heads = cfg.num_attention_heads
    n_kv = getattr(cfg, "num_key_value_heads", None) or n_heads
    d_head = getattr(cfg, "head_dim", None) or cfg.hidden_size // n_heads
    parallel = bool(getattr(cfg, "use_parallel_residual", False))
    T = len(ids)
    rec = Recorder()
    attach(model, fam, rec)
    try:
        with torch.no_grad():
            out = model(torch.tensor([ids]), output_attentions=True, use_cache=False)
    finally:
        rec.remove()
    a = rec.acts
    logits = out.logits[0]
    embed = a["embed"]
    if fam.embed_scaled and not hasattr(getattr(base, fam.embed), "embed_scale"):  # Gemma 1/2 scale in the model
        embed = embed * torch.tensor(cfg.hidden_size ** 0.5, dtype=embed.dtype)
    hooks = {"hook_embed": embed}
    if fam.pos_embed:
        hooks["hook_pos_embed"] = a["pos_embed"]
    with torch.no_grad():
        for i, layer in enumerate(layers):
            p = f"blocks.{i}."
            hooks[p + "hook_resid_pre"] = a[("resid_pre", i)]
            for ln in ("ln1", "ln2", "ln1_post", "ln2_post"):
                if not getattr(fam, ln):
                    continue
                scale, normalized = norm_hooks(getattr(layer, getattr(fam, ln)), a[(ln + "_in", i)],
                                               a[(ln + "_out", i)], fam.rms, f"L{i} {ln}", fam.gain_offset)
                hooks[p + ln + ".hook_scale"] = scale
                hooks[p + ln + ".hook_normalized"] = normalized
            hooks.update(attention_hooks(fam, layer, a, out.attentions, i, (T, n_heads, n_kv, d_head)))
            # What joins the residual: after the post-norm where there is one.
            hooks[p + "hook_attn_out"] = a[("ln1_post_out", i)] if fam.ln1_post else a[("attn_out", i)]
            if not parallel:
                hooks[p + "hook_resid_mid"] = a[("resid_pre", i)] + hooks[p + "hook_attn_out"]
                if fam.ln2:
                    self_check(f"L{i} resid_mid vs ln2 input", hooks[p + "hook_resid_mid"], a[("ln2_in", i)])
            hooks[p + "mlp.hook_pre"] = a[("mlp_pre", i)]
            if fam.gate_up:
                hooks[p + "mlp.hook_pre"], hooks[p + "mlp.hook_pre_linear"] = a[("mlp_pre", i)].chunk(2, dim=-1)
            elif fam.mlp_up:
                hooks[p + "mlp.hook_pre_linear"] = a[("mlp_pre_linear", i)]
            hooks[p + "mlp.hook_post"] = a[("mlp_post", i)]
            hooks[p + "hook_mlp_out"] = a[("ln2_post_out", i)] if fam.ln2_post else a[("mlp_out", i)]
            hooks[p + "hook_resid_post"] = a[("resid_post", i)]
        scale, normalized = norm_hooks(getattr(base, fam.final_norm), a["lnf_in"], a["lnf_out"],
                                       fam.rms, "ln_final", fam.gain_offset)
    hooks["ln_final.hook_scale"] = scale
    hooks["ln_final.hook_normalized"] = normalized
    hooks["hook_logits"] = logits
    first = embed + (a["pos_embed"] if fam.pos_embed else 0)
    self_check("hook_resid_pre of block 0 = embeddings", hooks["blocks.0.hook_resid_pre"], first)
    return logits.numpy(), {k: v.detach().float().numpy() for k, v in hooks.items()}


def compare_one(name, ref, got, tol, relative=False):
    """One table row: (name, shape, max|ref|, max|delta|, error or None).  With `relative` the
    bound is tol * max(1, max|ref|): needed where activations reach 1e4 (fp32 spacing 1e-3)."""
    if got is None:
        return name, ref.shape, np.abs(ref[np.isfinite(ref)]).max(initial=0), None, "missing"
    if got.shape != ref.shape:
        return name, got.shape, 0.0, None, f"shape {got.shape} != reference {ref.shape}"
    if got.dtype != np.float32:
        return name, got.shape, 0.0, None, f"dtype {got.dtype}, expected float32"
    ref_inf, got_inf = np.isneginf(ref), np.isneginf(got)
    if not np.array_equal(ref_inf, got_inf):
        return name, got.shape, 0.0, None, f"-inf mask differs at {int((ref_inf != got_inf).sum())} entries"
    fin = ~ref_inf
    if not np.isfinite(got[fin]).all():
        return name, got.shape, 0.0, None, "NaN or +-inf where the reference is finite"
    delta = float(np.abs(got[fin] - ref[fin]).max(initial=0))
    scale = float(np.abs(ref[fin]).max(initial=0))
    bound = tol * max(1.0, scale) if relative else tol
    err = f"max |delta| {delta:.3g} > {bound:.3g}" if delta > bound else None
    return name, got.shape, scale, delta, err


BLOCK_ORDER = ["hook_resid_pre", "ln1.hook_scale", "ln1.hook_normalized", "attn.hook_q", "attn.hook_k",
               "attn.hook_v", "attn.q_norm.hook_scale", "attn.q_norm.hook_normalized",
               "attn.k_norm.hook_scale", "attn.k_norm.hook_normalized", "attn.hook_rot_q", "attn.hook_rot_k",
               "attn.hook_attn_scores", "attn.hook_pattern", "attn.hook_z", "attn.hook_result",
               "ln1_post.hook_scale", "ln1_post.hook_normalized", "hook_attn_out",
               "hook_resid_mid", "ln2.hook_scale", "ln2.hook_normalized", "mlp.hook_pre",
               "mlp.hook_pre_linear", "mlp.hook_post", "ln2_post.hook_scale", "ln2_post.hook_normalized",
               "hook_mlp_out", "hook_resid_post"]
TOP_ORDER = ["hook_embed", "hook_pos_embed", None, "ln_final.hook_scale", "ln_final.hook_normalized",
             "hook_logits"]


def hook_order(name):
    """Sort key: the order in which the forward pass produces the hooks; unknown names last."""
    parts = name.split(".", 2)
    if parts[0] == "blocks" and len(parts) == 3 and parts[1].isdigit():
        rest = parts[2]
        return (2, int(parts[1]), BLOCK_ORDER.index(rest) if rest in BLOCK_ORDER else 99, name)
    if name in TOP_ORDER:
        pos = TOP_ORDER.index(name)
        return (1 if pos < 2 else 3, 0, pos, name)
    return (4, 0, 0, name)


def compare(ref_logits, ref_hooks, got_logits, cache, tol, relative=False):
    rows = [compare_one("LOGITS.npy", ref_logits, got_logits, tol, relative)]
    for name in sorted(set(ref_hooks) | set(cache), key=hook_order):
        if name not in ref_hooks:
            rows.append((name, cache[name].shape, 0.0, None,
                         "unexpected hook (not in this family's contract): would go unchecked"))
        else:
            rows.append(compare_one(name, ref_hooks[name], cache.get(name), tol, relative))
    width = max(len(r[0]) for r in rows)
    print(f"{'hook':{width}}  {'shape':18} {'max|ref|':>10} {'max|delta|':>11}")
    for name, shape, scale, delta, err in rows:
        d = "-" if delta is None else f"{delta:.3g}"
        verdict = "FAIL: " + err if err else "ok"
        print(f"{name:{width}}  {str(tuple(shape)):18} {scale:10.4g} {d:>11}  {verdict}")
    return [r for r in rows if r[4]]


def run_xlens(binary, model, ids, workdir, want_cache=True):
    npy = Path(workdir) / "logits.npy"
    cmd = [str(binary), "forward", str(model), "--tokens", ",".join(map(str, ids)), "--npy", str(npy)]
    if want_cache:
        cmd += ["--cache", str(Path(workdir) / "cache.safetensors")]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True)
    seconds = time.perf_counter() - t0
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} exited {proc.returncode}\n{proc.stdout}{proc.stderr}")
    return npy, seconds


# Matrices llama.cpp's converter keeps in F32 in an f16 file: GGUF name -> transformers parameter name.
F32_MATRICES_GGUF = {"position_embd.weight": "transformer.wpe.weight"}


def check_f16_matrices(path):
    """The converter's f16 rule, which --f16-matrices reproduces: matrices F16, vectors F32."""
    import gguf
    def expected(t):
        return "F16" if len(t.shape) >= 2 and t.name not in F32_MATRICES_GGUF else "F32"
    wrong = [f"{t.name} ({t.tensor_type.name}, {len(t.shape)}-D)" for t in gguf.GGUFReader(str(path)).tensors
             if t.tensor_type.name != expected(t)]
    if wrong:
        print(f"FAIL: {path} does not hold matrices in F16 and vectors in F32: {', '.join(wrong)}")
    return not wrong


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--xlens", required=True, type=Path, help="path of the built xlens program")
    ap.add_argument("--model", required=True, type=Path, help="Hugging Face model folder")
    ap.add_argument("--tokens", help="comma-separated ids (default: 17 fixed ids with repeats)")
    ap.add_argument("--tol", type=float, default=1e-4, help="max |delta| allowed (default 1e-4)")
    ap.add_argument("--relative", action="store_true",
                    help="bound each array by tol * max(1, max|ref|) instead of tol (trained models)")
    ap.add_argument("--keep", type=Path, help="keep xlens's outputs in this folder")
    ap.add_argument("--xlens-model", type=Path, help="run xlens on this file instead of --model (e.g. a converted GGUF)")
    ap.add_argument("--expect-family", help="with --xlens-model: the family `xlens info` must name")
    ap.add_argument("--f16-matrices", action="store_true",
                    help="round the reference's matrices to float16 (for the converter's f16 GGUFs)")
    args = ap.parse_args(argv)

    if args.expect_family:
        info = subprocess.run([str(args.xlens), "info", str(args.xlens_model or args.model), "--json"],
                              capture_output=True, text=True)
        named = json.loads(info.stdout)["config"]["architecture"] if info.returncode == 0 else info.stderr.strip()
        if named != args.expect_family:
            print(f"FAIL: xlens info names {named!r}, expected {args.expect_family!r}")
            return 1
        print(f"xlens info: family {named}")
    model = load_model(args.model)
    if args.f16_matrices:
        if not args.xlens_model or not check_f16_matrices(args.xlens_model):
            return 1
        with torch.no_grad():
            for name, p in model.named_parameters():
                if p.dim() >= 2 and name not in F32_MATRICES_GGUF.values():
                    p.copy_(p.half().float())
    if model.config.model_type not in FAMILIES:
        print(f"unsupported family {model.config.model_type!r}", file=sys.stderr)
        return 1
    n_ctx = getattr(model.config, "max_position_embeddings", 64)
    ids = ([int(t) for t in args.tokens.split(",")] if args.tokens
           else default_tokens(model.config.vocab_size, n_ctx))
    print(f"model {args.model} ({model.config.model_type}), {len(ids)} tokens: {ids}")

    with tempfile.TemporaryDirectory(prefix="xlens_cmp_") as tmp:
        workdir = args.keep or Path(tmp)
        workdir.mkdir(parents=True, exist_ok=True)
        try:
            npy, xlens_s = run_xlens(args.xlens, args.xlens_model or args.model, ids, workdir)
        except RuntimeError as e:
            print(f"FAIL: {e}", file=sys.stderr)
            return 1
        got_logits = np.load(npy)
        cache = load_file(str(workdir / "cache.safetensors"))

    t0 = time.perf_counter()
    try:
        ref_logits, ref_hooks = reference(model, ids)
    except SelfCheckError as e:
        print(e, file=sys.stderr)
        return 2
    hf_s = time.perf_counter() - t0
    rel = " x max(1, max|ref|)" if args.relative else ""
    failures = compare(ref_logits, ref_hooks, got_logits, cache, args.tol, args.relative)
    print(f"time: xlens {xlens_s:.3f} s (process incl. load), transformers {hf_s:.3f} s (forward + hooks)")
    if failures:
        print(f"FAIL: {len(failures)} of {len(ref_hooks) + 1} checks failed (tol {args.tol:g}{rel})")
        return 1
    print(f"PASS: {len(ref_hooks) + 1} arrays within {args.tol:g}{rel}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
