"""Check an xlens attention-head roles page (xlens/report/heads_html.hpp) in headless Chromium.

usage: check_heads_report.py --html PAGE.html [--screenshot OUT.png] [--expect-heads N] [--chromium BIN]

Loads the page twice with --dump-dom (as is, then with #head=L{last}H{last}) and checks the rendered DOM:
  - <body data-rendered="yes"> (the script ran to the end) and an empty #script-errors element;
  - the embedded report (#heads-data) has schema "xlens.heads/1" and layers x heads roles, N of them
    (--expect-heads N);
  - N head-map cells (.head-cell) whose data-layer/data-head run over every head in layer-major order,
    N rows of the roles table (.role-row) and N points in the scatter (.head-point);
  - as is: the head with the highest induction_attainable is selected (#selected-head, and exactly one
    selected map cell, table row and point, all that head); with the fragment: the last head is;
  - the attention heatmap (#pattern) is the selected head's, with one .pattern-cell per causal entry of
    its pattern in the embedded data: T (T + 1) / 2 for the example's T tokens (or none, with a note,
    when the report has no patterns).
With --screenshot, renders the page at 1280x1400 into OUT and checks it is a PNG of that size that is
neither blank nor flooded (share of non-white pixels) and shows each role's colour in the head map.
Standard library only. Exit 1 with a message on any failure.
"""
import argparse
import json
import pathlib
import shutil
from html.parser import HTMLParser

import headless_chromium
from check_figures import ink_share, png_pixels
from headless_chromium import fail

# The page's colour per role (heads_html.hpp, ROLE_COLOUR), as RGB.
ROLE_COLOUR = {"previous_token": "3b6fd1", "induction": "d6382f", "duplicate_token": "8e5cc9",
               "first_token": "ee8a1c", "self": "2f9e44", "local": "14a3b8", "diffuse": "b4b8c0"}
SCREEN = (1280, 1400)


