#!/usr/bin/env python3
"""Check `xlens export --sqlite` / `xlens import` / `xlens forward DB` against the safetensors library.

    check_database.py --xlens BIN --model DIR [--copying]

In a temporary folder: exports DIR to a database, imports it back to one safetensors file, and checks
  1. round trip: every source tensor (read with the `safetensors` library, in its own dtype) has a
     tensor of the same name, dtype and shape in the imported file whose bytes have the same SHA-256,
     and the database's tensors.sha256 column holds that SHA-256 (Python's hashlib);
  2. semantic rows: every token, head, kv head, neuron and norm row holds exactly the bytes of the
     slice of the source tensor that transformers' layout says it should (Q/K/V/O per head, a neuron's
     input, gate and output vectors, ...), sliced here with torch from the HF tensor names;
  3. the forward pass from the database gives logits byte-identical to the source's;
  4. with --as-gguf-f16 (a Llama folder): the same checks on a GGUF written here with the `gguf`
     library from that folder, F16 weights with llama.cpp's Q/K row permutation and F32 norms, so
     the rows must come back in HF order in their own F16 bytes and the GGUF byte for byte;
  5. with --converted FILE (a float32 GGUF that llama.cpp's converter wrote from DIR): the same on
     that GGUF, every semantic row byte for byte the slice of DIR's HF tensor (the converter's
     fused, transposed or permuted layouts undone), and the GGUF restored byte for byte;
  6. with --copying: the head_roles 'ov_copying' scores equal the eigenvalue measure computed here on
     the full [vocab, vocab] OV circuit with numpy (no factorisation), within 1e-4.
Exit 1 on any difference.
"""
import argparse
import hashlib
import json
import sqlite3
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch
from safetensors import safe_open

LLAMA = dict(embed="model.embed_tokens.weight", unembed="lm_head.weight", final="model.norm.weight", final_b=None,
             ln1="model.layers.{L}.input_layernorm.weight", ln1_b=None,
             ln2="model.layers.{L}.post_attention_layernorm.weight", ln2_b=None,
             q="model.layers.{L}.self_attn.q_proj.weight", k="model.layers.{L}.self_attn.k_proj.weight",
             v="model.layers.{L}.self_attn.v_proj.weight", o="model.layers.{L}.self_attn.o_proj.weight",
             q_b="model.layers.{L}.self_attn.q_proj.bias", k_b="model.layers.{L}.self_attn.k_proj.bias",
             v_b="model.layers.{L}.self_attn.v_proj.bias",
             up="model.layers.{L}.mlp.up_proj.weight", gate="model.layers.{L}.mlp.gate_proj.weight",
             down="model.layers.{L}.mlp.down_proj.weight", layout="separate")
QK_NORMS = dict(q_norm="model.layers.{L}.self_attn.q_norm.weight", k_norm="model.layers.{L}.self_attn.k_norm.weight")
GEMMA2 = dict(LLAMA, ln2="model.layers.{L}.pre_feedforward_layernorm.weight",
              ln1_post="model.layers.{L}.post_attention_layernorm.weight",
              ln2_post="model.layers.{L}.post_feedforward_layernorm.weight")
