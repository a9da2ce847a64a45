#!/usr/bin/env python3
"""Make a 2-layer GPT-2 whose attention heads do known jobs by construction (no training).

    make_planted_heads.py OUTDIR [--sequences 16] [--repeat-length 20]

Writes OUTDIR/{config.json, model.safetensors} (GPT2LMHeadModel, saved by save_pretrained) and
OUTDIR/MANIFEST.json, which says where the planted heads are:

    {"previous_token": [[0, 1]], "first_token": [[0, 3]], "self": [[0, 0]], "induction": [[1, 2]]}

Every other head (L0H2, L1H0, L1H1, L1H3) has zero Q, K, V and O weights: it attends uniformly to
the visible prefix and writes nothing. The planted heads sit at scattered indices so that a
scorer that mixes up head or layer order cannot pass. The weights are written by formula, so two
runs give the same bytes.

Construction. d_model 256 = four orthogonal 64-dim blocks of the residual stream, one-hot inside
each: TOK (the token id, from wte), POS (the position, from wpe), PREV (the previous token's id,
written by the previous-token head) and OUT (the predicted next token, written by the induction
head and read by the untied unembedding). Vocabulary and n_positions are both 64 and d_head is
64, so every block maps one-to-one onto a head's 64 dimensions.

  * LayerNorm. The block inputs always hold one-hot vectors with fixed total mass (1 + 1 before
    layer 0; 1 + 1 + 1 before layer 1, because the previous-token head writes an attention-weighted
    mix of one-hots, which sums to 1), so their mean m and std s are the same at every position.
    ln_1's gain is s and its bias m, which makes it the identity on these residuals and lets Q, K
    and V read the blocks directly. (Before layer 1 the std equals s only when the previous-token
    attention is exactly one-hot; at the sharpness used it is off by < 2e-4, relative.) ln_2 and
    ln_f keep gain 1, bias 0: the MLPs are all zeros, and ln_f shifts and scales each position by
    a positive factor, which keeps the argmax over OUT.
  * Attention logits are BETA (12) on the wanted key and 0 on the others (W_K carries the factor
    BETA * sqrt(d_head) to undo GPT-2's 1/sqrt(d_head)). With at most 63 other keys that puts
    e^12 / (e^12 + 63) > 0.9996 of the weight on the target.
  * L0H1 previous-token: q_i = e_i from POS, k_j = BETA e_{j+1} from POS, so query i matches key
    i - 1 (position 0 can only attend to itself). V reads TOK and O writes it into PREV.
  * L0H3 first-token (sink): the query is a constant from the c_attn bias, the key is BETA on
    position 0 only.  L0H0 self: q_i = e_i, k_j = BETA e_j.  Neither writes anything (V = O = 0).
  * L1H2 induction: q_i reads TOK (the current token), k_j reads PREV (the token before j), so
    query i matches every key j whose previous token equals token i: K-composition with L0H1. On
    [first, R, R] with distinct tokens in R, a query in the second R finds exactly one such j,
    the position after the earlier copy of its token, i - n + 1. V reads TOK and O writes it into
    OUT; the unembedding (untied) maps OUT_t to logit t, so the model predicts the continuation.

Self-check (transformers, fp32, eager attention, the folder loaded back): sequences are token 0
then n distinct random ids from 1..63 repeated twice (fixed seed; distinct so that the induction
target is unique). For each role, a head's target mass is the attention on the role's target key
averaged over the role's query positions and the sequences: previous-token i - 1, first-token 0
and self i for the queries 1..T-1 (query 0 sees only itself, so every head trivially "does" all
three there and it is left out), induction i - n + 1 for the queries of the second repeat.
Planted heads need >= 0.9. Every other head (zero heads and the other planted heads) needs < 0.5;
the uniform share 1/(i+1) that a zero head gives averages well below that over T = 2n + 1 = 41
positions (it is printed as "uniform"). Induction top-1: the argmax logit at second-repeat
positions i < T - 1 equals token i + 1; needs >= 0.9. Exit 1 on any failure.
"""
import argparse
import hashlib
import json
import math
import sys
from pathlib import Path

import numpy as np
import torch
import transformers

