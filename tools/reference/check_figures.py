"""Check xlens SVG figures (xlens/report/lens_svg.hpp, attribution_svg.hpp, patching_svg.hpp) in headless Chromium.

usage: check_figures.py --svg FIG.svg [--svg FIG2.svg ...] [--screenshot-dir DIR] [--min-ink F] [--chromium BIN]

For each figure:
  - it parses as XML (xml.etree), its root is an SVG <svg> with a positive width and height, and it
    is self-contained: no <script> or <foreignObject>, no href or url() other than "#fragment", no
    @import;
  - Chromium loads it with no XML parse error (no <parsererror> in the dumped DOM) and logs no console
    message (a figure has no script, so any message is a problem);
  - a screenshot at the figure's own size is a PNG of that size whose share of non-white pixels is
    at least --min-ink (default 0.01) and at most 0.97 (neither blank nor flooded).
With --screenshot-dir, each screenshot is kept there as NAME.png (NAME: the figure's file name
without .svg). Standard library only (the PNG is decoded with zlib). Exit 1 with a message on any
failure.
"""
import argparse
import pathlib
import re
import shutil
import struct
import sys
import tempfile
import xml.etree.ElementTree as ET
import zlib

import headless_chromium
from headless_chromium import fail

MAX_SIDE = 4000  # larger figures are checked on their top-left 4000 x 4000 pixels
SVG_NS = "{http://www.w3.org/2000/svg}"


def run_chromium(chromium, extra, url):
    """Runs Chromium with a fresh profile; returns (stdout, stderr) as text."""
    return headless_chromium.run(chromium, ["--hide-scrollbars", "--enable-logging=stderr", "--v=0", *extra], url)


def check_xml(path):
    """Parses the figure; returns its (width, height) in pixels."""
    try:
        root = ET.parse(path).getroot()
    except ET.ParseError as e:
        fail("%s is not well-formed XML: %s" % (path, e))
    if root.tag != SVG_NS + "svg":
        fail("%s: the root element is %s, not an SVG <svg>" % (path, root.tag))
    try:
        width, height = float(root.get("width")), float(root.get("height"))
    except (TypeError, ValueError):
        fail("%s: the <svg> has no numeric width and height" % path)
    if not (width > 0 and height > 0):
        fail("%s: the <svg> is %s x %s" % (path, width, height))
    elements = 0
    for element in root.iter():
        elements += 1
        name = element.tag.replace(SVG_NS, "")
        if name in ("script", "foreignObject"):
            fail("%s: a figure must not contain <%s>" % (path, name))
        for key, value in element.attrib.items():
            if key.endswith("href") and not value.startswith("#"):
                fail("%s: <%s %s=%r> refers outside the file" % (path, name, key, value))
            if re.search(r"url\(\s*['\"]?(?!#)", value):
                fail("%s: <%s %s=%r> refers outside the file" % (path, name, key, value))
        if name == "style" and re.search(r"@import|url\(\s*['\"]?(?!#)", element.text or ""):
            fail("%s: its <style> refers outside the file" % path)
    print("%s: well-formed SVG, %g x %g, %d elements, self-contained" % (path, width, height, elements))
    return width, height


def check_loads(chromium, path):
    dom, log = run_chromium(chromium, ["--dump-dom"], path.as_uri())
    if "<parsererror" in dom:
        detail = re.sub(r"<[^>]+>", " ", dom[dom.find("<parsererror"):][:800])
        fail("%s: Chromium could not parse it:%s" % (path, " ".join(detail.split())))
    if not dom.lstrip().startswith("<svg"):
        fail("%s: Chromium's DOM does not start with <svg>: %r" % (path, dom[:200]))
    console = [line for line in log.splitlines() if ":CONSOLE" in line]
    if console:
        fail("%s: console messages:\n%s" % (path, "\n".join(console)))
    print("  loads in Chromium: no parse error, no console message")


