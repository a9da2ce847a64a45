#!/usr/bin/env python3
"""Writes the seed corpus of the fuzz targets (tests/fuzz/corpus/<target>/), small valid inputs
made by the reference libraries, so fuzzing starts from files that get past the first checks.

usage: make_fuzz_seeds.py [OUTDIR] [--model SmolLM2-135M-Instruct.Q4_1.gguf]
       (OUTDIR default: tests/fuzz/corpus beside this repository's tools/; --model default:
       build/cache/models/SmolLM2-135M-Instruct.Q4_1.gguf, skipped with a note when absent)

Deterministic: rerunning it rewrites identical files. Every seed is a few KB (under 25 KB).
With the real model, gguf_metadata/smollm2_metadata_tiny.gguf keeps its metadata keys, types and
values (chat template included) with the vocabulary cut to its first 400 tokens, the dimensions
shrunk and small Q4_1 tensors.
"""
import argparse
import json
from pathlib import Path

import numpy as np
from gguf import GGMLQuantizationType as Q, GGUFWriter
from gguf.quants import quantize
from safetensors.numpy import save as save_safetensors
from tokenizers import AddedToken, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers
import transformers

ROOT = Path(__file__).resolve().parents[2]
rng = np.random.default_rng(7)
# A ChatML chat template (SmolLM2's shape: a default system message, then the turns).
CHATML = ("{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}"
          "{{ '<|im_start|>system\nYou are a helpful AI assistant.<|im_end|>\n' }}{% endif %}"
          "{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}{% endfor %}"
          "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}")
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

    space = "\u2581"  # SentencePiece pieces as llama.cpp's converter stores them: pieces, scores, types
    spm_pieces = ["<unk>", "<s>", "</s>"] + [f"<0x{b:02X}>" for b in range(256)] + [space, "t", "h", "e", space + "t", "he", space + "the"]
    spm_types = [2, 3, 3] + [6] * 256 + [1] * 7

    def tiny_llama(path, quantise, arch="llama", pre="smollm", chat_template=None, sentencepiece=False):
        w = GGUFWriter(str(path), arch)
        d, heads, kv, ff, vocab = 8, 2, 1, 12, len(spm_pieces if sentencepiece else tokens)
        w.add_context_length(16)
        w.add_embedding_length(d)
        w.add_block_count(1)
        w.add_feed_forward_length(ff)
        w.add_head_count(heads)
        w.add_head_count_kv(kv)
        w.add_layer_norm_rms_eps(1e-6)
        w.add_rope_freq_base(10000.0)
        if sentencepiece:
            w.add_tokenizer_model("llama")
            w.add_token_list(spm_pieces)
            w.add_token_scores([0.0] * 259 + [-float(i) for i in range(7)])
            w.add_token_types(spm_types)
            w.add_bos_token_id(1)
            w.add_eos_token_id(2)
            w.add_unk_token_id(0)
            w.add_add_space_prefix(True)
        else:
            w.add_tokenizer_model("gpt2")
            w.add_tokenizer_pre(pre)
            w.add_token_list(tokens)
            w.add_token_types([1] * (len(tokens) - 1) + [3])
            w.add_token_merges(merges)
            w.add_bos_token_id(len(tokens) - 1)
            w.add_eos_token_id(len(tokens) - 1)
        if chat_template:
            w.add_chat_template(chat_template)
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
    # The other pre-tokenizers llama.cpp names (regex splits; NFC for qwen2) and the qwen2 family's GGUF keys.
    tiny_llama(out / "tiny_llama_llama_bpe.gguf", quantise=False, pre="llama-bpe")
    tiny_llama(out / "tiny_qwen2_qwen2_pre.gguf", quantise=False, arch="qwen2", pre="qwen2", chat_template=CHATML)
    tiny_llama(out / "tiny_llama_sentencepiece.gguf", quantise=False, sentencepiece=True)  # tokenizer.ggml.model "llama"