VOCAB = 64
N_CTX = 64
N_HEADS = 4
D_HEAD = 64
D_MODEL = N_HEADS * D_HEAD  # GPT-2 ties d_head to d_model / n_heads
TOK, POS, PREV, OUT = (slice(k * 64, (k + 1) * 64) for k in range(4))
BETA = 12.0        # attention logit on the wanted key (others get 0)
UNEMBED = 1.0      # OUT_t -> logit t; ln_f's 1/std (~8) makes the predicted logit ~8
LN_EPS = 1e-5

PLANTED = {"previous_token": [[0, 1]], "first_token": [[0, 3]], "self": [[0, 0]], "induction": [[1, 2]]}
PLANTED_MIN = 0.9   # a planted head's target mass must reach this
OTHER_MAX = 0.5     # every other head must stay below this for each role
ACCURACY_MIN = 0.9


def config():
    return transformers.GPT2Config(
        vocab_size=VOCAB, n_positions=N_CTX, n_embd=D_MODEL, n_layer=2, n_head=N_HEADS, n_inner=16,
        activation_function="gelu_new", layer_norm_epsilon=LN_EPS, tie_word_embeddings=False,
        resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0, bos_token_id=0, eos_token_id=0)


def identity_layernorm(ln, n_ones):
    """Gain = std and bias = mean of a residual holding `n_ones` unit one-hots (and zeros
    elsewhere): LN(x) = (x - m) / s * s + m = x, so this LayerNorm passes such residuals through."""
    m = n_ones / D_MODEL
    s = math.sqrt(n_ones / D_MODEL - m * m + LN_EPS)
    ln.weight.fill_(s)
    ln.bias.fill_(m)


class Head:
    """Views into one head's slices of GPT-2's fused c_attn ([d_model, q | k | v], head-major
    columns inside each) and c_proj ([heads * d_head, d_model]); Conv1D computes x @ W + b."""

    def __init__(self, block, h):
        cols = slice(h * D_HEAD, (h + 1) * D_HEAD)
        w, b = block.attn.c_attn.weight, block.attn.c_attn.bias
        self.W_Q, self.W_K, self.W_V = (w[:, k * D_MODEL:][:, cols] for k in range(3))
        self.b_Q = b[cols]
        self.W_O = block.attn.c_proj.weight[cols, :]


def plant(model):
    """Overwrite every parameter of a fresh GPT2LMHeadModel with the construction above."""
    eye = torch.eye(64)
    shift = torch.eye(64).roll(1, dims=1)   # row j -> column j + 1 (row 63 wraps; zeroed below)
    shift[63] = 0
    key_scale = BETA * math.sqrt(D_HEAD)    # GPT-2 divides q.k by sqrt(d_head)
    t = model.transformer
    with torch.no_grad():
        for p in model.parameters():
            p.zero_()
        t.wte.weight[:, TOK] = eye
        t.wpe.weight[:, POS] = eye
        model.lm_head.weight[:, OUT] = UNEMBED * eye
        for ln in (t.h[0].ln_2, t.h[1].ln_2, t.ln_f):
            ln.weight.fill_(1.0)
        identity_layernorm(t.h[0].ln_1, 2)   # TOK + POS
        identity_layernorm(t.h[1].ln_1, 3)   # TOK + POS + PREV

        prev, first, self_, induction = (Head(t.h[l], h) for (l, h), in PLANTED.values())
        prev.W_Q[POS] = eye                  # q_i = e_i
        prev.W_K[POS] = key_scale * shift    # k_j = BETA e_{j+1}: q_i . k_j > 0 iff j = i - 1
        prev.W_V[TOK] = eye                  # copy the attended token's id ...
        prev.W_O[:, PREV] = eye              # ... into PREV
        first.b_Q[0] = 1.0                   # the same query at every position
        first.W_K[POS.start, 0] = key_scale  # only position 0 has a key along it
        self_.W_Q[POS] = eye
        self_.W_K[POS] = key_scale * eye
        induction.W_Q[TOK] = eye             # "which token am I?"
        induction.W_K[PREV] = key_scale * eye  # "which token came before me?"
        induction.W_V[TOK] = eye             # copy the attended token ...
        induction.W_O[:, OUT] = eye          # ... into OUT, which the unembedding reads


