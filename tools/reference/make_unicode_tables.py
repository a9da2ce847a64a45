#!/usr/bin/env python3
"""Writes include/xlens/text/unicode_tables.hpp, the data behind xlens/text/unicode_normalization.hpp.

usage: make_unicode_tables.py [OUT]        (OUT defaults to include/xlens/text/unicode_tables.hpp)

Everything comes from Python's own `unicodedata` (its Unicode version, unicodedata.unidata_version,
is written into the header), so the tables need no download and are reproducible: the same Python
rewrites an identical file. Tables, each sorted for binary search:
  ccc_ranges           [first, last] runs of one nonzero canonical combining class
  decompositions       code point -> slice of decomposition_data: its full canonical decomposition
                       (recursive, canonically ordered: NFD of the one character); Hangul syllables
                       are left out, the normalizer decomposes them algorithmically
  compositions         (first, second) -> primary composite: every canonical pair mapping whose
                       composite is not excluded from composition (Full_Composition_Exclusion:
                       singletons, non-starter decompositions, CompositionExclusions.txt); Hangul
                       LV / LVT are left out, composed algorithmically
  unstable_ranges      code points that are not "stable starters": characters with nonzero ccc,
                       NFC_Quick_Check=No (the character is not its own NFC), NFC_Quick_Check=Maybe
                       (it can combine with a preceding character), or whose decomposition starts
                       with such a character. Text from a stable starter up to the next unstable
                       character is already NFC and independent of what precedes it.
Python's unicodedata does not expose the exclusions or the quick-check property, so they are derived:
a decomposable character is a primary composite exactly when it is its own NFC.
"""
import argparse
import sys
import unicodedata
from pathlib import Path

MAX_CODE_POINT = 0x10FFFF
S_BASE, S_COUNT = 0xAC00, 11172                     # Hangul syllables, composed algorithmically
V_FIRST, V_LAST, T_FIRST, T_LAST = 0x1161, 0x1175, 0x11A8, 0x11C2  # jamo that combine with a preceding one

REPO = Path(__file__).resolve().parents[2]
DEFAULT_OUT = REPO / "include/xlens/text/unicode_tables.hpp"


def is_surrogate(cp):
    return 0xD800 <= cp <= 0xDFFF


def is_hangul_syllable(cp):
    return S_BASE <= cp < S_BASE + S_COUNT


def canonical_mapping(cp):
    """The one-step canonical decomposition mapping of cp as a list of code points, or None."""
    d = unicodedata.decomposition(chr(cp))
    if not d or d.startswith("<"):
        return None
    return [int(x, 16) for x in d.split()]


def full_decomposition(cp):
    """The recursive canonical decomposition of cp, not yet reordered."""
    m = canonical_mapping(cp)
    if m is None:
        return [cp]
    return [x for part in m for x in full_decomposition(part)]


def canonical_order(seq, ccc):
    """seq with each run of nonzero-ccc code points stably sorted by ccc."""
    out, run = [], []
    for cp in seq + [None]:
        if cp is not None and ccc[cp] != 0:
            run.append(cp)
            continue
        out.extend(sorted(run, key=lambda x: ccc[x]))
        run = []
        if cp is not None:
            out.append(cp)
    return out


def ranges(code_points):
    """Sorted code points -> [(first, last)] runs of consecutive values."""
    out = []
    for cp in code_points:
        if out and out[-1][1] + 1 == cp:
            out[-1][1] = cp
        else:
            out.append([cp, cp])
    return out


def build():
    code_points = [cp for cp in range(MAX_CODE_POINT + 1) if not is_surrogate(cp)]
    ccc = {cp: unicodedata.combining(chr(cp)) for cp in code_points}

    ccc_ranges = []  # [first, last, ccc]
    for cp in code_points:
        c = ccc[cp]
        if c == 0:
            continue
        if ccc_ranges and ccc_ranges[-1][1] + 1 == cp and ccc_ranges[-1][2] == c:
            ccc_ranges[-1][1] = cp
        else:
            ccc_ranges.append([cp, cp, c])

    decompositions = {}  # cp -> full decomposition, canonically ordered
    compositions = {}    # (first, second) -> composite
    for cp in code_points:
        if is_hangul_syllable(cp) or canonical_mapping(cp) is None:
            continue
        nfd = [ord(ch) for ch in unicodedata.normalize("NFD", chr(cp))]
        # The recursive mapping, stably sorted by ccc within runs of marks, must be what NFD gives.
        full = full_decomposition(cp)
        assert canonical_order(full, ccc) == nfd, hex(cp)
        assert not any(is_hangul_syllable(x) for x in nfd), hex(cp)
        decompositions[cp] = nfd
        m = canonical_mapping(cp)
        if len(m) == 2 and unicodedata.normalize("NFC", chr(cp)) == chr(cp):
            compositions[(m[0], m[1])] = cp

    seconds = {second for (_, second) in compositions}
    maybe = seconds | set(range(V_FIRST, V_LAST + 1)) | set(range(T_FIRST, T_LAST + 1))
    unstable = []
    for cp in code_points:
        ch = chr(cp)
        first = decompositions.get(cp, [cp])[0]
        if (ccc[cp] != 0 or unicodedata.normalize("NFC", ch) != ch or cp in maybe
                or ccc[first] != 0 or first in maybe):
            unstable.append(cp)
    return ccc_ranges, decompositions, compositions, unstable


