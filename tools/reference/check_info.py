"""Check `xlens info --json` against the reference readers and transformers.

usage: check_info.py --xlens BIN --model PATH

For an HF folder: every tensor (name, dtype, shape, bytes) must match what `safetensors.safe_open`
reports across all shards, and the parameter total must equal transformers' num_parameters().
For a .gguf: every tensor (name, type, row-major shape) must match gguf.GGUFReader, and the total
must equal num_parameters() of transformers' model loaded from the same GGUF.
Exit 1 on any difference.
"""
import argparse
import glob
import json
import os
import subprocess
import sys

import numpy as np


def reference_tensors_safetensors(folder):
    from safetensors import safe_open
    out = {}
    for path in sorted(glob.glob(os.path.join(folder, "*.safetensors"))):
        with safe_open(path, framework="pt") as f:
            for name in f.keys():
                sl = f.get_slice(name)
                dtype = sl.get_dtype()
                shape = list(sl.get_shape())
                itemsize = {"F32": 4, "F16": 2, "BF16": 2, "F64": 8, "I64": 8, "I32": 4, "I16": 2, "I8": 1, "U8": 1, "BOOL": 1}[dtype]
                out[name] = (dtype, shape, int(np.prod(shape, dtype=np.int64)) * itemsize)
    return out


def reference_tensors_gguf(path):
    import gguf
    reader = gguf.GGUFReader(path)
    return {t.name: (t.tensor_type.name, [int(d) for d in reversed(t.shape)], int(t.n_bytes)) for t in reader.tensors}


def reference_parameter_count(path):
    import torch
    from transformers import AutoModelForCausalLM
    from transformers.utils import logging
    logging.disable_progress_bar()
    logging.set_verbosity_error()
    if path.endswith(".gguf"):
        model = AutoModelForCausalLM.from_pretrained(os.path.dirname(path), gguf_file=os.path.basename(path), dtype=torch.float32)
    else:
        model = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32)
    return model.num_parameters()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--xlens", required=True)
    ap.add_argument("--model", required=True)
    args = ap.parse_args()

    info = json.loads(subprocess.run([args.xlens, "info", args.model, "--json"], check=True, capture_output=True, text=True).stdout)
    got = {t["name"]: (t["dtype"], t["shape"], t["bytes"]) for t in info["tensors"]}
    expected = reference_tensors_gguf(args.model) if args.model.endswith(".gguf") else reference_tensors_safetensors(args.model)
    failures = []
    for name in sorted(set(got) | set(expected)):
        if got.get(name) != expected.get(name):
            failures.append(f"tensor {name}: xlens {got.get(name)} reference {expected.get(name)}")
    total = info["parameters"]["total"]
    reference_total = reference_parameter_count(args.model)
    if total != reference_total:
        failures.append(f"parameter total: xlens {total} transformers {reference_total}")
    print(f"{args.model}: {len(got)} tensors, {total} parameters (transformers: {reference_total})")
    for f in failures:
        print("FAIL:", f)
    if failures:
        sys.exit(1)
    print("PASS")


if __name__ == "__main__":
    main()
