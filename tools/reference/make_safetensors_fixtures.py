#!/usr/bin/env python3
"""Reference fixtures for xlens's safetensors and npy readers, written by the official libraries.

    make_safetensors_fixtures.py OUTDIR        write the fixtures the C++ tests read
    make_safetensors_fixtures.py --check PATH  check files the C++ tests wrote (PATH: a file, or
                                               OUTDIR to check every cpp_written* file in it)

The values are arange patterns so the C++ side can recompute them; keep both sides in step
(tests/test_safetensors.cpp, tests/test_npy.cpp). Needs numpy, safetensors and torch (for BF16/BOOL).
"""
import json
import os
import sys

import numpy as np


def write_fixtures(out):
    import torch
    from safetensors.numpy import save_file as save_numpy
    from safetensors.torch import save_file as save_torch

    os.makedirs(out, exist_ok=True)

    # Every dtype xlens reads. safetensors.torch is the writer people actually use, and the only
    # one that can store BF16.
    f16_values = torch.arange(6, dtype=torch.float32) * 0.5 - 1.0
    save_torch(
        {
            "f32_2d": torch.arange(12, dtype=torch.float32).reshape(3, 4) * 0.25 - 1.0,
            "f32_3d": torch.arange(24, dtype=torch.float32).reshape(2, 3, 4),
            "f32_scalar": torch.tensor(3.5, dtype=torch.float32),
            "f32_empty": torch.zeros((0, 4), dtype=torch.float32),
            "f64": torch.arange(5, dtype=torch.float64) / 4.0,
            "f16": f16_values.to(torch.float16),
            "bf16": (torch.arange(6, dtype=torch.float32).reshape(2, 3) - 2.5).to(torch.bfloat16),
            "i64": torch.tensor([-3, 0, 2**40, 7], dtype=torch.int64),
            "i32": torch.tensor([-1, 0, 2**30], dtype=torch.int32),
            "i16": torch.tensor([-300, 300], dtype=torch.int16),
            "i8": torch.tensor([-128, 5, 127], dtype=torch.int8),
            "u8": torch.arange(5, dtype=torch.uint8) * 50,
            "bool": torch.tensor([True, False, True, True]),
        },
        os.path.join(out, "all_dtypes.safetensors"),
        metadata={"format": "pt", "note": "xlens fixture"},
    )

    # A two-shard checkpoint laid out as transformers writes one.
    shard_dir = os.path.join(out, "sharded")
    os.makedirs(shard_dir, exist_ok=True)
    shards = {
        "model-00001-of-00002.safetensors": {
            "embed.weight": np.arange(8, dtype=np.float32).reshape(4, 2),
            "layers.0.weight": np.arange(6, dtype=np.float32).reshape(2, 3) + 100.0,
        },
        "model-00002-of-00002.safetensors": {
            "layers.1.weight": np.arange(6, dtype=np.float32).reshape(3, 2) + 200.0,
            "norm.weight": np.ones(2, dtype=np.float32),
        },
    }
    weight_map = {}
    total = 0
    for name, tensors in shards.items():
        save_numpy(tensors, os.path.join(shard_dir, name), metadata={"format": "np"})
        for key, value in tensors.items():
            weight_map[key] = name
            total += value.nbytes
    with open(os.path.join(shard_dir, "model.safetensors.index.json"), "w") as f:
        json.dump({"metadata": {"total_size": total}, "weight_map": weight_map}, f, indent=2)

    # .npy files written by numpy itself.
    npy_dir = os.path.join(out, "npy")
    os.makedirs(npy_dir, exist_ok=True)
    np.save(os.path.join(npy_dir, "f32_2d.npy"), np.arange(12, dtype=np.float32).reshape(3, 4) * 0.25 - 1.0)
    np.save(os.path.join(npy_dir, "f64_1d.npy"), np.arange(5, dtype=np.float64) / 4.0)
    np.save(os.path.join(npy_dir, "f16_1d.npy"), (np.arange(6, dtype=np.float32) * 0.5 - 1.0).astype(np.float16))
    np.save(os.path.join(npy_dir, "i32_2d.npy"), np.arange(6, dtype=np.int32).reshape(2, 3) - 3)
    np.save(os.path.join(npy_dir, "i64_1d.npy"), np.array([-3, 0, 2**40, 7], dtype=np.int64))
    np.save(os.path.join(npy_dir, "u8_1d.npy"), np.arange(5, dtype=np.uint8) * 50)
    np.save(os.path.join(npy_dir, "bool_1d.npy"), np.array([True, False, True]))
    np.save(os.path.join(npy_dir, "f32_scalar.npy"), np.float32(3.5))
    np.save(os.path.join(npy_dir, "f32_empty.npy"), np.zeros((0, 3), dtype=np.float32))
    np.save(os.path.join(npy_dir, "f32_fortran.npy"), np.asfortranarray(np.arange(6, dtype=np.float32).reshape(2, 3)))
    np.save(os.path.join(npy_dir, "f32_bigendian.npy"), np.arange(3, dtype=">f4"))
    with open(os.path.join(npy_dir, "f32_v2.npy"), "wb") as f:
        np.lib.format.write_array(f, np.arange(4, dtype=np.float32), version=(2, 0))
    print(f"fixtures written to {out}")


