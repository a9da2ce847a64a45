#!/usr/bin/env python3
"""Writes the GGUF fixtures that tests/test_gguf.cpp and tests/test_quants.cpp read.

usage: make_gguf_fixtures.py TESTDATA [--model SmolLM2-135M-Instruct.Q4_1.gguf]

TESTDATA is the directory the tests read as $XLENS_TEST_DATA; everything goes into its gguf/
subdirectory (OUTDIR below), beside other readers' fixtures. Writes, with the `gguf` package (the
reference transformers uses to load GGUF files):
  OUTDIR/fixture.gguf          GGUF v3, default alignment 32: metadata of every value type and one
                               tensor per supported ggml type, holding random raw bytes
  OUTDIR/fixture_align64.gguf  two tensors under general.alignment = 64
  OUTDIR/<tensor>.f32          expected values, raw little-endian float32, row-major: exactly what
                               gguf.quants.dequantize returns (F64: numpy astype(float32))
Quantised blocks are random bytes except their f16 scale fields, which are set to finite values
(normal and subnormal, both signs) so every expected value is finite. F32/F16/BF16 tensors are
random bit patterns, NaNs and infinities included: the tests compare bits, not values.
With --model, also writes OUTDIR/model.<tensor>.f32 for a few tensors of that real GGUF
(MODEL_TENSORS below; token_embd.weight only its first MODEL_EMBD_ROWS rows, to keep it small).
Deterministic (seeded): rerunning it rewrites identical files.
"""
import argparse
from pathlib import Path

import numpy as np
from gguf import GGUFReader, GGUFValueType, GGUFWriter, GGMLQuantizationType as Q
from gguf.constants import GGML_QUANT_SIZES
from gguf.quants import dequantize

rng = np.random.default_rng(20240611)

MODEL_TENSORS = ["blk.0.attn_q.weight", "blk.29.ffn_down.weight", "output_norm.weight", "token_embd.weight"]
MODEL_EMBD_ROWS = 64

# Offsets of the f16 scale fields inside one block of each quantised type.
SCALE_FIELDS = {Q.Q8_0: [0], Q.Q4_0: [0], Q.Q4_1: [0, 2], Q.Q4_K: [0, 2], Q.Q6_K: [208],
                Q.Q5_0: [0], Q.Q5_1: [0, 2], Q.Q2_K: [80, 82], Q.Q3_K: [108], Q.Q5_K: [0, 2],
                Q.IQ4_NL: [0], Q.IQ4_XS: [0]}


def random_scales(n):
    """n finite f16 values: normal in ±[1e-3, 4], except every fifth (from index 1) subnormal."""
    mag = np.exp(rng.uniform(np.log(1e-3), np.log(4.0), n)).astype(np.float16)
    sub = rng.integers(1, 0x3FF, n).astype(np.uint16).view(np.float16)
    vals = np.where(np.arange(n) % 5 == 1, sub, mag)
    return (vals * rng.choice([-1, 1], n)).astype(np.float16)


