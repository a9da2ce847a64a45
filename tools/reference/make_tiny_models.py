#!/usr/bin/env python3
"""Make the random-init tiny models that xlens's forward pass is checked against.

    make_tiny_models.py OUTDIR [--seed 0] [--only NAME ...] [--force]

Each model is a transformers model built from a config (no download), given
random weights and saved with save_pretrained as OUTDIR/NAME/{config.json,
model.safetensors} (or shards + model.safetensors.index.json).  Sizes are odd
on purpose (d_model 36/40/48/60/64, vocab 89..113, d_head != d_model/n_heads
for mistral) so a transposed or mis-strided tensor cannot pass by accident.

Weights are N(0, 0.2), biases N(0, 0.1) and norm gains U(0.5, 1.5): with the
default init (gains 1, biases 0) a forward pass that forgets a gain or a bias
would still match the reference.

OUTDIR/MANIFEST.json lists every model with its family and key config values.
A model already in the manifest with the same seed and spec is skipped, so
running this twice is quick; --force rebuilds.

Two extra models, *_legacy_cfg, have their config.json rewritten to the older
key names that real hub checkpoints still use (top-level rope_theta,
rotary_pct/rotary_emb_base for GPT-NeoX) instead of transformers 5's
`rope_parameters` dict; their weights are those of the model they copy.
"""
import argparse
import copy
import hashlib
import json
import shutil
import sys
import zlib
from pathlib import Path

from importlib.metadata import version

# torch and transformers are imported only when a model has to be (re)built: importing them
# costs seconds, and an up-to-date OUTDIR should be confirmed in well under one.

WEIGHT_STD = 0.2
BIAS_STD = 0.1
GAIN_RANGE = (0.5, 1.5)

_LLAMA = dict(vocab_size=97, hidden_size=48, num_attention_heads=6, num_key_value_heads=2, head_dim=8,
              intermediate_size=72, num_hidden_layers=3, max_position_embeddings=64,
              rope_theta=10000.0, rms_norm_eps=1e-5, hidden_act="silu", tie_word_embeddings=False,
              bos_token_id=1, eos_token_id=2)

_NEOX = dict(vocab_size=113, hidden_size=64, num_attention_heads=4, intermediate_size=92, num_hidden_layers=2,
             max_position_embeddings=64, rotary_pct=0.25, rotary_emb_base=10000, layer_norm_eps=1e-5,
             hidden_act="gelu", use_parallel_residual=True, tie_word_embeddings=False)
_GEMMA = dict(vocab_size=103, hidden_size=48, num_attention_heads=4, num_key_value_heads=2, head_dim=12,
              intermediate_size=64, max_position_embeddings=64, rms_norm_eps=1e-6, tie_word_embeddings=True,
              bos_token_id=2, eos_token_id=1, pad_token_id=0)
_GEMMA3_ROPE = {"full_attention": {"rope_type": "linear", "factor": 4.0, "rope_theta": 1000000.0},
                "sliding_attention": {"rope_type": "default", "rope_theta": 10000.0}}

_PHI3 = dict(vocab_size=97, hidden_size=48, num_attention_heads=6, num_key_value_heads=2, intermediate_size=40,
             num_hidden_layers=2, max_position_embeddings=64, original_max_position_embeddings=8,
             rms_norm_eps=1e-5, hidden_act="silu", tie_word_embeddings=False, sliding_window=None,
             bos_token_id=1, eos_token_id=2, pad_token_id=0,
             rope_parameters=dict(rope_type="longrope", rope_theta=10000.0,
                                  short_factor=[1.0, 1.2, 1.7, 2.5], long_factor=[1.5, 3.0, 6.0, 12.0]))