FAMILIES = {
    "llama": LLAMA, "mistral": LLAMA, "qwen2": LLAMA, "qwen3": dict(LLAMA, **QK_NORMS),
    "gemma": dict(LLAMA, gain_offset=1.0), "gemma2": dict(GEMMA2, gain_offset=1.0),
    "gemma3": dict(GEMMA2, gain_offset=1.0, **QK_NORMS),
    "olmo2": dict(LLAMA, ln1=None, ln2=None, ln1_post="model.layers.{L}.post_attention_layernorm.weight",
                  ln2_post="model.layers.{L}.post_feedforward_layernorm.weight", **QK_NORMS),
    # Phi-3 fuses q/k/v as [q | k | v] (k, v n_kv_heads wide) and the MLP's gate and up as [gate | up];
    # the slices below split them as transformers' Phi3Attention and Phi3MLP do.
    "phi3": dict(LLAMA, qkv="model.layers.{L}.self_attn.qkv_proj.weight", gate_up="model.layers.{L}.mlp.gate_up_proj.weight",
                 layout="fused_gqa"),
    "gpt2": dict(embed="transformer.wte.weight", unembed=None, final="transformer.ln_f.weight", final_b="transformer.ln_f.bias",
                 ln1="transformer.h.{L}.ln_1.weight", ln1_b="transformer.h.{L}.ln_1.bias",
                 ln2="transformer.h.{L}.ln_2.weight", ln2_b="transformer.h.{L}.ln_2.bias",
                 qkv="transformer.h.{L}.attn.c_attn.weight", qkv_b="transformer.h.{L}.attn.c_attn.bias",
                 o="transformer.h.{L}.attn.c_proj.weight", up="transformer.h.{L}.mlp.c_fc.weight",
                 up_b="transformer.h.{L}.mlp.c_fc.bias", down="transformer.h.{L}.mlp.c_proj.weight", layout="conv1d"),
    "gpt_neox": dict(embed="gpt_neox.embed_in.weight", unembed="embed_out.weight", final="gpt_neox.final_layer_norm.weight",
                     final_b="gpt_neox.final_layer_norm.bias", ln1="gpt_neox.layers.{L}.input_layernorm.weight",
                     ln1_b="gpt_neox.layers.{L}.input_layernorm.bias", ln2="gpt_neox.layers.{L}.post_attention_layernorm.weight",
                     ln2_b="gpt_neox.layers.{L}.post_attention_layernorm.bias",
                     qkv="gpt_neox.layers.{L}.attention.query_key_value.weight",
                     qkv_b="gpt_neox.layers.{L}.attention.query_key_value.bias", o="gpt_neox.layers.{L}.attention.dense.weight",
                     up="gpt_neox.layers.{L}.mlp.dense_h_to_4h.weight", up_b="gpt_neox.layers.{L}.mlp.dense_h_to_4h.bias",
                     down="gpt_neox.layers.{L}.mlp.dense_4h_to_h.weight", layout="neox"),
}
ST_DTYPE = {torch.float32: "F32", torch.float16: "F16", torch.bfloat16: "BF16", torch.float64: "F64"}
failures = []


def fail(msg):
    failures.append(msg)
    print("FAIL", msg)


def raw(t):
    return t.contiguous().view(-1).view(torch.uint8).numpy().tobytes()


def read_tensors(folder):
    out = {}
    for f in sorted(Path(folder).glob("*.safetensors")):
        with safe_open(str(f), framework="pt") as st:
            for name in st.keys():
                out[name] = st.get_tensor(name)
    return out


def run(*args):
    r = subprocess.run([str(a) for a in args], capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"{' '.join(map(str, args))} failed ({r.returncode}):\n{r.stderr}")
    return r.stdout


def family_of_src(fam):
    return {"conv1d": "gpt2", "neox": "gpt_neox"}.get(fam["layout"], "llama")


def family_of(config):
    mt = config["model_type"]
    return {"gemma3_text": "gemma3"}.get(mt, mt)