# What the C++ tests write (keep in step with write_* in tests/test_safetensors.cpp and test_npy.cpp).
def expected_safetensors():
    return {
        "f32": np.arange(6, dtype=np.float32).reshape(2, 3) * 0.5 - 1.0,
        "f64": np.array([0.1, -2.0], dtype=np.float64),
        "f16": (np.arange(4, dtype=np.float32) * 0.5).astype(np.float16),
        "i64": np.array([-5, 0, 2**40], dtype=np.int64),
        "i32": np.arange(4, dtype=np.int32).reshape(2, 2) - 1,
        "u8": np.array([0, 127, 255], dtype=np.uint8),
        "bool": np.array([True, False, True]),
        "scalar": np.array(2.25, dtype=np.float32),
        "empty": np.zeros((0, 2), dtype=np.float32),
    }


EXPECTED_NPY = {
    "cpp_written_f32.npy": lambda: np.arange(24, dtype=np.float32).reshape(2, 3, 4) * 0.5,
    "cpp_written_i64.npy": lambda: np.array([-5, 0, 2**40], dtype=np.int64),
    "cpp_written_i32.npy": lambda: np.arange(6, dtype=np.int32).reshape(3, 2) - 2,
    "cpp_written_v2.npy": lambda: np.arange(4, dtype=np.float32) + 0.5,
    "cpp_written_xarray.npy": lambda: np.array([[1.5, 2.5], [3.5, 4.5]], dtype=np.float64),
}


def same(a, b):
    return a.dtype == b.dtype and a.shape == b.shape and np.array_equal(a, b)


def check_file(path):
    base = os.path.basename(path)
    if base == "cpp_written.safetensors":
        from safetensors import safe_open
        from safetensors.numpy import load_file

        got = load_file(path)
        want = expected_safetensors()
        if set(got) != set(want):
            raise AssertionError(f"{path}: tensors {sorted(got)} != {sorted(want)}")
        for key, value in want.items():
            if not same(got[key], value):
                raise AssertionError(f"{path}: tensor {key} is {got[key]!r}, expected {value!r}")
        with safe_open(path, framework="np") as f:
            metadata = f.metadata()
        if metadata != {"writer": "xlens", "purpose": "round trip"}:
            raise AssertionError(f"{path}: metadata {metadata}")
        with open(path, "rb") as f:
            n = int.from_bytes(f.read(8), "little")
        if n % 8 != 0:
            raise AssertionError(f"{path}: header length {n} is not a multiple of 8")
    elif base in EXPECTED_NPY:
        got = np.load(path, allow_pickle=False)
        want = EXPECTED_NPY[base]()
        if not same(got, want):
            raise AssertionError(f"{path}: {got!r} ({got.dtype}) != {want!r} ({want.dtype})")
    else:
        raise AssertionError(f"{path}: no expectation for this file name")
    print(f"ok {path}")


def check(paths):
    files = []
    for p in paths:
        if os.path.isdir(p):
            for name in ["cpp_written.safetensors", *EXPECTED_NPY]:
                files.append(os.path.join(p, name))
        else:
            files.append(p)
    for f in files:
        if not os.path.exists(f):
            raise AssertionError(f"{f} is missing: run the C++ unit tests first (they write it)")
        check_file(f)


def main(argv):
    if len(argv) >= 3 and argv[1] == "--check":
        try:
            check(argv[2:])
        except AssertionError as e:
            print(f"FAIL: {e}", file=sys.stderr)
            return 1
        return 0
    if len(argv) == 2 and not argv[1].startswith("-"):
        write_fixtures(argv[1])
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