# name -> (family, config class, model class (names in transformers), config kwargs, save options)
# Save options: dtype (torch dtype name the weights are stored in), max_shard_size, legacy (rewrite
# config.json to old key names).  All sequence lengths stay <= 64 positions.
SPECS = {
    "gpt2": ("gpt2", "GPT2Config", "GPT2LMHeadModel", dict(
        vocab_size=101, n_embd=36, n_head=3, n_layer=3, n_positions=64, n_inner=68,
        activation_function="gelu_new", layer_norm_epsilon=1e-5, tie_word_embeddings=True,
        bos_token_id=0, eos_token_id=0), {}),
    # A GPT-2 whose vocabulary holds the byte-level tokenizer make_tokenizers.py trains (1024 ids):
    # the tiny model that text goes through (tokenize, generate, probe).
    "gpt2_text": ("gpt2", "GPT2Config", "GPT2LMHeadModel", dict(
        vocab_size=1024, n_embd=32, n_head=2, n_layer=2, n_positions=64, n_inner=64,
        activation_function="gelu_new", layer_norm_epsilon=1e-5, tie_word_embeddings=True,
        bos_token_id=1023, eos_token_id=1023), {}),
    "llama": ("llama", "LlamaConfig", "LlamaForCausalLM", dict(_LLAMA), {}),
    "llama_tied": ("llama", "LlamaConfig", "LlamaForCausalLM", dict(_LLAMA, tie_word_embeddings=True), {}),
    "llama_f16": ("llama", "LlamaConfig", "LlamaForCausalLM", dict(_LLAMA), {"dtype": "float16"}),
    "llama_bf16": ("llama", "LlamaConfig", "LlamaForCausalLM", dict(_LLAMA), {"dtype": "bfloat16"}),
    # Llama 3.x rope scaling that bites inside 64 positions (original context 16): the converter
    # stores it as the per-frequency tensor rope_freqs.weight.
    "llama3_rope": ("llama", "LlamaConfig", "LlamaForCausalLM", dict(
        _LLAMA, rope_scaling=dict(rope_type="llama3", factor=8.0, low_freq_factor=1.0, high_freq_factor=4.0,
                                  original_max_position_embeddings=16)), {}),
    "llama_sharded": ("llama", "LlamaConfig", "LlamaForCausalLM", dict(_LLAMA), {"max_shard_size": "20KB"}),
    # head_dim 12 while hidden/heads = 10: catches code that derives d_head from d_model.
    "mistral": ("mistral", "MistralConfig", "MistralForCausalLM", dict(
        vocab_size=89, hidden_size=40, num_attention_heads=4, num_key_value_heads=2, head_dim=12,
        intermediate_size=56, num_hidden_layers=2, max_position_embeddings=64, rope_theta=10000.0,
        rms_norm_eps=1e-5, sliding_window=4096, tie_word_embeddings=False), {}),
    "qwen2": ("qwen2", "Qwen2Config", "Qwen2ForCausalLM", dict(
        vocab_size=107, hidden_size=60, num_attention_heads=6, num_key_value_heads=3,
        intermediate_size=84, num_hidden_layers=2, max_position_embeddings=64, rope_theta=1000000.0,
        rms_norm_eps=1e-6, tie_word_embeddings=True, use_sliding_window=False,
        bos_token_id=0, eos_token_id=1), {}),
    # d_head 16 so partial rotary 0.25 gives an even rotary_dim (4); 48/4 heads would give 3.
    "gpt_neox": ("gpt_neox", "GPTNeoXConfig", "GPTNeoXForCausalLM", dict(_NEOX), {}),
    "gpt_neox_seq": ("gpt_neox", "GPTNeoXConfig", "GPTNeoXForCausalLM",
                     dict(_NEOX, rotary_pct=0.5, use_parallel_residual=False), {}),
    # ⌊16 × 0.3125⌋ = 5 frequencies: transformers turns 6 dimensions (exponents over 5).
    "gpt_neox_odd_rotary": ("gpt_neox", "GPTNeoXConfig", "GPTNeoXForCausalLM", dict(_NEOX, rotary_pct=0.3125), {}),
    # The newer families. Soft-caps small enough to bite on random weights, sliding windows (5) shorter
    # than the 17-token test sequence, query_pre_attn_scalar != head_dim, GQA everywhere.
    "gemma": ("gemma", "GemmaConfig", "GemmaForCausalLM", dict(
        _GEMMA, num_hidden_layers=2, rope_theta=10000.0, hidden_act="gelu_pytorch_tanh"), {}),
    "gemma2": ("gemma2", "Gemma2Config", "Gemma2ForCausalLM", dict(
        _GEMMA, num_hidden_layers=4, rope_theta=10000.0, hidden_activation="gelu_pytorch_tanh",
        query_pre_attn_scalar=12, sliding_window=5, attn_logit_softcapping=2.0, final_logit_softcapping=3.0), {}),
    "gemma3": ("gemma3", "Gemma3TextConfig", "Gemma3ForCausalLM", dict(
        _GEMMA, num_hidden_layers=4, hidden_activation="gelu_pytorch_tanh", query_pre_attn_scalar=10,
        sliding_window=5, sliding_window_pattern=2,
        layer_types=["sliding_attention", "full_attention", "sliding_attention", "full_attention"],
        rope_parameters=_GEMMA3_ROPE), {}),
    # Gemma 3 as llama.cpp's converter can carry it: the default layer pattern (5 local, 1 global),
    # query_pre_attn_scalar = head_dim (the GGUF has no key for either).
    "gemma3_default_pattern": ("gemma3", "Gemma3TextConfig", "Gemma3ForCausalLM", dict(
        _GEMMA, num_hidden_layers=6, hidden_activation="gelu_pytorch_tanh", query_pre_attn_scalar=12,
        sliding_window=5, sliding_window_pattern=6, rope_parameters=_GEMMA3_ROPE), {}),
    "qwen3": ("qwen3", "Qwen3Config", "Qwen3ForCausalLM", dict(
        vocab_size=107, hidden_size=48, num_attention_heads=4, num_key_value_heads=2, head_dim=16,
        intermediate_size=72, num_hidden_layers=2, max_position_embeddings=64, rope_theta=1000000.0,
        rms_norm_eps=1e-6, tie_word_embeddings=False, use_sliding_window=False,
        bos_token_id=0, eos_token_id=1), {}),
    "olmo2": ("olmo2", "Olmo2Config", "Olmo2ForCausalLM", dict(
        vocab_size=101, hidden_size=48, num_attention_heads=4, num_key_value_heads=2, head_dim=12,
        intermediate_size=64, num_hidden_layers=2, max_position_embeddings=64, rope_theta=10000.0,
        rms_norm_eps=1e-6, tie_word_embeddings=False, bos_token_id=0, eos_token_id=1, pad_token_id=1), {}),
    # Phi-3: fused qkv_proj with GQA, fused gate_up_proj, LongRoPE. The 17-token test sequence is
    # longer than original_max_position_embeddings 8 (long factors, factor 8 so attention factor
    # > 1) in "phi3" and shorter than 32 (short factors) in "phi3_short", which also has partial
    # rotary (Phi-4-mini's kind) and a sliding window.
    "phi3": ("phi3", "Phi3Config", "Phi3ForCausalLM", dict(_PHI3), {}),
    "phi3_short": ("phi3", "Phi3Config", "Phi3ForCausalLM", dict(
        _PHI3, original_max_position_embeddings=32, sliding_window=5,
        rope_parameters=dict(_PHI3["rope_parameters"], partial_rotary_factor=0.5,
                             short_factor=[1.0, 1.5], long_factor=[2.0, 5.0])), {}),
    # Mixture of experts: 4 experts, 2 chosen per token.
    "mixtral": ("mixtral", "MixtralConfig", "MixtralForCausalLM", dict(
        vocab_size=97, hidden_size=48, num_attention_heads=6, num_key_value_heads=2, head_dim=8,
        intermediate_size=40, num_hidden_layers=2, max_position_embeddings=64, rope_theta=10000.0,
        rms_norm_eps=1e-5, num_local_experts=4, num_experts_per_tok=2, sliding_window=None,
        tie_word_embeddings=False), {}),
    "llama_legacy_cfg": ("llama", "LlamaConfig", "LlamaForCausalLM", dict(_LLAMA), {"legacy": True}),
    "gpt_neox_legacy_cfg": ("gpt_neox", "GPTNeoXConfig", "GPTNeoXForCausalLM", dict(_NEOX), {"legacy": True}),
}


