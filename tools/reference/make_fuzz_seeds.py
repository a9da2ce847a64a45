#!/usr/bin/env python3
"""Writes the seed corpus of the fuzz targets (tests/fuzz/corpus/<target>/), small valid inputs
made by the reference libraries, so fuzzing starts from files that get past the first checks.

usage: make_fuzz_seeds.py [OUTDIR]    (default: tests/fuzz/corpus beside this repository's tools/)

Deterministic: rerunning it rewrites identical files. Every seed is a few KB at most.
"""
import json
import sys
from pathlib import Path

import numpy as np
from gguf import GGMLQuantizationType as Q, GGUFWriter
from gguf.quants import quantize
from safetensors.numpy import save as save_safetensors
from tokenizers import AddedToken, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers

ROOT = Path(__file__).resolve().parents[2]
rng = np.random.default_rng(7)
TEXT = ["The Eiffel Tower is in the city of Paris.", "One, two, three, four: 1234 5678!",
        "Water boils at 100 degrees; été, naïve, 東京.", "def f(x):\n    return x * 2\n", "  spaces   and\ttabs\n"] * 4


def write(path, data):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data if isinstance(data, bytes) else data.encode())


def safetensors_seeds(out):
    f = lambda *s: rng.standard_normal(s).astype(np.float32)
    write(out / "f32_f16_with_metadata.safetensors",
          save_safetensors({"a": f(2, 3), "b": f(4).astype(np.float16), "c.d": f(1, 1, 2)}, metadata={"format": "pt"}))
    write(out / "every_dtype.safetensors", save_safetensors({
        "f64": f(2).astype(np.float64), "i8": np.arange(3, dtype=np.int8), "u8": np.arange(3, dtype=np.uint8),
        "i16": np.arange(2, dtype=np.int16), "i32": np.arange(2, dtype=np.int32), "i64": np.arange(2, dtype=np.int64),
        "bool": np.array([True, False])}))
    write(out / "empty_tensor_and_scalar.safetensors", save_safetensors({"empty": np.zeros((0, 3), np.float32),
                                                                         "scalar": np.array(1.5, dtype=np.float32)}))
    write(out / "no_tensors.safetensors", save_safetensors({}))
    # bf16 has no numpy dtype: write the header by hand.
    header = json.dumps({"w": {"dtype": "BF16", "shape": [2, 2], "data_offsets": [0, 8]}}).encode()
    header += b" " * (-len(header) % 8)
    write(out / "bf16.safetensors", len(header).to_bytes(8, "little") + header + bytes(range(8)))


def byte_level_vocab():
    # GPT-2's printable spelling of the 256 bytes, so every text encodes.
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(0xA1, 0xAC + 1)) + list(range(0xAE, 0xFF + 1))
    cs, n = bs[:], 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return [chr(c) for _, c in sorted(zip(bs, cs))]


def gguf_seeds(out):
    tokens = byte_level_vocab() + ["Ġt", "he", "Ġthe", "<|endoftext|>"]
    merges = ["Ġ t", "h e", "Ġt he"]

    def tiny_llama(path, quantise):
        w = GGUFWriter(str(path), "llama")
        d, heads, kv, ff, vocab = 8, 2, 1, 12, len(tokens)
        w.add_context_length(16)
        w.add_embedding_length(d)
        w.add_block_count(1)
        w.add_feed_forward_length(ff)
        w.add_head_count(heads)
        w.add_head_count_kv(kv)
        w.add_layer_norm_rms_eps(1e-6)
        w.add_rope_freq_base(10000.0)
        w.add_tokenizer_model("gpt2")
        w.add_tokenizer_pre("smollm")
        w.add_token_list(tokens)
        w.add_token_types([1] * (len(tokens) - 1) + [3])
        w.add_token_merges(merges)
        w.add_bos_token_id(len(tokens) - 1)
        w.add_eos_token_id(len(tokens) - 1)
        f = lambda *s: (0.3 * rng.standard_normal(s)).astype(np.float32)
        w.add_tensor("token_embd.weight", f(vocab, d))
        w.add_tensor("blk.0.attn_norm.weight", np.ones(d, np.float32))
        w.add_tensor("blk.0.attn_q.weight", f(heads * 4, d))
        w.add_tensor("blk.0.attn_k.weight", f(kv * 4, d))
        w.add_tensor("blk.0.attn_v.weight", f(kv * 4, d))
        w.add_tensor("blk.0.attn_output.weight", f(d, heads * 4).astype(np.float16))
        w.add_tensor("blk.0.ffn_norm.weight", np.ones(d, np.float32))
        if quantise:  # a Q8_0 block holds 32 values, wider than d: a shape error the loader must name
            w.add_tensor("blk.0.ffn_gate.weight", quantize(f(ff, 32), Q.Q8_0), raw_dtype=Q.Q8_0)
        else:
            w.add_tensor("blk.0.ffn_gate.weight", f(ff, d))
        w.add_tensor("blk.0.ffn_up.weight", f(ff, d))
        w.add_tensor("blk.0.ffn_down.weight", f(d, ff))
        w.add_tensor("output_norm.weight", np.ones(d, np.float32))
        w.write_header_to_file()
        w.write_kv_data_to_file()
        w.write_tensors_to_file()
        w.close()

    out.mkdir(parents=True, exist_ok=True)
    tiny_llama(out / "tiny_llama.gguf", quantise=False)
    tiny_llama(out / "tiny_llama_q8_0_gate.gguf", quantise=True)  # shapes disagree on purpose: an error path
    w = GGUFWriter(str(out / "every_value_type.gguf"), "test")
    w.add_uint8("u8", 1); w.add_int8("i8", -1); w.add_uint16("u16", 2); w.add_int16("i16", -2)
    w.add_uint32("u32", 3); w.add_int32("i32", -3); w.add_uint64("u64", 4); w.add_int64("i64", -4)
    w.add_float32("f32", 0.5); w.add_float64("f64", 0.25); w.add_bool("b", True); w.add_string("s", "été")
    w.add_array("ai", [1, 2, 3]); w.add_array("as", ["a", "b"]); w.add_array("af", [0.5, 1.5])
    w.add_tensor("q4_0", quantize(rng.standard_normal((2, 32)).astype(np.float32), Q.Q4_0), raw_dtype=Q.Q4_0)
    w.write_header_to_file(); w.write_kv_data_to_file(); w.write_tensors_to_file(); w.close()