def head_slices(fam, src, L, cfg):
    """Per-head [d_head, d_model] Q, K, V, O matrices (feature-major) and q/k/v bias slices, from HF tensors."""
    H, KV, dh = cfg["H"], cfg["KV"], cfg["dh"]
    name = lambda key: fam[key].format(L=L) if fam.get(key) else None
    get = lambda key: src.get(name(key)) if name(key) else None
    q = {}; k = {}; v = {}; o = {}; qb = {}; kb = {}; vb = {}
    if fam["layout"] == "fused_gqa":
        W = get("qkv")
        parts = {"q": W[:H * dh], "k": W[H * dh:(H + KV) * dh], "v": W[(H + KV) * dh:]}
        get = lambda key: parts[key] if key in parts else (src.get(name(key)) if name(key) else None)
    if fam["layout"] in ("separate", "fused_gqa"):
        for h in range(H):
            q[h] = get("q")[h * dh:(h + 1) * dh]
            o[h] = get("o")[:, h * dh:(h + 1) * dh].T
            if get("q_b") is not None: qb[h] = get("q_b")[h * dh:(h + 1) * dh]
        for g in range(KV):
            k[g] = get("k")[g * dh:(g + 1) * dh]; v[g] = get("v")[g * dh:(g + 1) * dh]
            if get("k_b") is not None: kb[g] = get("k_b")[g * dh:(g + 1) * dh]; vb[g] = get("v_b")[g * dh:(g + 1) * dh]
    elif fam["layout"] == "conv1d":  # c_attn [d, 3d] (in, out), c_proj [d, d] (in, out)
        W, B, D = get("qkv"), get("qkv_b"), H * dh
        for h in range(H):
            s = slice(h * dh, (h + 1) * dh)
            q[h] = W[:, s].T; k[h] = W[:, D + h * dh:D + (h + 1) * dh].T; v[h] = W[:, 2 * D + h * dh:2 * D + (h + 1) * dh].T
            o[h] = get("o")[s, :]
            if B is not None: qb[h] = B[s]; kb[h] = B[D + h * dh:D + (h + 1) * dh]; vb[h] = B[2 * D + h * dh:2 * D + (h + 1) * dh]
    else:  # neox: rows grouped per head as [head][q, k, v][d_head]
        W, B = get("qkv").reshape(H, 3, dh, -1), get("qkv_b")
        for h in range(H):
            q[h], k[h], v[h] = W[h, 0], W[h, 1], W[h, 2]
            o[h] = get("o")[:, h * dh:(h + 1) * dh].T
            if B is not None:
                Bh = B.reshape(H, 3, dh)
                qb[h], kb[h], vb[h] = Bh[h, 0], Bh[h, 1], Bh[h, 2]
    return q, k, v, o, qb, kb, vb


def neuron_slices(fam, src, L, n):
    down = src[fam["down"].format(L=L)]
    if fam.get("gate_up"):
        gate, up = src[fam["gate_up"].format(L=L)].chunk(2, dim=0)
    else:
        up = src[fam["up"].format(L=L)]
        gate = src.get(fam["gate"].format(L=L)) if fam.get("gate") else None
    up_b = src.get(fam["up_b"].format(L=L)) if fam.get("up_b") else None
    if fam["layout"] == "conv1d":  # c_fc [d, d_mlp], c_proj [d_mlp, d]
        return up[:, n], None, down[n, :], (up_b[n:n + 1] if up_b is not None else None)
    return up[n], (gate[n] if gate is not None else None), down[:, n], (up_b[n:n + 1] if up_b is not None else None)


def copying_scores(fam, src, cfg, layer_norm):
    """Σ Re λ / Σ |λ| of the full [V, V] circuit U' W_O,h W_V,h E'ᵀ, in float64, per head."""
    f64 = lambda t: t.to(torch.float64).numpy()
    E = f64(src[fam["embed"]])
    U = f64(src[fam["unembed"]]) if fam.get("unembed") and fam["unembed"] in src and not cfg["tied"] else E
    offset = fam.get("gain_offset", 0.0)  # Gemma stores w; the gain is 1 + w
    gain = lambda name, L=0: offset + f64(src[fam[name].format(L=L)])
    gf = gain("final")
    centre = (lambda X: X - X.mean(axis=1, keepdims=True)) if layer_norm else (lambda X: X)
    Up = centre(U * gf)
    scores = {}
    for L in range(cfg["layers"]):
        Ep = centre(E) * gain("ln1", L) if fam.get("ln1") else centre(E)  # OLMo 2: no input norm
        post = gain("ln1_post", L)[:, None] if fam.get("ln1_post") else 1.0  # the post-norm's gain on W_O's output
        q, k, v, o, *_ = head_slices(fam, src, L, cfg)
        for h in range(cfg["H"]):
            g = h // (cfg["H"] // cfg["KV"])
            C = Up @ (post * f64(o[h]).T) @ f64(v[g]) @ Ep.T   # [V, V]: logit of t' when attending to t
            lam = np.linalg.eigvals(C)
            scores[(L, h)] = lam.real.sum() / np.abs(lam).sum()
    return scores


