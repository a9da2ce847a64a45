#!/usr/bin/env python3
"""Writes a GGUF shaped like Llama-3-8B in Q4_K_M, with random quants: for memory and speed checks.

    make_synthetic_gguf.py OUT.gguf --tokenizer-from SmolLM2-135M-Instruct.Q4_1.gguf [--layers 32]

Shape: 32 layers, d_model 4096, 32 query heads and 8 key/value heads of 128, d_ff 14336, rope base
500000, RMSNorm eps 1e-5; the vocabulary, tokenizer and chat template are SmolLM2's (49152 tokens,
read from --tokenizer-from), so prompts encode. Types as llama-quantize's Q4_K_M puts them: Q4_K
everywhere, Q6_K for the output matrix and for attn_v / ffn_down in the layers llama.cpp gives
"more bits" (the first and last eighth of the layers and every third in between), norms F32.

Quantised blocks are random bytes with their f16 scale fields set to small finite values (d ≈ 1e-3,
dmin ≈ 1e-4), so every weight is finite and small; the model computes nonsense, at the cost and
memory of a real one. Written tensor by tensor (about 5 GB), so the writer never holds more than
one tensor. Deterministic (seeded).
"""
import argparse
from pathlib import Path

import numpy as np
from gguf import GGUFReader, GGUFValueType, GGUFWriter, GGMLQuantizationType as Q
from gguf.constants import GGML_QUANT_SIZES

SCALES = {Q.Q4_K: [(0, 1e-3), (2, 1e-4)], Q.Q6_K: [(208, 1e-3)]}


def more_bits(layer, n_layers):
    """llama.cpp's use_more_bits(): the layers whose attn_v and ffn_down Q4_K_M stores in Q6_K."""
    return layer < n_layers // 8 or layer >= 7 * n_layers // 8 or (layer - n_layers // 8) % 3 == 2


def tensor_plan(n_layers, d, d_ff, n_heads, n_kv, d_head, vocab):
    """(name, ggml type, row-major shape) in file order."""
    plan = [("token_embd.weight", Q.Q4_K, (vocab, d))]
    for i in range(n_layers):
        big = Q.Q6_K if more_bits(i, n_layers) else Q.Q4_K
        plan += [(f"blk.{i}.attn_norm.weight", Q.F32, (d,)),
                 (f"blk.{i}.attn_q.weight", Q.Q4_K, (n_heads * d_head, d)),
                 (f"blk.{i}.attn_k.weight", Q.Q4_K, (n_kv * d_head, d)),
                 (f"blk.{i}.attn_v.weight", big, (n_kv * d_head, d)),
                 (f"blk.{i}.attn_output.weight", Q.Q4_K, (d, n_heads * d_head)),
                 (f"blk.{i}.ffn_norm.weight", Q.F32, (d,)),
                 (f"blk.{i}.ffn_gate.weight", Q.Q4_K, (d_ff, d)),
                 (f"blk.{i}.ffn_up.weight", Q.Q4_K, (d_ff, d)),
                 (f"blk.{i}.ffn_down.weight", big, (d, d_ff))]
    plan += [("output_norm.weight", Q.F32, (d,)), ("output.weight", Q.Q6_K, (vocab, d))]
    return plan


def random_blocks(rng, qtype, shape):
    block, size = GGML_QUANT_SIZES[qtype]
    n_blocks = int(np.prod(shape)) // block
    raw = rng.integers(0, 256, (n_blocks, size), dtype=np.uint8)
    for offset, scale in SCALES[qtype]:
        values = (rng.uniform(0.5, 1.5, n_blocks) * scale).astype(np.float16)
        raw[:, offset:offset + 2] = values.view(np.uint8).reshape(n_blocks, 2)
    return raw.reshape(*shape[:-1], shape[-1] // block * size)


def copy_tokenizer(reader, writer):
    """Every tokenizer.* key of the source GGUF, values as stored."""
    for field in reader.fields.values():
        if not field.name.startswith("tokenizer."):
            continue
        vtype = field.types[0]
        if vtype == GGUFValueType.ARRAY:
            sub = field.types[-1]
            if sub == GGUFValueType.STRING:
                values = [bytes(field.parts[i]).decode("utf-8") for i in field.data]
            else:
                values = [field.parts[i].tolist()[0] for i in field.data]
            writer.add_key_value(field.name, values, vtype, sub)
        elif vtype == GGUFValueType.STRING:
            writer.add_key_value(field.name, bytes(field.parts[field.data[0]]).decode("utf-8"), vtype)
        else:
            writer.add_key_value(field.name, field.parts[field.data[0]].tolist()[0], vtype)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    ap.add_argument("out", type=Path)
    ap.add_argument("--tokenizer-from", type=Path, required=True)
    ap.add_argument("--layers", type=int, default=32)
    args = ap.parse_args()
    d, d_ff, n_heads, n_kv, d_head = 4096, 14336, 32, 8, 128
    source = GGUFReader(str(args.tokenizer_from))
    vocab = len(source.fields["tokenizer.ggml.tokens"].data)
    rng = np.random.default_rng(8)

    w = GGUFWriter(str(args.out), "llama")
    w.add_name("synthetic Llama-3-8B-shaped Q4_K_M (random quants)")
    w.add_uint32("general.file_type", 15)  # LLAMA_FTYPE_MOSTLY_Q4_K_M
    w.add_context_length(8192)
    w.add_embedding_length(d)
    w.add_block_count(args.layers)
    w.add_feed_forward_length(d_ff)
    w.add_head_count(n_heads)
    w.add_head_count_kv(n_kv)
    w.add_rope_dimension_count(d_head)
    w.add_rope_freq_base(500000.0)
    w.add_layer_norm_rms_eps(1e-5)
    w.add_vocab_size(vocab)
    copy_tokenizer(source, w)
    plan = tensor_plan(args.layers, d, d_ff, n_heads, n_kv, d_head, vocab)
    for name, qtype, shape in plan:
        if qtype == Q.F32:
            w.add_tensor_info(name, shape, np.dtype(np.float32), int(np.prod(shape)) * 4)
        else:
            block, size = GGML_QUANT_SIZES[qtype]
            byte_shape = (*shape[:-1], shape[-1] // block * size)
            w.add_tensor_info(name, byte_shape, np.dtype(np.uint8), int(np.prod(byte_shape)), raw_dtype=qtype)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_ti_data_to_file()
    for name, qtype, shape in plan:
        if qtype == Q.F32:
            w.write_tensor_data(np.ones(shape, dtype=np.float32))
        else:
            w.write_tensor_data(random_blocks(rng, qtype, shape))
    w.close()
    print(f"wrote {args.out} ({args.out.stat().st_size / 1e9:.2f} GB, {args.layers} layers, vocab {vocab})")


if __name__ == "__main__":
    main()