def smollm2_seed(out, model):
    """The real model's metadata over a tiny vocabulary and tiny Q4_1 weights (same key order and types)."""
    from gguf import GGUFReader, GGUFValueType as V
    reader = GGUFReader(str(model))
    n_vocab, d, heads, kv, ff = 400, 32, 2, 1, 32
    tokens = [bytes(reader.fields["tokenizer.ggml.tokens"].parts[i]).decode("utf-8")
              for i in reader.fields["tokenizer.ggml.tokens"].data[:n_vocab]]
    known = set(tokens)
    merges = [m for m in reader.fields["tokenizer.ggml.merges"].contents()[:n_vocab]
              if all(p in known for p in m.split(" ", 1)) and m.replace(" ", "", 1) in known]
    tiny = {"llama.block_count": 1, "llama.context_length": 16, "llama.embedding_length": d,
            "llama.feed_forward_length": ff, "llama.attention.head_count": heads, "llama.attention.head_count_kv": kv,
            "llama.vocab_size": n_vocab, "llama.rope.dimension_count": d // heads,
            "tokenizer.ggml.tokens": tokens, "tokenizer.ggml.merges": merges,
            "tokenizer.ggml.token_type": reader.fields["tokenizer.ggml.token_type"].contents()[:n_vocab]}
    w = GGUFWriter(str(out / "smollm2_metadata_tiny.gguf"), "llama", use_temp_file=False)
    w.kv_data[0].clear()  # the writer's own general.architecture: re-added below in the file's order
    for key, field in reader.fields.items():
        if key.startswith("GGUF."):
            continue
        value = tiny.get(key, field.contents())
        sub = field.types[1] if field.types[0] == V.ARRAY else None
        w.add_key_value(key, value, field.types[0], sub_type=sub)
    r = np.random.default_rng(11)
    q = lambda *s: quantize((0.3 * r.standard_normal(s)).astype(np.float32), Q.Q4_1)
    w.add_tensor("token_embd.weight", q(n_vocab, d), raw_dtype=Q.Q4_1)
    w.add_tensor("blk.0.attn_norm.weight", np.ones(d, np.float32))
    for name, rows in (("attn_q", d), ("attn_k", d // heads * kv), ("attn_v", d // heads * kv), ("attn_output", d)):
        w.add_tensor(f"blk.0.{name}.weight", q(rows, d), raw_dtype=Q.Q4_1)
    w.add_tensor("blk.0.ffn_norm.weight", np.ones(d, np.float32))
    w.add_tensor("blk.0.ffn_gate.weight", q(ff, d), raw_dtype=Q.Q4_1)
    w.add_tensor("blk.0.ffn_up.weight", q(ff, d), raw_dtype=Q.Q4_1)
    w.add_tensor("blk.0.ffn_down.weight", q(d, ff), raw_dtype=Q.Q4_1)
    w.add_tensor("output_norm.weight", np.ones(d, np.float32))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


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
    # As transformers 5 writes them (save_pretrained: the diff from the defaults): rope_parameters,
    # layer_types, partial_rotary_factor. The version stamp is dropped so reruns are identical.
    small = dict(vocab_size=53, hidden_size=24, num_hidden_layers=2, num_attention_heads=6, intermediate_size=36,
                 max_position_embeddings=32)
    written = {
        "llama_transformers": transformers.LlamaConfig(architectures=["LlamaForCausalLM"], num_key_value_heads=2,
                                                        tie_word_embeddings=True, **small),
        "qwen2_sliding_transformers": transformers.Qwen2Config(architectures=["Qwen2ForCausalLM"], num_key_value_heads=2,
                                                               use_sliding_window=True, sliding_window=8,
                                                               max_window_layers=1, **small),
        "gpt_neox_transformers": transformers.GPTNeoXConfig(architectures=["GPTNeoXForCausalLM"], rotary_pct=0.5,
                                                            use_parallel_residual=False, **{**small, "hidden_size": 32,
                                                                                            "num_attention_heads": 4}),
        "gpt2_transformers": transformers.GPT2Config(architectures=["GPT2LMHeadModel"], vocab_size=53, n_embd=24, n_layer=2,
                                                     n_head=3, n_positions=32, bos_token_id=52, eos_token_id=52),
    }
    for name, config in written.items():
        d = json.loads(config.to_json_string())
        d.pop("transformers_version", None)
        write(out / f"{name}.json", json.dumps(d, indent=1, sort_keys=True))


def tokenizer_seeds(out):
    def trained(name, pre, normalizer=None, post=None, specials=("<|endoftext|>",), model=None, added=(), sidecars=None):
        tok = Tokenizer(model or models.BPE())
        tok.pre_tokenizer = pre
        tok.decoder = decoders.ByteLevel()
        if normalizer:
            tok.normalizer = normalizer
        trainer = trainers.BpeTrainer(vocab_size=300, special_tokens=list(specials), show_progress=False,
                                      initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
        tok.train_from_iterator(TEXT, trainer)
        tok.add_tokens(list(added))
        if post:
            tok.post_processor = post(tok)
        doc = json.loads(tok.to_str())
        if sidecars:  # fuzz_tokenizer_json reads the files beside tokenizer.json from this key
            doc["__sidecars__"] = sidecars
        text = json.dumps(doc, ensure_ascii=False, separators=(",", ":"))
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
    # Added tokens with every flag, an unknown token, ignore_merges, a Sequence of post-processors with a suffix.
    trained("added_tokens_flags", pre_tokenizers.Sequence([pre_tokenizers.Split(" ", behavior="merged_with_next"), byte_level]),
            normalizer=normalizers.Sequence([normalizers.NFC()]),
            model=models.BPE(unk_token="<unk>", ignore_merges=True),
            specials=("<unk>", "<s>", "</s>"),
            post=lambda tok: processors.Sequence([processors.ByteLevel(trim_offsets=False), processors.TemplateProcessing(
                single="<s> $A </s>", special_tokens=[("<s>", tok.token_to_id("<s>")), ("</s>", tok.token_to_id("</s>"))])]),
            added=(AddedToken("<tab>", lstrip=True, rstrip=True, normalized=False), AddedToken("word", single_word=True),
                   AddedToken("été", normalized=True)),
            sidecars={"tokenizer_config": {"bos_token": "<s>", "eos_token": {"content": "</s>"},
                                           "chat_template": [{"name": "default", "template": CHATML}]},
                      "generation_config": {"eos_token_id": [2, 0]}, "config": {"bos_token_id": 1, "eos_token_id": 2}})

    # SentencePiece style, as transformers' converters write it: byte pieces, byte_fallback, fuse_unk.
    space = "\u2581"
    vocab = {"<unk>": 0, "<s>": 1, "</s>": 2, **{f"<0x{b:02X}>": 3 + b for b in range(256)}}
    for piece in [space, "a", "b", "e", "\u00e9", space + "a", "ab", space + "ab", space + "b", "ee"]:
        vocab[piece] = len(vocab)
    merges = [(space, "a"), ("a", "b"), (space + "a", "b"), (space, "b"), ("e", "e")]
    llama_decoder = [decoders.Replace(space, " "), decoders.ByteFallback(), decoders.Fuse()]
    pipelines = {
        "spm_llama2_legacy": (normalizers.Sequence([normalizers.Prepend(space), normalizers.Replace(" ", space)]), None,
                              decoders.Sequence(llama_decoder + [decoders.Strip(" ", 1, 0)])),
        "spm_metaspace": (None, pre_tokenizers.Metaspace(replacement=space, prepend_scheme="first", split=True),
                          decoders.Metaspace(replacement=space, prepend_scheme="first")),
        "spm_gemma": (normalizers.Replace(" ", space), pre_tokenizers.Split(" ", "merged_with_previous"),
                      decoders.Sequence(llama_decoder)),
    }
    for name, (normalizer, pre, decoder) in pipelines.items():
        tok = Tokenizer(models.BPE(vocab=vocab, merges=merges, unk_token="<unk>", fuse_unk=True, byte_fallback=True))
        if normalizer:
            tok.normalizer = normalizer
        if pre:
            tok.pre_tokenizer = pre
        tok.decoder = decoder
        tok.add_special_tokens([AddedToken(t, special=True, normalized=False) for t in ("<unk>", "<s>", "</s>")])
        tok.post_processor = processors.TemplateProcessing(single="<s> $A", special_tokens=[("<s>", 1)])
        write(out / f"{name}.json", json.dumps(json.loads(tok.to_str()), ensure_ascii=False, separators=(",", ":")))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("outdir", nargs="?", type=Path, default=ROOT / "tests" / "fuzz" / "corpus")
    ap.add_argument("--model", type=Path, default=ROOT / "build" / "cache" / "models" / "SmolLM2-135M-Instruct.Q4_1.gguf")
    args = ap.parse_args(argv)
    out = args.outdir
    safetensors_seeds(out / "safetensors_header")
    gguf_seeds(out / "gguf_metadata")
    if args.model.exists():
        smollm2_seed(out / "gguf_metadata", args.model)
    else:
        print(f"note: {args.model} is absent: gguf_metadata/smollm2_metadata_tiny.gguf not rewritten")
    config_seeds(out / "config_json")
    tokenizer_seeds(out / "tokenizer_json")
    for target in sorted(out.iterdir()):
        files = sorted(target.iterdir())
        print(f"{target.name}: {len(files)} seeds, {sum(f.stat().st_size for f in files)} bytes")


if __name__ == "__main__":
    main()