def spec_hash(name):
    """Fingerprint of everything that determines a model's files (besides the seed)."""
    family, cfg_cls, model_cls, kwargs, opts = SPECS[name]
    text = json.dumps([family, cfg_cls, model_cls, kwargs, opts, WEIGHT_STD, BIAS_STD,
                       GAIN_RANGE, version("transformers"), "gemma gains 1 + w" if family.startswith("gemma") else ""],
                      sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def is_norm_gain(param_name, model):
    """True for the gain vector of a LayerNorm/RMSNorm (the module owning it has 'norm' in its
    class name: LayerNorm, LlamaRMSNorm, Qwen2RMSNorm, ...)."""
    if not param_name.endswith(".weight"):
        return False
    owner = model.get_submodule(param_name.rsplit(".", 1)[0])
    return "norm" in type(owner).__name__.lower()


def randomize(model, seed):
    """Overwrite every parameter from a generator seeded only by `seed`, in named_parameters
    order (deterministic; tied parameters are listed once so they stay tied).  Gemma stores a
    norm's gain as w with the gain 1 + w: its w is drawn 1 lower, so every family's gains are
    U(GAIN_RANGE)."""
    import torch
    gen = torch.Generator().manual_seed(seed)
    gain_stored_minus_one = model.config.model_type.startswith("gemma")
    with torch.no_grad():
        for name, p in model.named_parameters():
            if is_norm_gain(name, model):
                lo, hi = GAIN_RANGE
                p.copy_(torch.rand(p.shape, generator=gen) * (hi - lo) + lo - (1.0 if gain_stored_minus_one else 0.0))
            elif name.endswith(".bias"):
                p.copy_(torch.randn(p.shape, generator=gen) * BIAS_STD)
            else:
                p.copy_(torch.randn(p.shape, generator=gen) * WEIGHT_STD)


def model_seed(name, seed):
    """Each model gets its own stream; the *_legacy_cfg copies reuse their base model's."""
    base = {"llama_legacy_cfg": "llama", "gpt_neox_legacy_cfg": "gpt_neox"}.get(name, name)
    return (seed * 1_000_003 + zlib.crc32(base.encode())) % (2**63)


def rewrite_legacy_config(path, family):
    """Replace transformers 5's `rope_parameters` dict by the old top-level keys."""
    cfg = json.loads(path.read_text())
    rope = cfg.pop("rope_parameters", None) or {}
    if family == "gpt_neox":
        cfg["rotary_emb_base"] = rope.get("rope_theta", 10000.0)
        cfg["rotary_pct"] = rope.get("partial_rotary_factor", 1.0)
    else:
        cfg["rope_theta"] = rope.get("rope_theta", 10000.0)
        cfg["rope_scaling"] = None
    path.write_text(json.dumps(cfg, indent=2, sort_keys=True) + "\n")


def build(name, outdir, seed):
    import torch
    import transformers
    transformers.utils.logging.disable_progress_bar()
    family, cfg_cls, model_cls, kwargs, opts = SPECS[name]
    # transformers 5 folds rope_theta / rotary_pct / rotary_emb_base into config.rope_parameters.
    config = getattr(transformers, cfg_cls)(**copy.deepcopy(kwargs))  # configs edit nested dicts in place
    torch.manual_seed(0)  # module __init__ may draw random numbers before we overwrite them
    model = getattr(transformers, model_cls)(config).eval()
    randomize(model, model_seed(name, seed))
    dtype = opts.get("dtype", "float32")
    model = model.to(getattr(torch, dtype))
    target = outdir / name
    if target.exists():
        shutil.rmtree(target)
    model.save_pretrained(target, max_shard_size=opts.get("max_shard_size", "50GB"))
    if opts.get("legacy"):
        rewrite_legacy_config(target / "config.json", family)
    return summarize(name, target, model.config, family, dtype, opts)


def summarize(name, target, cfg, family, dtype, opts):
    n_heads = cfg.num_attention_heads
    d_model = cfg.hidden_size
    rope = getattr(cfg, "rope_parameters", None) or {}
    return {
        "name": name, "family": family, "path": name, "architecture": cfg.architectures[0],
        "dtype": dtype, "sharded": (target / "model.safetensors.index.json").exists(),
        "legacy_config": bool(opts.get("legacy")),
        "n_layers": cfg.num_hidden_layers, "d_model": d_model, "n_heads": n_heads,
        "n_kv_heads": getattr(cfg, "num_key_value_heads", n_heads),
        "d_head": getattr(cfg, "head_dim", None) or d_model // n_heads,
        "d_mlp": getattr(cfg, "intermediate_size", None) or getattr(cfg, "n_inner", None),
        "vocab": cfg.vocab_size, "n_ctx": cfg.max_position_embeddings,
        "tied": bool(getattr(cfg, "tie_word_embeddings", False)),
        "rope_theta": rope.get("rope_theta"),
        "partial_rotary_factor": rope.get("partial_rotary_factor"),
        "parallel_residual": getattr(cfg, "use_parallel_residual", None),
        "act": getattr(cfg, "hidden_act", None) or getattr(cfg, "activation_function", None),
    }


def verify_loads(outdir, entry):
    """Load the saved folder back with transformers in fp32 and run it once."""
    import torch
    import transformers
    model = transformers.AutoModelForCausalLM.from_pretrained(outdir / entry["path"],
                                                              dtype=torch.float32)
    ids = torch.arange(5).unsqueeze(0) % entry["vocab"]
    with torch.no_grad():
        logits = model(ids).logits
    if logits.shape != (1, 5, entry["vocab"]) or not torch.isfinite(logits).all():
        raise RuntimeError(f"{entry['name']}: bad logits after reload")
    if entry["legacy_config"]:
        rope = model.config.rope_parameters
        if entry["family"] == "gpt_neox" and rope.get("partial_rotary_factor") != 0.25:
            raise RuntimeError(f"{entry['name']}: legacy rotary_pct not honoured: {rope}")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("outdir", type=Path)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--only", nargs="*", choices=sorted(SPECS), help="build only these models")
    ap.add_argument("--force", action="store_true", help="rebuild even if the manifest matches")
    ap.add_argument("--no-verify", action="store_true", help="skip reloading each new model")
    args = ap.parse_args(argv)

    args.outdir.mkdir(parents=True, exist_ok=True)
    manifest_path = args.outdir / "MANIFEST.json"
    old = {}
    if manifest_path.exists():
        old = {m["name"]: m for m in json.loads(manifest_path.read_text()).get("models", [])}
    models = {}
    for name in args.only or SPECS:
        prev = old.get(name)
        fresh = (prev and not args.force and prev.get("seed") == args.seed
                 and prev.get("spec_hash") == spec_hash(name)
                 and (args.outdir / name / "config.json").exists())
        if fresh:
            models[name] = prev
            print(f"{name:20s} up to date")
            continue
        entry = build(name, args.outdir, args.seed)
        entry.update(seed=args.seed, spec_hash=spec_hash(name))
        if not args.no_verify:
            verify_loads(args.outdir, entry)
        models[name] = entry
        print(f"{name:20s} built  ({entry['architecture']}, {entry['dtype']}"
              f"{', sharded' if entry['sharded'] else ''})")
        # Keep entries of models not rebuilt this time (when --only is used).
        merged = {**old, **models}
        manifest = {"seed": args.seed, "transformers": version("transformers"),
                    "torch": version("torch"), "init": {"weight_std": WEIGHT_STD,
                                                         "bias_std": BIAS_STD,
                                                         "gain_range": list(GAIN_RANGE)},
                    "models": [merged[n] for n in SPECS if n in merged]}
        manifest_path.write_text(json.dumps(manifest, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