def hex_list(values, indent="    ", width=110):
    """C++ initialiser lines of comma-separated items, wrapped at `width` columns."""
    lines, line = [], indent
    for v in values:
        item = v + ","
        if len(line) + len(item) + 1 > width and line.strip():
            lines.append(line.rstrip())
            line = indent
        line += item + " "
    if line.strip():
        lines.append(line.rstrip())
    return "\n".join(lines)


def render(ccc_ranges, decompositions, compositions, unstable):
    version = unicodedata.unidata_version
    data, entries = [], []
    for cp in sorted(decompositions):
        d = decompositions[cp]
        assert len(d) < 256 and len(data) < 65536
        entries.append(f"{{0x{cp:X},{len(data)},{len(d)}}}")
        data.extend(d)
    unstable_ranges = ranges(unstable)
    first_unstable = unstable[0]
    pairs = sorted(compositions.items())
    ccc_lines = hex_list(f"{{0x{a:X},0x{b:X},{c}}}" for a, b, c in ccc_ranges)
    decomposition_lines = hex_list(entries)
    data_lines = hex_list(f"0x{x:X}" for x in data)
    composition_lines = hex_list(f"{{0x{a:X},0x{b:X},0x{c:X}}}" for (a, b), c in pairs)
    unstable_lines = hex_list(f"{{0x{a:X},0x{b:X}}}" for a, b in unstable_ranges)
    return f"""// xlens/text/unicode_tables.hpp — Unicode {version} normalization data for xlens/text/unicode_normalization.hpp.
//
// generated by tools/reference/make_unicode_tables.py; do not edit.
// Source: Python {sys.version.split()[0]} unicodedata, unidata_version {version}. Every table is sorted by
// code point for binary search; see the generator's docstring for exactly how each one is derived.
#pragma once

#include <cstdint>

namespace xlens::text::detail {{

/// The Unicode version these tables describe.
inline constexpr char unicode_version[] = "{version}";

/// A run [first, last] of code points sharing one nonzero canonical combining class.
struct ccc_range {{
    char32_t first, last;
    std::uint8_t ccc;
}};

/// Every code point with ccc != 0, as {len(ccc_ranges)} runs; code points not listed have ccc 0.
inline constexpr ccc_range ccc_ranges[] = {{
{ccc_lines}
}};

/// A code point's full canonical decomposition: decomposition_data[offset, offset + length).
struct decomposition {{
    char32_t code_point;
    std::uint16_t offset;
    std::uint8_t length;
}};

/// The {len(entries)} canonically decomposable code points except Hangul syllables.
inline constexpr decomposition decompositions[] = {{
{decomposition_lines}
}};

/// The decompositions' code points ({len(data)}), recursive and canonically ordered.
inline constexpr char32_t decomposition_data[] = {{
{data_lines}
}};

/// (first, second) -> the primary composite they canonically compose to.
struct composition {{
    char32_t first, second, composite;
}};

/// The {len(pairs)} primary composites except Hangul syllables, sorted by (first, second).
inline constexpr composition compositions[] = {{
{composition_lines}
}};

/// A run [first, last] of code points.
struct code_point_range {{
    char32_t first, last;
}};

/// The smallest code point that is not a stable starter: everything below is left alone by NFC.
inline constexpr char32_t first_unstable = 0x{first_unstable:X};

/// Code points that are not stable starters ({len(unstable)} in {len(unstable_ranges)} runs): nonzero ccc,
/// NFC_Quick_Check No or Maybe, or a decomposition that starts with such a character.
inline constexpr code_point_range unstable_ranges[] = {{
{unstable_lines}
}};

}}  // namespace xlens::text::detail
"""


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", nargs="?", default=str(DEFAULT_OUT), help="header to write")
    args = parser.parse_args()
    tables = build()
    text = render(*tables)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text, encoding="utf-8")
    ccc_ranges, decompositions, compositions, unstable = tables
    print(f"{out}: Unicode {unicodedata.unidata_version}, {len(ccc_ranges)} ccc runs, "
          f"{len(decompositions)} decompositions, {len(compositions)} compositions, "
          f"{len(ranges(unstable))} unstable runs, {len(text.encode())} bytes")


if __name__ == "__main__":
    main()
