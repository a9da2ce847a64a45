#!/usr/bin/env python3
"""Check `xlens dequantize` bit for bit against the gguf package's own dequantisation.

    check_gguf_dequant.py --xlens BIN --gguf FILE [--keep OUT.safetensors]

Runs `BIN dequantize FILE --safetensors OUT.safetensors`, which must write every GGUF tensor
dequantised to float32 under its GGUF name, in GGUF's stored layout: row-major with shape =
reversed ne, and NO un-permutation of the Q/K rows.  For every tensor the reference is
`gguf.quants.dequantize(tensor.data, tensor.tensor_type)` from gguf.GGUFReader (the
llama.cpp project's Python package), and the two must be BIT-identical (np.array_equal on
the uint32 views, so -0.0 vs 0.0 or a different NaN also count).

Prints per-type counts (tensors checked, mismatches) and, for a mismatch, how many elements
differ and by how many ulps.  Exit 1 on any mismatch, on a tensor missing from or extra in
the output, on a wrong dtype/shape, or on a tensor type the gguf package cannot dequantise
(it would go unchecked).
"""
import argparse
import collections
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from gguf import GGUFReader
from gguf.quants import dequantize
from safetensors import safe_open


def run_xlens(binary, gguf, out):
    cmd = [str(binary), "dequantize", str(gguf), "--safetensors", str(out)]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} exited {proc.returncode}\n{proc.stdout}{proc.stderr}")
    return time.perf_counter() - t0


def reference(tensor):
    """gguf's dequantisation, reshaped to row-major reversed ne (ne[0] is the fastest axis)."""
    shape = tuple(int(n) for n in reversed(tensor.shape.tolist()))
    values = np.asarray(dequantize(tensor.data, tensor.tensor_type))
    if values.dtype != np.float32:
        raise TypeError(f"gguf returned {values.dtype} for {tensor.tensor_type.name}")
    return values.reshape(shape)


def describe_mismatch(ref, got):
    """Number of differing elements and the largest distance in ulps (same-sign floats)."""
    r, g = ref.view(np.int32).astype(np.int64), got.view(np.int32).astype(np.int64)
    # Map the sign-magnitude float bits to a monotonic integer line so ulps are differences.
    r = np.where(r < 0, -(r & 0x7FFFFFFF), r)
    g = np.where(g < 0, -(g & 0x7FFFFFFF), g)
    diff = r != g
    first = np.unravel_index(np.argmax(diff), ref.shape)
    return (f"{int(diff.sum())} of {ref.size} elements differ, max {int(np.abs(r - g).max())} ulp, "
            f"max |delta| {float(np.abs(ref.astype(np.float64) - got).max()):.3g}; first at "
            f"{tuple(int(i) for i in first)}: xlens {bits(got[first])} vs gguf {bits(ref[first])}")


def bits(x):
    return f"{float(x):.9g} (0x{int(np.float32(x).view(np.uint32)):08x})"


def check(reader, out_path):
    """Compare every tensor; return (per-type Counter of checked, per-type Counter of bad,
    list of messages)."""
    checked, bad, messages = collections.Counter(), collections.Counter(), []
    with safe_open(str(out_path), framework="np") as out:
        names = set(out.keys())
        for tensor in reader.tensors:
            kind = tensor.tensor_type.name
            if tensor.name not in names:
                bad[kind] += 1
                messages.append(f"{tensor.name} ({kind}): missing from the output")
                continue
            names.discard(tensor.name)
            try:
                ref = reference(tensor)
            except (NotImplementedError, TypeError) as e:
                bad[kind] += 1
                messages.append(f"{tensor.name} ({kind}): cannot be checked: {e}")
                continue
            got = out.get_tensor(tensor.name)
            checked[kind] += 1
            if got.dtype != np.float32 or got.shape != ref.shape:
                bad[kind] += 1
                messages.append(f"{tensor.name} ({kind}): output is {got.dtype}{got.shape}, "
                                f"expected float32{ref.shape}")
            elif not np.array_equal(ref.view(np.uint32), got.view(np.uint32)):
                bad[kind] += 1
                messages.append(f"{tensor.name} ({kind}): {describe_mismatch(ref, got)}")
        for name in sorted(names):
            bad["(extra)"] += 1
            messages.append(f"{name}: in the output but not a tensor of the GGUF")
    return checked, bad, messages


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--xlens", required=True, type=Path, help="path of the built xlens program")
    ap.add_argument("--gguf", required=True, type=Path, help="GGUF model file")
    ap.add_argument("--keep", type=Path, help="write xlens's output here instead of a temp file")
    ap.add_argument("--max-messages", type=int, default=20, help="mismatch lines to print")
    args = ap.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="xlens_deq_") as tmp:
        out = args.keep or Path(tmp) / "dequantized.safetensors"
        try:
            xlens_s = run_xlens(args.xlens, args.gguf, out)
        except RuntimeError as e:
            print(f"FAIL: {e}")
            return 1
        t0 = time.perf_counter()
        reader = GGUFReader(str(args.gguf))
        checked, bad, messages = check(reader, out)
        ref_s = time.perf_counter() - t0

    print(f"{'type':10} {'checked':>8} {'mismatch':>9}")
    for kind in sorted(set(checked) | set(bad)):
        print(f"{kind:10} {checked[kind]:8d} {bad[kind]:9d}")
    for m in messages[:args.max_messages]:
        print(f"FAIL: {m}")
    if len(messages) > args.max_messages:
        print(f"... and {len(messages) - args.max_messages} more")
    if any(" ulp" in m for m in messages):
        print("hint: 1-ulp differences in Q4_1/Q4_K tensors usually mean a fused multiply-add: "
              "gguf rounds d*q, then adds m (compile that loop with -ffp-contract=off)")
    print(f"time: xlens dequantize {xlens_s:.2f} s (process), gguf reference + compare {ref_s:.2f} s")
    total = sum(checked.values())
    if messages:
        print(f"FAIL: {len(messages)} problem(s) in {len(reader.tensors)} tensors")
        return 1
    print(f"PASS: {total} tensors bit-identical")
    return 0


if __name__ == "__main__":
    sys.exit(main())