class Dom(HTMLParser):
    """The few things the checks need from a dumped DOM."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.body_attrs = None
        self.attrs_of = {}           # element id -> attributes
        self.text_of = {}            # element id -> text inside it
        self.by_class = {}           # class -> list of attribute dicts
        self._stack = []             # (tag, id) of open elements
        self._open_ids = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "body":
            self.body_attrs = a
        for c in (a.get("class") or "").split():
            self.by_class.setdefault(c, []).append(a)
        if a.get("id"):
            self.attrs_of[a["id"]] = a
            self.text_of.setdefault(a["id"], "")
        if tag in ("br", "meta", "link", "img", "input", "hr"):
            return
        self._stack.append(tag)
        self._open_ids.append(a.get("id"))

    def handle_startendtag(self, tag, attrs):  # <rect .../> and the like: no text inside
        self.handle_starttag(tag, attrs)
        self.handle_endtag(tag)

    def handle_endtag(self, tag):
        while self._stack:
            open_tag = self._stack.pop()
            self._open_ids.pop()
            if open_tag == tag:
                break

    def handle_data(self, data):
        for element_id in self._open_ids:
            if element_id:
                self.text_of[element_id] += data

    def of_class(self, name):
        return self.by_class.get(name, [])


def head_of(attrs):
    return (int(attrs.get("data-layer", -1)), int(attrs.get("data-head", -1)))


def load(chromium, page, fragment=""):
    url = page.as_uri() + fragment
    dom = Dom()
    dom.feed(headless_chromium.run(chromium, ["--virtual-time-budget=5000", "--dump-dom"], url)[0])
    print("loaded %s" % url)
    if dom.body_attrs is None:
        fail("%s: the dumped DOM has no <body>" % url)
    errors = dom.text_of.get("script-errors")
    if errors is None:
        fail("%s: no #script-errors element" % url)
    if errors.strip():
        fail("%s: the page reported script errors:\n%s" % (url, errors.strip()))
    if dom.body_attrs.get("data-rendered") != "yes":
        fail('%s: <body> lacks data-rendered="yes" (rendering did not finish)' % url)
    print('  body data-rendered="yes", #script-errors empty')
    return dom


def embedded_report(dom, expect):
    report = json.loads(dom.text_of.get("heads-data") or "null")
    if not isinstance(report, dict) or report.get("schema") != "xlens.heads/1":
        fail('the page embeds no heads report (#heads-data with schema "xlens.heads/1")')
    heads = [(l, h) for l in range(report["layers"]) for h in range(report["heads"])]
    if [(r["layer"], r["head"]) for r in report["roles"]] != heads:
        fail("the report's roles are not its %d x %d heads in layer-major order" % (report["layers"], report["heads"]))
    if expect is not None and len(heads) != expect:
        fail("expected %d heads, the report has %d" % (expect, len(heads)))
    return report, heads


def check_views(dom, heads):
    cells = dom.of_class("head-cell")
    if [head_of(a) for a in cells] != heads:
        fail("the head map has %d cells, expected one per head (%d) in layer-major order" % (len(cells), len(heads)))
    for name, what in (("role-row", "roles-table rows"), ("head-point", "scatter points")):
        if len(dom.of_class(name)) != len(heads):
            fail("found %d %s, expected %d" % (len(dom.of_class(name)), what, len(heads)))
    print("  %d map cells, %d table rows, %d scatter points" % (len(heads), len(heads), len(heads)))


def check_selected(dom, report, heads, wanted):
    i = heads.index(wanted)
    label = "L%dH%d" % wanted
    shown = dom.text_of.get("selected-head", "").strip()
    if shown != label or head_of(dom.attrs_of["selected-head"]) != wanted:
        fail("#selected-head shows %r, expected %s" % (shown, label))
    for name in ("head-cell", "role-row", "head-point"):
        selected = [a for a in dom.of_class(name) if "selected" in (a.get("class") or "").split()]
        indices = [a.get("data-index") for a in selected]
        if indices != [str(i)]:
            fail("selected .%s elements have data-index %s, expected only %d" % (name, indices, i))
    pattern = dom.attrs_of.get("pattern")
    if pattern is None or head_of(pattern) != wanted:
        fail("the heatmap #pattern is not the selected head's (%s)" % (pattern and head_of(pattern),))
    example = report.get("example") or {}
    patterns = example.get("patterns")
    cells = len(dom.of_class("pattern-cell"))
    if patterns is None:
        if cells or not dom.text_of.get("pattern-note", "").strip():
            fail("a report without patterns should show no heatmap cells and a note")
        print("  %s selected; no patterns in the report, a note instead of the heatmap" % label)
        return
    rows = patterns[wanted[0]][wanted[1]]
    T = len(example["tokens"])
    if len(rows) != T or [len(r) for r in rows] != list(range(1, T + 1)):
        fail("the embedded pattern of %s is not causal T x T for the example's %d tokens" % (label, T))
    if cells != T * (T + 1) // 2:
        fail("the heatmap has %d cells, expected T (T + 1) / 2 = %d for T = %d" % (cells, T * (T + 1) // 2, T))
    print("  %s selected everywhere; heatmap with %d cells (T = %d)" % (label, cells, T))


def check_screenshot(chromium, page, out, report):
    out = pathlib.Path(out).resolve()
    if out.exists():
        out.unlink()
    headless_chromium.run(chromium, ["--hide-scrollbars", "--screenshot=" + str(out), "--window-size=%d,%d" % SCREEN],
                          page.as_uri())
    if not out.is_file():
        fail("chromium wrote no screenshot to %s" % out)
    width, height, channels, rows = png_pixels(out.read_bytes())
    if (width, height) != SCREEN:
        fail("the screenshot is %d x %d, expected %d x %d" % (width, height, *SCREEN))
    share = ink_share(width, height, channels, rows)
    if not 0.02 <= share <= 0.97:
        looks = "blank" if share < 0.02 else "flooded"
        fail("%.1f%% of the screenshot is not white: the page looks %s" % (100 * share, looks))
    seen = {}
    wanted = {bytes.fromhex(ROLE_COLOUR[r["role"]]): r["role"] for r in report["roles"] if r["role"] in ROLE_COLOUR}
    for row in rows:
        for x in range(0, width * channels, channels):
            rgb = bytes(row[x:x + 3])
            if rgb in wanted:
                seen[rgb] = seen.get(rgb, 0) + 1
    missing = [role for rgb, role in wanted.items() if seen.get(rgb, 0) < 50]
    if missing:
        fail("the screenshot hardly shows the colour of role(s) %s: is the head map drawn?" % ", ".join(missing))
    print("screenshot %s: %dx%d, %.1f%% non-white, the colours of all %d roles present seen"
          % (out, width, height, 100 * share, len(wanted)))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--html", required=True)
    ap.add_argument("--screenshot")
    ap.add_argument("--expect-heads", type=int)
    ap.add_argument("--chromium", default="/usr/bin/chromium")
    args = ap.parse_args()
    page = pathlib.Path(args.html).resolve()
    if not page.is_file():
        fail("no such page: %s" % page)
    chromium = shutil.which(args.chromium) or fail("chromium not found: %s" % args.chromium)

    dom = load(chromium, page)
    report, heads = embedded_report(dom, args.expect_heads)
    check_views(dom, heads)
    attainable = [r["scores"].get("induction_attainable") or 0 for r in report["roles"]]
    strongest = attainable.index(max(attainable))  # as the page chooses: the first head of highest induction_attainable
    check_selected(dom, report, heads, heads[strongest])

    dom = load(chromium, page, "#head=L%dH%d" % heads[-1])
    check_views(dom, heads)
    check_selected(dom, report, heads, heads[-1])

    if args.screenshot:
        check_screenshot(chromium, page, args.screenshot, report)
    print("OK: %s" % page)


if __name__ == "__main__":
    main()