def make_sequences(count, n, seed=0):
    """[0] + R + R with R n distinct ids from 1..VOCAB-1: distinct so the induction target (and
    the next token) is unique; 0 only at the front so it is never an induction match."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(count):
        r = [int(x) for x in rng.choice(np.arange(1, VOCAB), size=n, replace=False)]
        out.append([0] + r + r)
    return out


def role_targets(role, T, n):
    """(query positions, target key for each) of one role on a sequence of T = 2n + 1 ids."""
    if role == "induction":
        queries = np.arange(n + 1, T)
        return queries, queries - n + 1
    queries = np.arange(1, T)
    return queries, {"previous_token": queries - 1, "first_token": np.zeros_like(queries),
                     "self": queries}[role]


def verify(outdir, sequences, n):
    """Reload the folder with transformers and measure every head against every role."""
    model = transformers.AutoModelForCausalLM.from_pretrained(
        outdir, dtype=torch.float32, attn_implementation="eager").eval()
    T = 2 * n + 1
    masses = {role: np.zeros((2, N_HEADS)) for role in PLANTED}
    uniform = {}
    hits = total = 0
    with torch.no_grad():
        for ids in sequences:
            out = model(torch.tensor([ids]), output_attentions=True, use_cache=False)
            pattern = np.stack([a[0].numpy() for a in out.attentions])  # [layer, head, q, k]
            for role in PLANTED:
                q, k = role_targets(role, T, n)
                masses[role] += pattern[:, :, q, k].mean(-1) / len(sequences)
                uniform[role] = float(np.mean(1.0 / (q + 1)))
            pred = out.logits[0].argmax(-1).numpy()
            queries = np.arange(n + 1, T - 1)
            hits += int((pred[queries] == np.array(ids)[queries + 1]).sum())
            total += len(queries)
    failures = 0
    print(f"target mass over {len(sequences)} sequences [0] + R + R, n = {n}, T = {T}")
    for role, heads in PLANTED.items():
        (l, h), = heads
        mine = masses[role][l, h]
        others = masses[role].copy()
        others[l, h] = -1.0
        ol, oh = np.unravel_index(others.argmax(), others.shape)
        ok_mine, ok_other = mine >= PLANTED_MIN, others.max() < OTHER_MAX
        failures += (not ok_mine) + (not ok_other)
        print(f"  {'ok' if ok_mine and ok_other else 'FAIL'}  {role:15s} L{l}H{h} {mine:.6f} "
              f"(>= {PLANTED_MIN}); other heads max {others.max():.4f} at L{ol}H{oh} (< {OTHER_MAX}); "
              f"uniform {uniform[role]:.4f}")
    accuracy = hits / total
    ok = accuracy >= ACCURACY_MIN
    failures += not ok
    print(f"  {'ok' if ok else 'FAIL'}  induction top-1 on the second repeat: {accuracy:.4f} "
          f"({hits}/{total}, >= {ACCURACY_MIN})")
    return failures


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("outdir", type=Path)
    ap.add_argument("--sequences", type=int, default=16, help="random repeated sequences to check on")
    ap.add_argument("--repeat-length", type=int, default=20, help="n: each sequence is [0] + R + R")
    args = ap.parse_args(argv)
    if not 2 <= args.repeat_length <= (N_CTX - 1) // 2:
        ap.error(f"--repeat-length must be 2..{(N_CTX - 1) // 2}")
    torch.set_num_threads(1)  # tiny matrices: more threads only add contention
    transformers.utils.logging.disable_progress_bar()

    torch.manual_seed(0)  # __init__ draws random weights; every one is overwritten in plant()
    model = transformers.GPT2LMHeadModel(config()).eval()
    plant(model)
    args.outdir.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(args.outdir)
    (args.outdir / "MANIFEST.json").write_text(json.dumps(PLANTED, indent=2) + "\n")
    digest = hashlib.sha256((args.outdir / "model.safetensors").read_bytes()).hexdigest()[:16]
    print(f"wrote {args.outdir} (GPT-2, 2 layers x {N_HEADS} heads, d_model {D_MODEL}, vocab {VOCAB}, "
          f"n_ctx {N_CTX}; model.safetensors sha256 {digest}...)")

    failures = verify(args.outdir, make_sequences(args.sequences, args.repeat_length), args.repeat_length)
    if failures:
        print(f"FAIL: {failures} checks failed")
        return 1
    print("PASS: every planted head does its job and no other head looks like it")
    return 0


if __name__ == "__main__":
    sys.exit(main())