def png_pixels(data):
    """(width, height, channels, rows) of an 8-bit non-interlaced grey/RGB/RGBA PNG; rows unfiltered."""
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        fail("the screenshot is not a PNG")
    at, idat, header = 8, [], None
    while at < len(data):
        length, kind = struct.unpack(">I4s", data[at:at + 8])
        body = data[at + 8:at + 8 + length]
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat.append(body)
        at += 12 + length
    width, height, depth, colour, _, _, interlace = header
    channels = {0: 1, 2: 3, 4: 2, 6: 4}.get(colour)
    if depth != 8 or channels is None or interlace:
        fail("unexpected PNG format (bit depth %d, colour type %d, interlace %d)" % (depth, colour, interlace))
    raw, stride, rows = zlib.decompress(b"".join(idat)), width * channels, []
    previous = bytearray(stride)
    for y in range(height):
        start = y * (stride + 1)
        kind, row = raw[start], bytearray(raw[start + 1:start + 1 + stride])
        if kind == 1:
            for i in range(channels, stride):
                row[i] = (row[i] + row[i - channels]) & 255
        elif kind == 2:
            row = bytearray((a + b) & 255 for a, b in zip(row, previous))
        elif kind == 3:
            for i in range(stride):
                left = row[i - channels] if i >= channels else 0
                row[i] = (row[i] + ((left + previous[i]) >> 1)) & 255
        elif kind == 4:
            for i in range(stride):
                a = row[i - channels] if i >= channels else 0
                b, c = previous[i], previous[i - channels] if i >= channels else 0
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                row[i] = (row[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        rows.append(row)
        previous = row
    return width, height, channels, rows


def ink_share(width, height, channels, rows):
    """The share of pixels that are not (near) white, alpha ignored."""
    colour = min(channels, 3)
    ink = 0
    for row in rows:
        for x in range(0, width * channels, channels):
            if min(row[x:x + colour]) < 245:
                ink += 1
    return ink / float(width * height)


def check_screenshot(chromium, path, size, out, min_ink, kept):
    width, height = (min(MAX_SIDE, int(-(-s // 1))) for s in size)
    if out.exists():
        out.unlink()
    run_chromium(chromium, ["--screenshot=" + str(out), "--window-size=%d,%d" % (width, height)], path.as_uri())
    if not out.is_file():
        fail("%s: chromium wrote no screenshot to %s" % (path, out))
    w, h, channels, rows = png_pixels(out.read_bytes())
    if (w, h) != (width, height):
        fail("%s: the screenshot is %d x %d, expected the figure's %d x %d" % (path, w, h, width, height))
    share = ink_share(w, h, channels, rows)
    if share < min_ink:
        fail("%s: only %.2f%% of the screenshot is not white: the figure looks blank" % (path, 100 * share))
    if share > 0.97:
        fail("%s: %.2f%% of the screenshot is not white: the figure looks flooded" % (path, 100 * share))
    print("  screenshot %dx%d, %.1f%% non-white pixels%s" % (w, h, 100 * share, ", kept as %s" % out if kept else ""))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--svg", action="append", required=True, help="a figure to check (repeatable)")
    ap.add_argument("--screenshot-dir", help="keep each screenshot here as NAME.png")
    ap.add_argument("--min-ink", type=float, default=0.01, help="least share of non-white pixels (default 0.01)")
    ap.add_argument("--chromium", default="/usr/bin/chromium")
    args = ap.parse_args()
    chromium = shutil.which(args.chromium) or fail("chromium not found: %s" % args.chromium)
    keep = pathlib.Path(args.screenshot_dir).resolve() if args.screenshot_dir else None
    if keep:
        keep.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="xlens-figures-") as scratch:
        for name in args.svg:
            path = pathlib.Path(name).resolve()
            if not path.is_file():
                fail("no such figure: %s" % path)
            size = check_xml(path)
            check_loads(chromium, path)
            check_screenshot(chromium, path, size, (keep or pathlib.Path(scratch)) / (path.stem + ".png"), args.min_ink,
                             keep is not None)
    print("OK: %d figure%s" % (len(args.svg), "" if len(args.svg) == 1 else "s"))


if __name__ == "__main__":
    main()