def quantised(qtype, shape):
    """Random raw blocks for a tensor of logical `shape` (row-major), byte shape as gguf-py wants."""
    block, size = GGML_QUANT_SIZES[qtype]
    assert shape[-1] % block == 0
    n_blocks = int(np.prod(shape)) // block
    raw = rng.integers(0, 256, (n_blocks, size), dtype=np.uint8)
    for off in SCALE_FIELDS[qtype]:
        raw[:, off:off + 2] = random_scales(n_blocks).view(np.uint8).reshape(n_blocks, 2)
    return raw.reshape(*shape[:-1], shape[-1] // block * size)


def random_bits(dtype, shape):
    """Arbitrary bit patterns viewed as `dtype`."""
    width = np.dtype(dtype).itemsize
    return rng.integers(0, 256, int(np.prod(shape)) * width, dtype=np.uint8).view(dtype).reshape(shape)


def make_tensors():
    """name -> (ggml type, raw array as written, row-major logical shape) for fixture.gguf."""
    t = {}
    t["f32.matrix"] = (Q.F32, random_bits(np.float32, (4, 8)), (4, 8))
    t["f16.cube"] = (Q.F16, random_bits(np.float16, (2, 3, 16)), (2, 3, 16))
    t["bf16.vector"] = (Q.BF16, random_bits(np.uint8, (64 * 2,)), (64,))
    t["f64.matrix"] = (Q.F64, rng.normal(0, 1e3, (3, 5)), (3, 5))
    t["i32.vector"] = (Q.I32, rng.integers(-2**31, 2**31, (7,), dtype=np.int32), (7,))
    t["i8.vector"] = (Q.I8, rng.integers(-128, 128, (5,), dtype=np.int8), (5,))
    for qtype, shape in [(Q.Q8_0, (4, 64)), (Q.Q4_0, (2, 2, 96)), (Q.Q4_1, (5, 32)),
                         (Q.Q4_K, (3, 512)), (Q.Q6_K, (2, 256)),
                         (Q.Q5_0, (3, 64)), (Q.Q5_1, (2, 96)), (Q.Q2_K, (2, 512)), (Q.Q3_K, (3, 256)),
                         (Q.Q5_K, (2, 512)), (Q.IQ4_NL, (4, 32)), (Q.IQ4_XS, (2, 512))]:
        t[qtype.name.lower() + "." + "x".join(map(str, shape))] = (qtype, quantised(qtype, shape), shape)
    return t


def add_tensor(w, name, qtype, raw):
    """Adds one tensor's bytes exactly as given (no conversion by gguf-py)."""
    if qtype == Q.BF16 or qtype in SCALE_FIELDS:  # raw bytes; gguf-py derives the shape
        w.add_tensor(name, raw, raw_dtype=qtype)
    else:  # numpy dtype decides F32/F16/F64/I32/I8
        w.add_tensor(name, raw)


def write_metadata(w):
    """One key per value type, arrays of each element type, and an array of arrays."""
    w.add_uint8("test.u8", 200)
    w.add_int8("test.i8", -100)
    w.add_uint16("test.u16", 60000)
    w.add_int16("test.i16", -30000)
    w.add_uint32("test.u32", 4000000000)
    w.add_int32("test.i32", -2000000000)
    w.add_float32("test.f32", 0.1)
    w.add_uint64("test.u64", 2**63 + 5)
    w.add_int64("test.i64", -(2**62) - 3)
    w.add_float64("test.f64", 3.141592653589793)
    w.add_bool("test.bool_true", True)
    w.add_bool("test.bool_false", False)
    w.add_string("test.string", "h\u00e9llo w\u00f6rld \u2713")
    w.add_key_value("test.empty_string", "", GGUFValueType.STRING)  # add_string drops empty strings
    w.add_key_value("test.arr_u8", [1, 2, 255], GGUFValueType.ARRAY, GGUFValueType.UINT8)
    w.add_key_value("test.arr_i16", [-5, 0, 5], GGUFValueType.ARRAY, GGUFValueType.INT16)
    w.add_key_value("test.arr_u32", [7, 4000000000], GGUFValueType.ARRAY, GGUFValueType.UINT32)
    w.add_key_value("test.arr_i32", [-1, 0, 7], GGUFValueType.ARRAY, GGUFValueType.INT32)
    w.add_key_value("test.arr_u64", [2**64 - 1], GGUFValueType.ARRAY, GGUFValueType.UINT64)
    w.add_key_value("test.arr_i64", [-(2**63), 2**63 - 1], GGUFValueType.ARRAY, GGUFValueType.INT64)
    w.add_key_value("test.arr_f32", [0.5, -1.25, 0.1], GGUFValueType.ARRAY, GGUFValueType.FLOAT32)
    w.add_key_value("test.arr_f64", [0.1, -2.5e300], GGUFValueType.ARRAY, GGUFValueType.FLOAT64)
    w.add_key_value("test.arr_bool", [True, False, True], GGUFValueType.ARRAY, GGUFValueType.BOOL)
    w.add_array("test.arr_str", ["a", "", "\u00fcn\u00ef", "tab\there"])
    w.add_array("test.arr_nested", [[1, 2], [3]])  # ARRAY of ARRAY of INT32
    w.add_uint32("llama.block_count", 30)


def write_gguf(path, tensors, alignment=None):
    """A GGUF v3 file with `tensors`; the full metadata unless a custom alignment is asked for."""
    w = GGUFWriter(str(path), "xlens-test")
    if alignment is not None:
        w.add_custom_alignment(alignment)
    else:
        write_metadata(w)
    for name, (qtype, raw, _) in tensors.items():
        add_tensor(w, name, qtype, raw)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


def write_model_expectations(model, out):
    """gguf-py's float32 values for a few tensors of a real model file."""
    reader = GGUFReader(str(model))
    by_name = {t.name: t for t in reader.tensors}
    for name in MODEL_TENSORS:
        t = by_name[name]
        values = dequantize(np.asarray(t.data), t.tensor_type)
        if name == "token_embd.weight":
            values = values[:MODEL_EMBD_ROWS]
        np.ascontiguousarray(values, dtype=np.float32).tofile(out / ("model." + name + ".f32"))


def main():
    """Command line: TESTDATA [--model GGUF]."""
    ap = argparse.ArgumentParser(description="Write GGUF test fixtures and gguf-py's expected float32 values.")
    ap.add_argument("testdata", type=Path, help="the tests' $XLENS_TEST_DATA; files go to its gguf/")
    ap.add_argument("--model", type=Path, help="a real GGUF whose tensors to dump as references too")
    args = ap.parse_args()
    out = args.testdata / "gguf"
    out.mkdir(parents=True, exist_ok=True)
    tensors = make_tensors()
    write_gguf(out / "fixture.gguf", tensors)
    aligned = {"a64.q4_1": (Q.Q4_1, quantised(Q.Q4_1, (3, 32)), (3, 32)),
               "a64.f16": (Q.F16, random_bits(np.float16, (5,)), (5,))}
    write_gguf(out / "fixture_align64.gguf", aligned, alignment=64)

    for path, group in [(out / "fixture.gguf", tensors), (out / "fixture_align64.gguf", aligned)]:
        # Expected values come from what the file holds, as read back by gguf-py's own reader.
        reader = GGUFReader(str(path))
        for t in reader.tensors:
            qtype, raw, shape = group[t.name]
            assert tuple(int(d) for d in reversed(t.shape)) == tuple(shape), (t.name, t.shape, shape)
            assert t.data.tobytes() == raw.tobytes(), t.name
            if qtype in (Q.I32, Q.I8):
                continue
            data = np.asarray(t.data)
            values = data.astype(np.float32) if qtype == Q.F64 else dequantize(data, qtype)
            values = np.ascontiguousarray(values, dtype=np.float32)
            assert values.size == int(np.prod(shape)), t.name
            values.tofile(out / (t.name + ".f32"))
    if args.model is not None:
        write_model_expectations(args.model, out)
    print(f"wrote GGUF fixtures to {out}")


if __name__ == "__main__":
    main()