def check_gguf_round_trip(xlens, model, db_path, tmp, recorded):
    """The restored GGUF file is the source byte for byte; tensors.sha256 matches the gguf library's raw bytes."""
    from gguf import GGUFReader
    run(xlens, "import", db_path, "--files", tmp / "restored")
    restored = (tmp / "restored" / model.name).read_bytes()
    if hashlib.sha256(restored).hexdigest() != hashlib.sha256(model.read_bytes()).hexdigest():
        fail("the restored GGUF file differs from the source")
    reader = GGUFReader(str(model))
    for t in reader.tensors:
        digest = hashlib.sha256(np.ascontiguousarray(t.data).tobytes()).hexdigest()
        if recorded.get(t.name) != digest: fail(f"{t.name}: tensors.sha256 differs from the gguf library's bytes")
    print(f"round trip: the GGUF file restored byte for byte; {len(reader.tensors)} tensors' sha256 match the gguf library")


def write_llama_gguf_f16(folder, out):
    """A llama-architecture GGUF from an HF Llama folder: F16 matrices, F32 norms, Q/K rows permuted
    as llama.cpp's converter does (row i*2+j of a head holds HF row j*d_head/2+i). Returns the HF
    tensors as stored in the GGUF's dtypes, by HF name."""
    import gguf
    cfg = json.loads((folder / "config.json").read_text())
    hf = read_tensors(folder)
    H, KV, d = cfg["num_attention_heads"], cfg["num_key_value_heads"], cfg["hidden_size"]
    dh = cfg.get("head_dim") or d // H
    w = gguf.GGUFWriter(str(out), "llama")
    w.add_uint32("llama.embedding_length", d)
    w.add_uint32("llama.block_count", cfg["num_hidden_layers"])
    w.add_uint32("llama.context_length", cfg["max_position_embeddings"])
    w.add_uint32("llama.feed_forward_length", cfg["intermediate_size"])
    w.add_uint32("llama.attention.head_count", H)
    w.add_uint32("llama.attention.head_count_kv", KV)
    w.add_uint32("llama.attention.key_length", dh)
    w.add_float32("llama.attention.layer_norm_rms_epsilon", cfg["rms_norm_eps"])
    w.add_float32("llama.rope.freq_base", (cfg.get("rope_parameters") or {}).get("rope_theta", cfg.get("rope_theta", 10000.0)))
    stored = {}

    def permute(t, heads):
        return t.reshape(heads, 2, dh // 2, -1).transpose(1, 2).reshape(t.shape)

    def add(gguf_name, hf_name, norm=False, heads=None):
        t = hf[hf_name].to(torch.float32 if norm else torch.float16)
        stored[hf_name] = t
        g = permute(t, heads) if heads else t
        w.add_tensor(gguf_name, g.numpy())
    add("token_embd.weight", "model.embed_tokens.weight")
    add("output_norm.weight", "model.norm.weight", norm=True)
    if "lm_head.weight" in hf and not cfg.get("tie_word_embeddings"):
        add("output.weight", "lm_head.weight")
    for L in range(cfg["num_hidden_layers"]):
        p = f"model.layers.{L}."
        add(f"blk.{L}.attn_norm.weight", p + "input_layernorm.weight", norm=True)
        add(f"blk.{L}.attn_q.weight", p + "self_attn.q_proj.weight", heads=H)
        add(f"blk.{L}.attn_k.weight", p + "self_attn.k_proj.weight", heads=KV)
        add(f"blk.{L}.attn_v.weight", p + "self_attn.v_proj.weight")
        add(f"blk.{L}.attn_output.weight", p + "self_attn.o_proj.weight")
        add(f"blk.{L}.ffn_norm.weight", p + "post_attention_layernorm.weight", norm=True)
        add(f"blk.{L}.ffn_gate.weight", p + "mlp.gate_proj.weight")
        add(f"blk.{L}.ffn_up.weight", p + "mlp.up_proj.weight")
        add(f"blk.{L}.ffn_down.weight", p + "mlp.down_proj.weight")
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return stored


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--xlens", required=True)
    ap.add_argument("--model", required=True)
    ap.add_argument("--copying", action="store_true")
    ap.add_argument("--as-gguf-f16", action="store_true")
    ap.add_argument("--converted", type=Path, help="float32 GGUF converted from --model by llama.cpp")
    a = ap.parse_args()
    model = Path(a.model)
    gguf = model.suffix == ".gguf" or a.as_gguf_f16 or a.converted is not None
    view_tol = None
    workdir = tempfile.TemporaryDirectory()
    if a.as_gguf_f16:
        fam = FAMILIES["llama"]
        src = write_llama_gguf_f16(model, Path(workdir.name) / "tiny.f16.gguf")
        model = Path(workdir.name) / "tiny.f16.gguf"
        print(f"wrote {model.name}: F16 weights, llama.cpp Q/K order, F32 norms")
    elif a.converted:
        fam = FAMILIES[family_of(json.loads((model / "config.json").read_text()))]
        src = read_tensors(model)
        if fam.get("gain_offset"):  # llama.cpp's Gemma converter stores 1 + w (float32 add, as here)
            src = {k: (v + 1 if k.endswith("norm.weight") else v) for k, v in src.items()}
        model = a.converted
        print(f"checking {model.name} against the HF tensors it was converted from")
    elif gguf:
        # GGUF blocks are kept raw; the rows hold float32 views, compared with transformers' dequantisation.
        import transformers
        hf = transformers.AutoModelForCausalLM.from_pretrained(str(model.parent), gguf_file=model.name, dtype=torch.float32)
        fam = FAMILIES[family_of(hf.config.to_dict())]
        src = {k: v.detach() for k, v in hf.state_dict().items()}
        view_tol = 1e-6
    else:
        fam = FAMILIES[family_of(json.loads((model / "config.json").read_text()))]
        src = read_tensors(model)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        db_path = tmp / "model.db"
        run(a.xlens, "export", model, "--sqlite", db_path, *(["--head-copying"] if a.copying else []))
        db = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
        recorded = dict(db.execute("SELECT name, sha256 FROM tensors"))
        if gguf:
            check_gguf_round_trip(a.xlens, model, db_path, tmp, recorded)
            back = src
        else:
            run(a.xlens, "import", db_path, "--safetensors", tmp / "back" / "model.safetensors")
            back = read_tensors(tmp / "back")

        # 1. round trip, tensor by tensor
        if gguf: pass
        elif set(back) != set(src): fail(f"tensor names differ: {sorted(set(src) ^ set(back))}")
        for name, t in ({} if gguf else src).items():
            digest = hashlib.sha256(raw(t)).hexdigest()
            b = back.get(name)
            if b is None: continue
            if b.dtype != t.dtype or list(b.shape) != list(t.shape): fail(f"{name}: {b.dtype} {list(b.shape)} vs {t.dtype} {list(t.shape)}")
            elif hashlib.sha256(raw(b)).hexdigest() != digest: fail(f"{name}: imported bytes differ (sha256)")
            if recorded.get(name) != digest: fail(f"{name}: tensors.sha256 {recorded.get(name)} != {digest}")
        if not gguf: print(f"round trip: {len(src)} tensors, sha256 of each identical after export + import")

        # 2. semantic rows hold the right slices
        row = lambda sql, *args: db.execute(sql, args).fetchone()
        m = row("SELECT n_layers, n_heads, n_kv_heads, d_head, d_mlp, d_vocab, tied_embeddings, norm FROM model")
        cfg = dict(layers=m[0], H=m[1], KV=m[2], dh=m[3], d_mlp=m[4], V=m[5], tied=bool(m[6]))
        checked = 0

        worst = 0.0
        failures_before = len(failures)

        def same(where, blob, dtype, t):
            nonlocal checked, worst
            checked += 1
            if t is None:
                if blob is not None: fail(f"{where}: expected NULL, got {len(blob)} bytes")
                return
            if dtype != ST_DTYPE[t.dtype]: fail(f"{where}: dtype {dtype}, source {ST_DTYPE[t.dtype]}")
            elif view_tol is None:
                if blob != raw(t): fail(f"{where}: bytes differ from the source slice")
            else:  # a float32 view of dequantised GGUF blocks, against transformers' own dequantisation
                d = float(np.abs(np.frombuffer(blob, np.float32) - t.contiguous().view(-1).numpy()).max())
                worst = max(worst, d)
                if d > view_tol: fail(f"{where}: view differs by {d:.2e}")

        E = src[fam["embed"]]
        unembed = src.get(fam["unembed"]) if fam.get("unembed") and not cfg["tied"] else None
        for tid, edt, emb, udt, unemb in db.execute("SELECT id, embedding_dtype, embedding, unembedding_dtype, unembedding FROM tokens ORDER BY id"):
            same(f"tokens {tid} embedding", emb, edt, E[tid])
            same(f"tokens {tid} unembedding", unemb, udt, unembed[tid] if unembed is not None else None)
        for L in range(cfg["layers"]):
            q, k, v, o, qb, kb, vb = head_slices(fam, src, L, cfg)
            for h, kvh, dt, wq, wo, bdt, bq in db.execute("SELECT head, kv_head, dtype, w_q, w_o, bias_dtype, b_q FROM heads WHERE layer = ? ORDER BY head", (L,)):
                if kvh != h // (cfg["H"] // cfg["KV"]): fail(f"heads L{L} H{h}: kv_head {kvh}")
                same(f"heads L{L} H{h} w_q", wq, dt, q[h]); same(f"heads L{L} H{h} w_o", wo, dt, o[h])
                same(f"heads L{L} H{h} b_q", bq, bdt, qb.get(h))
            for g, dt, wk, wv, bdt, bk, bv in db.execute("SELECT kv_head, dtype, w_k, w_v, bias_dtype, b_k, b_v FROM kv_heads WHERE layer = ? ORDER BY kv_head", (L,)):
                same(f"kv_heads L{L} G{g} w_k", wk, dt, k[g]); same(f"kv_heads L{L} G{g} w_v", wv, dt, v[g])
                same(f"kv_heads L{L} G{g} b_k", bk, bdt, kb.get(g)); same(f"kv_heads L{L} G{g} b_v", bv, bdt, vb.get(g))
            for n, dt, win, wgate, wout, bdt, bin_ in db.execute("SELECT neuron, dtype, w_in, w_gate, w_out, bias_dtype, b_in FROM neurons WHERE layer = ? ORDER BY neuron", (L,)):
                i_, g_, o_, b_ = neuron_slices(fam, src, L, n)
                same(f"neurons L{L} N{n} w_in", win, dt, i_); same(f"neurons L{L} N{n} w_gate", wgate, dt, g_)
                same(f"neurons L{L} N{n} w_out", wout, dt, o_); same(f"neurons L{L} N{n} b_in", bin_, bdt, b_)
            for which in ("ln1", "ln2", "ln1_post", "ln2_post", "q_norm", "k_norm"):
                r_ = row("SELECT dtype, weight, bias_dtype, bias FROM norms WHERE name = ? AND layer = ?", which, L)
                if not fam.get(which):
                    if r_ is not None: fail(f"norms {which} L{L}: a row for a norm this family does not have")
                    continue
                if r_ is None:
                    fail(f"norms {which} L{L}: no row")
                    continue
                dt, w, bdt, b = r_
                same(f"norms {which} L{L} weight", w, dt, src[fam[which].format(L=L)])
                same(f"norms {which} L{L} bias", b, bdt, src[fam[which + "_b"].format(L=L)] if fam.get(which + "_b") else None)
        dt, w, bdt, b = row("SELECT dtype, weight, bias_dtype, bias FROM norms WHERE name = 'ln_final' AND layer IS NULL")
        same("norms ln_final weight", w, dt, src[fam["final"]])
        same("norms ln_final bias", b, bdt, src[fam["final_b"]] if fam.get("final_b") else None)
        # learned positions, biases that belong to a layer, the unembedding bias (GPT-2 / GPT-NeoX have some)
        pos = src.get("transformer.wpe.weight")
        for p_, dt, emb in db.execute("SELECT position, dtype, embedding FROM positions ORDER BY position"):
            same(f"positions {p_}", emb, dt, pos[p_] if pos is not None else None)
        if pos is not None and row("SELECT count(*) FROM positions")[0] != pos.shape[0]: fail("positions: row count")
        bias_names = {"gpt2": ("transformer.h.{L}.attn.c_proj.bias", "transformer.h.{L}.mlp.c_proj.bias"),
                      "gpt_neox": ("gpt_neox.layers.{L}.attention.dense.bias", "gpt_neox.layers.{L}.mlp.dense_4h_to_h.bias")}
        for L, dt, bo, bout in db.execute("SELECT layer, dtype, b_o, b_out FROM layer_biases ORDER BY layer"):
            names = bias_names.get(family_of_src(fam), (None, None))
            same(f"layer_biases L{L} b_o", bo, dt, src.get(names[0].format(L=L)) if names[0] else None)
            same(f"layer_biases L{L} b_out", bout, dt, src.get(names[1].format(L=L)) if names[1] else None)
        for tid, udt, ub in db.execute("SELECT id, unembedding_dtype, unembedding_bias FROM tokens WHERE unembedding_bias IS NOT NULL"):
            fail(f"tokens {tid}: an unembedding bias none of these families has")
        counts = row("SELECT (SELECT count(*) FROM heads), (SELECT count(*) FROM kv_heads), (SELECT count(*) FROM neurons), "
                     "(SELECT count(*) FROM tokens), (SELECT count(*) FROM layer_biases)")
        want_biases = cfg["layers"] if fam["layout"] in ("conv1d", "neox") else 0
        if counts != (cfg["layers"] * cfg["H"], cfg["layers"] * cfg["KV"], cfg["layers"] * cfg["d_mlp"], cfg["V"], want_biases):
            fail(f"row counts {counts}")
        if len(failures) > failures_before: print(f"semantic rows: {len(failures) - failures_before} of {checked} vectors differ")
        elif view_tol is None: print(f"semantic rows: {checked} vectors equal the source slices byte for byte")
        else: print(f"semantic rows: {checked} vectors within {worst:.1e} of transformers' dequantised weights")

        # 3. the forward pass from the database
        ids = ",".join(str(i) for i in [0, 5, 17, cfg["V"] - 1, 3, 5, 17])
        run(a.xlens, "forward", model, "--tokens", ids, "--npy", tmp / "source.npy")
        run(a.xlens, "forward", db_path, "--tokens", ids, "--npy", tmp / "db.npy")
        if (tmp / "source.npy").read_bytes() != (tmp / "db.npy").read_bytes(): fail("logits from the database differ")
        else: print("forward: logits from the database are byte-identical to the source's")

        # 4. OV copying scores against the full circuit
        if a.copying:
            ours = {(L, h): s for L, h, s in db.execute("SELECT layer, head, score FROM head_roles WHERE role = 'ov_copying'")}
            ref = copying_scores(fam, src, cfg, m[7] == "layer_norm")
            worst = max(abs(ours.get(key, 9) - s) for key, s in ref.items())
            if len(ours) != len(ref) or worst > 1e-4: fail(f"ov_copying: max |delta| {worst:.2e} over {len(ref)} heads")
            else: print(f"ov_copying: {len(ref)} heads within {worst:.1e} of numpy's eigenvalues of the full circuit")
        db.close()
    if failures:
        print(f"{len(failures)} failure(s)")
        return 1
    print("OK")
    return 0


if __name__ == "__main__":
    sys.exit(main())
