"""Tokenizer parity: xlens against HF `tokenizers` on the same corpus, in the same run.

    compare_tokenizer.py --xlens BIN --model PATH --reference tokenizer.json --corpus CORPUS.bin

PATH is what xlens loads the tokenizer from (a .gguf, a tokenizer.json or a folder). For every
document, with and without special tokens added: identical ids; identical decode(ids); and
decode(encode(x)) == x wherever it holds for the reference. Ill-formed UTF-8 is given to HF as
Python's bytes.decode(errors="replace") (what a user would do); xlens gets the raw bytes.
Exit status 1 on any difference, with the first ones shown in context.
"""
import argparse
import os
import struct
import subprocess
import sys
import tempfile
import time

from tokenizers import Tokenizer


def read_records(path):
    with open(path, "rb") as f:
        data = f.read()
    out, at = [], 0
    while at < len(data):
        (n,) = struct.unpack_from("<I", data, at)
        out.append(data[at + 4:at + 4 + n])
        at += 4 + n
    return out


def run_xlens(args, extra):
    with tempfile.TemporaryDirectory() as tmp:
        decoded_path = os.path.join(tmp, "decoded.bin")
        start = time.perf_counter()
        proc = subprocess.run([args.xlens, "tokenize", args.model, "--batch", args.corpus, "--decoded", decoded_path] + extra,
                              capture_output=True, text=True, timeout=600)
        seconds = time.perf_counter() - start
        if proc.returncode != 0:
            sys.exit(f"xlens tokenize failed ({proc.returncode}): {proc.stderr}")
        ids = [[int(x) for x in line.split()] for line in proc.stdout.split("\n")[:-1]]
        decoded = read_records(decoded_path)
    return ids, decoded, seconds


def context(ours, theirs, tok):
    i = next((k for k in range(min(len(ours), len(theirs))) if ours[k] != theirs[k]), min(len(ours), len(theirs)))
    lo = max(0, i - 3)
    show = lambda ids: [(t, tok.id_to_token(t)) for t in ids[lo:i + 4]]
    return f"first difference at token {i}:\n      xlens {show(ours)}\n      HF    {show(theirs)}"


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--xlens", required=True)
    ap.add_argument("--model", required=True)
    ap.add_argument("--reference", required=True)
    ap.add_argument("--corpus", required=True)
    args = ap.parse_args(argv)
    tok = Tokenizer.from_file(args.reference)
    docs = read_records(args.corpus)
    texts = [d.decode("utf-8", errors="replace") for d in docs]
    total_bytes = sum(len(d) for d in docs)
    failures = 0
    for add_special, extra in ((True, []), (False, ["--no-special"])):
        ours, our_decoded, seconds = run_xlens(args, extra)
        start = time.perf_counter()
        theirs = [e.ids for e in tok.encode_batch(texts, add_special_tokens=add_special)]
        hf_seconds = time.perf_counter() - start
        if len(ours) != len(docs):
            sys.exit(f"xlens returned {len(ours)} documents for {len(docs)}")
        id_diffs = decode_diffs = round_trips = our_round_trips = tokens = 0
        for k, (text, o, t) in enumerate(zip(texts, ours, theirs)):
            tokens += len(t)
            if o != t:
                id_diffs += 1
                if id_diffs <= 5:
                    print(f"  doc {k} ({len(docs[k])} bytes, add_special={add_special}): {context(o, t, tok)}")
                continue
            reference_decoded = tok.decode(t, skip_special_tokens=False)
            if our_decoded[k].decode("utf-8") != reference_decoded:
                decode_diffs += 1
                if decode_diffs <= 5:
                    print(f"  doc {k}: decode differs: xlens {our_decoded[k][:80]!r} HF {reference_decoded[:80]!r}")
            if reference_decoded == text and not add_special:
                round_trips += 1
                our_round_trips += our_decoded[k].decode("utf-8") == text
        print(f"add_special_tokens={add_special}: {len(docs)} documents, {total_bytes} bytes, {tokens} tokens; "
              f"ids differ in {id_diffs}, decode differs in {decode_diffs}"
              + (f"; round trip holds for HF in {round_trips}, for xlens in {our_round_trips}" if not add_special else "")
              + f"; xlens {seconds:.2f} s (process), HF {hf_seconds:.2f} s (encode_batch)")
        failures += id_diffs + decode_diffs + (round_trips - our_round_trips)
    if failures:
        sys.exit(f"FAIL: {failures} differences")
    print("PASS: identical ids and decodes")


if __name__ == "__main__":
    main()