def config_seeds(out):
    base = {"vocab_size": 53, "max_position_embeddings": 32}
    llama = {**base, "architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": 24,
             "num_hidden_layers": 2, "num_attention_heads": 6, "num_key_value_heads": 2, "head_dim": 4,
             "intermediate_size": 36, "hidden_act": "silu", "rms_norm_eps": 1e-6,
             "rope_scaling": {"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
                              "original_max_position_embeddings": 16}, "rope_theta": 10000.0, "tie_word_embeddings": True}
    seeds = {
        "llama": llama,
        "mistral": {**llama, "architectures": ["MistralForCausalLM"], "model_type": "mistral", "sliding_window": 8,
                    "rope_scaling": None},
        "qwen2": {**llama, "architectures": ["Qwen2ForCausalLM"], "model_type": "qwen2",
                  "rope_scaling": {"type": "linear", "factor": 2.0}},
        "gpt2": {"architectures": ["GPT2LMHeadModel"], "model_type": "gpt2", "n_embd": 24, "n_layer": 2, "n_head": 3,
                 "n_positions": 32, "vocab_size": 53, "activation_function": "gelu_new", "layer_norm_epsilon": 1e-5,
                 "n_inner": None, "tie_word_embeddings": True},
        "gpt_neox": {**base, "architectures": ["GPTNeoXForCausalLM"], "model_type": "gpt_neox", "hidden_size": 32,
                     "num_hidden_layers": 2, "num_attention_heads": 4, "intermediate_size": 40, "hidden_act": "gelu",
                     "layer_norm_eps": 1e-5, "rotary_pct": 0.25, "rotary_emb_base": 10000,
                     "use_parallel_residual": True, "tie_word_embeddings": False},
    }
    for name, config in seeds.items():
        write(out / f"{name}.json", json.dumps(config, indent=1))


def tokenizer_seeds(out):
    def trained(name, pre, normalizer=None, post=None, specials=("<|endoftext|>",)):
        tok = Tokenizer(models.BPE())
        tok.pre_tokenizer = pre
        tok.decoder = decoders.ByteLevel()
        if normalizer:
            tok.normalizer = normalizer
        trainer = trainers.BpeTrainer(vocab_size=300, special_tokens=list(specials), show_progress=False,
                                      initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
        tok.train_from_iterator(TEXT, trainer)
        if post:
            tok.post_processor = post(tok)
        text = json.dumps(json.loads(tok.to_str()), ensure_ascii=False, separators=(",", ":"))
        write(out / f"{name}.json", text)

    byte_level = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    trained("gpt2_byte_level", byte_level)
    trained("llama3_split", pre_tokenizers.Sequence([
        pre_tokenizers.Split(r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+",
                             behavior="isolated"),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)]),
        normalizer=normalizers.NFC(),
        post=lambda tok: processors.TemplateProcessing(single="<|begin_of_text|> $A", special_tokens=[
            ("<|begin_of_text|>", tok.token_to_id("<|begin_of_text|>"))]),
        specials=("<|begin_of_text|>", "<|end_of_text|>"))
    trained("digits_split", pre_tokenizers.Sequence([pre_tokenizers.Digits(individual_digits=True), byte_level]))


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    out = Path(argv[0]) if argv else ROOT / "tests" / "fuzz" / "corpus"
    safetensors_seeds(out / "safetensors_header")
    gguf_seeds(out / "gguf_metadata")
    config_seeds(out / "config_json")
    tokenizer_seeds(out / "tokenizer_json")
    for target in sorted(out.iterdir()):
        files = sorted(target.iterdir())
        print(f"{target.name}: {len(files)} seeds, {sum(f.stat().st_size for f in files)} bytes")


if __name__ == "__main__":
    main()
