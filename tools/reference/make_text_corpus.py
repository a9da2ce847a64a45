"""Writes a deterministic mixed-text corpus for tokenizer parity tests.

    make_text_corpus.py OUT.bin [--bytes 1200000] [--seed 0]

OUT.bin holds documents, each a little-endian uint32 byte length followed by the bytes (the format
`xlens tokenize --batch` reads). The mix: English prose and code taken from files on this machine
(Python's standard library, licence texts), words in many scripts, decomposed accents (for NFC),
emoji sequences, digit runs in several number systems, whitespace runs with every Unicode space,
contractions in odd cases, special-token look-alikes, and ill-formed UTF-8. Only characters
assigned in this Python's Unicode database are generated.
"""
import argparse
import glob
import os
import random
import struct
import sys
import sysconfig
import unicodedata

SCRIPTS = {  # name: code point ranges of letters
    "cyrillic": [(0x0410, 0x044F)], "greek": [(0x0391, 0x03C9)], "arabic": [(0x0621, 0x064A)],
    "hebrew": [(0x05D0, 0x05EA)], "devanagari": [(0x0905, 0x0939), (0x093E, 0x094D)],
    "thai": [(0x0E01, 0x0E3A)], "cjk": [(0x4E00, 0x9FA5)], "hiragana": [(0x3041, 0x3096)],
    "katakana": [(0x30A1, 0x30FA)], "hangul": [(0xAC00, 0xD7A3)], "georgian": [(0x10D0, 0x10FA)],
    "armenian": [(0x0531, 0x0556), (0x0561, 0x0586)], "ethiopic": [(0x1200, 0x1248)],
    "latin_ext": [(0x00C0, 0x024F)], "tamil": [(0x0B85, 0x0BB9)],
}
SPACES = [" ", "  ", "\t", "\n", "\r\n", "\n\n", "\u00a0", "\u2003", "\u3000", "\u180e", "\x0b", "\x0c",
          "\x1c", "\x1f", "\x85", "\u2028", "\u2029", "\u200b", "\u202f", "\u205f", "\u1680", "    \n"]
DIGITS = ["0123456789", "\u0660\u0661\u0662\u0663\u0664\u0665\u0666\u0667\u0668\u0669",
          "\u0966\u0967\u0968\u0969\u096a\u096b\u096c\u096d\u096e\u096f", "\uff10\uff11\uff12\uff13\uff14",
          "\u00b2\u00b3\u00b9\u00bc\u00bd\u2155\u2160\u2161\u2162"]
EMOJI = ["\U0001F600", "\U0001F44D\U0001F3FD", "\U0001F468\u200D\U0001F469\u200D\U0001F467", "\u2764\ufe0f",
         "\U0001F1EB\U0001F1F7", "\U0001F9D1\u200D\U0001F4BB", "\u263a", "\U0001F525\U0001F525", "\u2705"]
SPECIALS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|im_start", "<|foo|>", "<|begin_of_text|>",
            "<|im_start|>user\n", " <|im_end|> ", "<|endoftext|><|endoftext|>", "<repo_name>"]
CONTRACTIONS = ["it's", "IT'S", "we'LL", "they'Re", "I'm", "you'VE", "he'd", "'s", "''s", "rock'n'roll",
                "don\u2019t", "\u017f's"]
INVALID = [b"\xff", b"\xc0\x80", b"\xed\xa0\x80", b"\xe2\x82", b"\xf0\x9f\x98", b"\x80\x80", b"\xf5\x80\x80\x80",
           b"\xc3", b"\xe0\x80\xaf", b"\xf4\x90\x80\x80", b"a\xfe\xfeb"]


def assigned(c):
    return unicodedata.category(c) != "Cn"


def script_word(rng, ranges):
    out = []
    for _ in range(rng.randint(1, 9)):
        lo, hi = rng.choice(ranges)
        c = chr(rng.randint(lo, hi))
        if assigned(c):
            out.append(c)
    return "".join(out) or "x"


