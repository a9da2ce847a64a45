#!/usr/bin/env python3
"""Value side of the FFN neurons of `xlens neurons` against a brute-force float64 reference.

    compare_neurons.py --xlens BIN --model DIR [--k 5] [--tol 1e-4] [--self-test] [--keep OUTDIR]

Runs `BIN neurons DIR --k K --json OUT.json` (all layers). The reference reads the weights of the
transformers model (fp32, CPU) directly: for MLP layer L and neuron n, w = what the neuron writes
into the residual stream per unit of activation (row n of a GPT-2 Conv1D c_proj.weight
[d_mlp, d_model], column n of an nn.Linear down_proj / dense_4h_to_h weight [d_model, d_mlp]);
w is centred (w - mean(w)) when the final norm is a LayerNorm (what LayerNorm does to any
residual direction), then scaled by the final norm's gain gamma, and
score(n, t) = (gamma * c(w)) . W_U[t] for every token t, with W_U = get_output_embeddings().weight
[vocab, d_model]; no bias. The whole [d_mlp, vocab] matrix is computed in float64.

Checked for every neuron of every layer: the JSON covers each layer and neuron once (and d_mlp and
k are the model's and the request's); "promoted" are the k highest scores, highest first, and
"suppressed" the k lowest, lowest first (exact ids in order, except that ids whose reference scores
differ by less than 1e-6 may trade places); each reported score within --tol of the reference;
mean_score (the mean over the whole vocabulary) within --tol.

--self-test runs the same comparison against deliberately wrong references (gamma left out; for a
LayerNorm model also the centring left out) and succeeds only if every one of them FAILS: the
check can tell a right answer from a near miss (the right reference must still pass). Exit 1 on any failure.
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

TIE = 1e-6  # reference scores closer than this may be reported in either order
MAX_SHOWN = 8  # mismatches printed


def first_attr(obj, names, what):
    for name in names:
        if getattr(obj, name, None) is not None:
            return getattr(obj, name)
    raise SystemExit(f"cannot find the {what} of {type(obj).__name__} (looked for {', '.join(names)})")


def model_weights(path):
    """(W_out per layer as [d_mlp, d_model] float64, gamma, is_layernorm, W_U [vocab, d_model]).
    Gemma's norms store w for the gain 1 + w; a norm on the MLP output (Gemma 2/3, OLMo 2) scales each
    neuron's output vector by its gain (its per-token scale is left out, as the final norm's is)."""
    transformers.utils.logging.disable_progress_bar()
    hf = transformers.AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32).eval()
    base = hf.base_model
    norm = first_attr(base, ("ln_f", "norm", "final_layer_norm"), "final norm")
    layers = first_attr(base, ("h", "layers"), "layer list")
    offset = 1.0 if hf.config.model_type.startswith("gemma") else 0.0
    outs = []
    for block in layers:
        proj = first_attr(block.mlp, ("c_proj", "down_proj", "dense_4h_to_h"), "MLP output projection")
        w = proj.weight.detach().double()
        if isinstance(proj, torch.nn.Linear):
            w = w.T  # nn.Linear stores [out, in] = [d_model, d_mlp]; Conv1D stores [in, out]
        post = getattr(block, "post_feedforward_layernorm", None)
        if post is not None:
            w = w * (offset + post.weight.detach().double())
        outs.append(w.numpy())
    gamma = (offset + norm.weight.detach().double()).numpy()
    W_U = hf.get_output_embeddings().weight.detach().double().numpy()
    return outs, gamma, isinstance(norm, torch.nn.LayerNorm), W_U


def reference_scores(W_out, gamma, layernorm, W_U, use_gamma=True, centre=True):
    """score[n, t] for one layer, [d_mlp, vocab] float64; the flags exist for --self-test."""
    w = W_out - W_out.mean(axis=1, keepdims=True) if layernorm and centre else W_out
    if use_gamma:
        w = w * gamma
    return w @ W_U.T


def check_list(entries, ref_row, k, highest, tol):
    """Problems (strings) with one promoted/suppressed list and its max |delta score|."""
    order = np.argsort(-ref_row if highest else ref_row, kind="stable")
    want = ref_row[order[:k]]
    problems, dmax = [], 0.0
    try:
        ids = [int(e["token"]) for e in entries]
        scores = np.array([float(e["score"]) for e in entries])
    except (KeyError, TypeError, ValueError):
        return [f"malformed entries {str(entries)[:120]}"], float("nan")
    if len(ids) != k:
        return [f"{len(ids)} entries, want {k}"], float("nan")
    if len(set(ids)) != k or not all(0 <= t < len(ref_row) for t in ids):
        return [f"ids {ids} not {k} distinct ids inside the vocabulary"], float("nan")
    got_ref = ref_row[ids]
    if not np.all(np.abs(got_ref - want) < TIE):
        problems.append(f"ids {ids} (reference scores {np.round(got_ref, 6).tolist()}), "
                        f"reference {order[:k].tolist()} ({np.round(want, 6).tolist()})")
    d = np.abs(scores - got_ref)
    dmax = float(d.max()) if np.isfinite(d).all() else float("nan")
    if not dmax <= tol:
        problems.append(f"scores {np.round(scores, 6).tolist()} vs reference "
                        f"{np.round(got_ref, 6).tolist()}: max |delta| {dmax:.3g}")
    return problems, dmax


def compare(data, refs, k, tol):
    """All mismatches of the JSON against the reference matrices, and the summary numbers."""
    bad, dscore, dmean, n_neurons = [], 0.0, 0.0, 0
    d_mlp = refs[0].shape[0]
    if data.get("k") != k or data.get("d_mlp") != d_mlp:
        bad.append(f"header k {data.get('k')}, d_mlp {data.get('d_mlp')}; want {k}, {d_mlp}")
    layers = data.get("layers") or []
    got_layers = [e.get("layer") for e in layers]
    if got_layers != list(range(len(refs))):
        bad.append(f"layers {got_layers}, want 0..{len(refs) - 1}")
    for entry in layers:
        L = entry.get("layer")
        if not isinstance(L, int) or not 0 <= L < len(refs):
            continue
        ref = refs[L]
        neurons = entry.get("neurons") or []
        got_n = [n.get("neuron") for n in neurons]
        if got_n != list(range(ref.shape[0])):
            bad.append(f"L{L}: neurons {got_n[:6]}... ({len(got_n)}), want 0..{ref.shape[0] - 1}")
        for nrn in neurons:
            n = nrn.get("neuron")
            if not isinstance(n, int) or not 0 <= n < ref.shape[0]:
                continue
            n_neurons += 1
            for side, highest in (("promoted", True), ("suppressed", False)):
                problems, d = check_list(nrn.get(side), ref[n], k, highest, tol)
                dscore = max(dscore, d) if not np.isnan(d) else float("nan")
                bad += [f"L{L} N{n} {side}: {p}" for p in problems]
            try:
                d = abs(float(nrn["mean_score"]) - ref[n].mean())
            except (KeyError, TypeError, ValueError):
                d = float("nan")
            dmean = max(dmean, d) if not np.isnan(d) else float("nan")
            if not d <= tol:
                bad.append(f"L{L} N{n} mean_score {nrn.get('mean_score')} vs reference {ref[n].mean():.8g}")
    return bad, dscore, dmean, n_neurons


def report(label, result, n_layers, tol):
    """Print the summary line and the first mismatches; True when there are none."""
    bad, dscore, dmean, n_neurons = result
    print(f"{label}: {n_layers} layers, {n_neurons} neurons, max |delta score| {dscore:.3g}, "
          f"max |delta mean| {dmean:.3g} (tol {tol:g})")
    for line in bad[:MAX_SHOWN]:
        print("  FAIL  " + line)
    if len(bad) > MAX_SHOWN:
        print(f"  ... and {len(bad) - MAX_SHOWN} more")
    return not bad


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--xlens", required=True, type=Path, help="path of the built xlens program")
    ap.add_argument("--model", required=True, type=Path, help="Hugging Face model folder")
    ap.add_argument("--k", type=int, default=5, help="tokens per list (default 5)")
    ap.add_argument("--tol", type=float, default=1e-4, help="max |delta| of a score (default 1e-4)")
    ap.add_argument("--self-test", action="store_true", help="wrong references must make the check fail")
    ap.add_argument("--keep", type=Path, help="keep xlens's JSON in this folder")
    args = ap.parse_args(argv)
    torch.set_grad_enabled(False)

    with tempfile.TemporaryDirectory(prefix="xlens_neurons_") as tmp:
        work = args.keep or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        out = work / "neurons.json"
        cmd = [str(args.xlens), "neurons", str(args.model), "--k", str(args.k), "--json", str(out)]
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode != 0:
            print(f"FAIL: {' '.join(cmd)}: exit {proc.returncode}: {proc.stderr.strip()[:300]}")
            return 1
        data = json.loads(out.read_text())

    outs, gamma, layernorm, W_U = model_weights(args.model)
    print(f"model {args.model}: {len(outs)} layers, d_mlp {outs[0].shape[0]}, d_model {W_U.shape[1]}, "
          f"vocab {W_U.shape[0]}, final norm {'LayerNorm (centred)' if layernorm else 'RMSNorm'}, k {args.k}")

    if args.self_test:
        wrong = {"gamma left out": dict(use_gamma=False)}
        if layernorm:
            wrong["centring left out"] = dict(centre=False)
        refs = [reference_scores(w, gamma, layernorm, W_U) for w in outs]
        caught = report("self-test, right reference", compare(data, refs, args.k, args.tol), len(outs), args.tol)
        print(f"  {'ok    the right reference passes' if caught else 'FAIL  the right reference fails'}")
        for label, flags in wrong.items():
            refs = [reference_scores(w, gamma, layernorm, W_U, **flags) for w in outs]
            rejected = not report(f"self-test, {label}", compare(data, refs, args.k, args.tol), len(outs), args.tol)
            print(f"  {'ok    the check fails, as it must' if rejected else 'FAIL  the check passes a wrong reference'}")
            caught &= rejected
        print("PASS: self-test, every wrong reference rejected" if caught else "FAIL: self-test")
        return 0 if caught else 1

    refs = [reference_scores(w, gamma, layernorm, W_U) for w in outs]
    result = compare(data, refs, args.k, args.tol)
    if report("xlens neurons vs brute force", result, len(outs), args.tol):
        print(f"PASS: every promoted/suppressed list and mean_score of {result[3]} neurons")
        return 0
    print(f"FAIL: {len(result[0])} mismatches")
    return 1


if __name__ == "__main__":
    sys.exit(main())