def decomposed_word(rng):
    base = "aeiouAEIOUnNcCsSzZyY"
    marks = [0x0300, 0x0301, 0x0302, 0x0303, 0x0308, 0x030A, 0x030C, 0x0323, 0x0327, 0x0328, 0x0331, 0x0345]
    s = []
    for _ in range(rng.randint(1, 6)):
        s.append(rng.choice(base))
        for _ in range(rng.choice([0, 1, 1, 2, 3])):
            s.append(chr(rng.choice(marks)))
    if rng.random() < 0.3:  # conjoining Hangul jamo compose into syllables under NFC
        s.append(chr(rng.randint(0x1100, 0x1112)) + chr(rng.randint(0x1161, 0x1175)))
    if rng.random() < 0.2:
        s.append(rng.choice(["\u212b", "\u2126", "\u0958", "\u1e9b\u0323", "\ufb01"]))
    return "".join(s)


def number(rng):
    digits = rng.choice(DIGITS)
    n = "".join(rng.choice(digits) for _ in range(rng.randint(1, 14)))
    return rng.choice([n, n + "." + n[:3], "-" + n, n + "%", "$" + n, n[:4] + "-" + n[:2], "1,234,567"])


def local_texts():
    """Prose and code that every machine with this Python has."""
    files = sorted(glob.glob(os.path.join(sysconfig.get_paths()["stdlib"], "*.py")))
    files += sorted(glob.glob("/usr/share/common-licenses/*"))
    texts = []
    for f in files:
        try:
            with open(f, "rb") as fh:
                data = fh.read(200_000)
            texts.append(data.decode("utf-8"))
        except (OSError, UnicodeDecodeError):
            continue
    if not texts:
        sys.exit("make_text_corpus: found no local text files")
    return texts


def mixed_document(rng, size):
    parts = []
    length = 0
    while length < size:
        kind = rng.random()
        if kind < 0.30:
            piece = script_word(rng, SCRIPTS[rng.choice(sorted(SCRIPTS))])
        elif kind < 0.40:
            piece = decomposed_word(rng)
        elif kind < 0.50:
            piece = number(rng)
        elif kind < 0.58:
            piece = rng.choice(EMOJI)
        elif kind < 0.66:
            piece = rng.choice(CONTRACTIONS)
        elif kind < 0.70:
            piece = rng.choice(SPECIALS)
        elif kind < 0.80:
            piece = "".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(rng.randint(1, 10)))
        else:
            piece = rng.choice("!?.,;:()[]{}<>\"'`~@#$%^&*-_=+/\\|\u2014\u00ab\u00bb\u3002\u300c")
        parts.append(piece)
        parts.append(rng.choice(SPACES) if rng.random() < 0.35 else " ")
        length += len(piece.encode()) + 1
    return "".join(parts).encode()


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out")
    ap.add_argument("--bytes", type=int, default=1_200_000)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    rng = random.Random(args.seed)
    texts = local_texts()
    docs, total = [], 0
    while total < args.bytes:
        r = rng.random()
        size = rng.choice([40, 200, 1000, 4000, 8000])
        if r < 0.45:  # a slice of real prose or code
            t = rng.choice(texts)
            start = rng.randint(0, max(0, len(t) - size))
            doc = t[start:start + size].encode()
        elif r < 0.9:
            doc = mixed_document(rng, size)
        else:  # ill-formed UTF-8 spliced into text
            doc = bytearray(mixed_document(rng, size))
            for _ in range(rng.randint(1, 5)):
                at = rng.randint(0, len(doc))
                doc[at:at] = rng.choice(INVALID)
            doc = bytes(doc)
        if rng.random() < 0.05:  # a long whitespace run
            doc += rng.choice([" ", "\n", "\t", "\u3000"]).encode() * rng.randint(50, 3000) + b"end"
        docs.append(doc)
        total += len(doc)
    docs.append(b"")  # the empty text
    with open(args.out, "wb") as f:
        for d in docs:
            f.write(struct.pack("<I", len(d)))
            f.write(d)
    print(f"make_text_corpus: {len(docs)} documents, {total} bytes -> {args.out}")


if __name__ == "__main__":
    main()
