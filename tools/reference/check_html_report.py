"""Check an xlens probe HTML page (xlens/report/probe_html.hpp) in headless Chromium.

usage: check_html_report.py --html PAGE.html [--screenshot OUT.png] [--expect-tokens N] [--chromium BIN]

Loads the page twice with --dump-dom (as is, then with #step=0) and checks the rendered DOM:
  - <body data-rendered="yes"> (the script ran to the end) and an empty #script-errors element;
  - N elements of class "token" (--expect-tokens N), else at least one, one per step of the embedded data;
  - as is: the last prompt token is selected (#selected-step, the chip with class "selected");
  - with #step=0: step 0 is selected, and its logit-lens table has one row per layer plus the output
    row, with top_k cells each; the attention grid has n_layers x n_heads cells.
With --screenshot, renders the page at 1280x1000 into OUT and checks it is a PNG of more than 10 KB.
Standard library only. Exit 1 with a message on any failure.
"""
import argparse
import json
import pathlib
import shutil
import struct
import sys
from html.parser import HTMLParser

import headless_chromium
from headless_chromium import fail


def run_chromium(chromium, extra, url):
    """Runs Chromium with a fresh profile; returns its stdout (text)."""
    return headless_chromium.run(chromium, ["--virtual-time-budget=5000", *extra], url)[0]


class Dom(HTMLParser):
    """The few things the checks need from a dumped DOM."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.body_attrs = None
        self.tokens = []             # attribute dicts of class="token" elements
        self.text_of = {}            # element id -> text inside it
        self.lens_rows = []          # cell count of each <tr> in #lens-table's body
        self.attention_cells = 0
        self._stack = []             # (tag, id, table id) of open elements
        self._open_ids = []          # ids currently open, collecting text
        self._table = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        classes = (a.get("class") or "").split()
        if tag == "body":
            self.body_attrs = a
        if "token" in classes:
            self.tokens.append(a)
        if tag == "table" and a.get("id"):
            self._table = a["id"]
        if self._table == "lens-table" and tag == "tr" and ("layer-row" in classes or "output-row" in classes):
            self.lens_rows.append(0)
        if self._table == "lens-table" and tag == "td" and self.lens_rows:
            self.lens_rows[-1] += 1
        if self._table == "attention-grid" and tag == "td":
            self.attention_cells += 1
        if tag in ("br", "meta", "link", "img", "input", "hr"):
            return
        self._stack.append(tag)
        self._open_ids.append(a.get("id"))
        if a.get("id"):
            self.text_of.setdefault(a["id"], "")

    def handle_endtag(self, tag):
        if tag == "table":
            self._table = None
        while self._stack:
            open_tag = self._stack.pop()
            self._open_ids.pop()
            if open_tag == tag:
                break

    def handle_data(self, data):
        for element_id in self._open_ids:
            if element_id:
                self.text_of[element_id] += data


def load(chromium, page, fragment=""):
    url = page.as_uri() + fragment
    dom = Dom()
    dom.feed(run_chromium(chromium, ["--dump-dom"], url))
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


def check_tokens(dom, probe, expect):
    steps = probe["steps"]
    if expect is not None and len(dom.tokens) != expect:
        fail("expected %d token chips, found %d" % (expect, len(dom.tokens)))
    if len(dom.tokens) < 1 or len(dom.tokens) != len(steps):
        fail("found %d token chips for %d steps in the embedded data" % (len(dom.tokens), len(steps)))
    if [t.get("data-step") for t in dom.tokens] != [str(k) for k in range(len(steps))]:
        fail("token chips do not carry data-step 0..%d in order" % (len(steps) - 1))
    print("  %d token chips with data-step 0..%d" % (len(dom.tokens), len(steps) - 1))


def check_selected(dom, step):
    shown = dom.text_of.get("selected-step", "").strip()
    if shown != str(step):
        fail("#selected-step shows %r, expected %d" % (shown, step))
    selected = [t.get("data-step") for t in dom.tokens if "selected" in (t.get("class") or "").split()]
    if selected != [str(step)]:
        fail("selected token chips are %s, expected only step %d" % (selected, step))
    print("  step %d selected" % step)


def check_panels(dom, probe):
    n_layers, n_heads, top_k = probe["n_layers"], probe["n_heads"], probe["top_k"]
    if len(dom.lens_rows) != n_layers + 1:
        fail("the logit-lens table has %d rows, expected %d layers + the output row" % (len(dom.lens_rows), n_layers))
    short = [i for i, cells in enumerate(dom.lens_rows) if cells != top_k]
    if short:
        fail("logit-lens rows %s do not have %d cells" % (short, top_k))
    if dom.attention_cells != n_layers * n_heads:
        fail("the attention grid has %d cells, expected %d x %d" % (dom.attention_cells, n_layers, n_heads))
    print("  logit-lens table %d x %d, attention grid %d x %d" % (n_layers + 1, top_k, n_layers, n_heads))


def check_screenshot(chromium, page, out):
    out = pathlib.Path(out).resolve()
    if out.exists():
        out.unlink()
    run_chromium(chromium, ["--screenshot=" + str(out), "--window-size=1280,1000"], page.as_uri())
    if not out.is_file():
        fail("chromium wrote no screenshot to %s" % out)
    data = out.read_bytes()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        fail("%s is not a PNG" % out)
    width, height = struct.unpack(">II", data[16:24])
    if len(data) <= 10 * 1024:
        fail("%s is only %d bytes: the page looks blank" % (out, len(data)))
    print("screenshot %s: %dx%d PNG, %d bytes" % (out, width, height, len(data)))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--html", required=True)
    ap.add_argument("--screenshot")
    ap.add_argument("--expect-tokens", type=int)
    ap.add_argument("--chromium", default="/usr/bin/chromium")
    args = ap.parse_args()
    page = pathlib.Path(args.html).resolve()
    if not page.is_file():
        fail("no such page: %s" % page)
    chromium = shutil.which(args.chromium) or fail("chromium not found: %s" % args.chromium)

    dom = load(chromium, page)
    probe = json.loads(dom.text_of.get("probe-data") or "null")
    if not isinstance(probe, dict) or probe.get("xlens_probe") != 1:
        fail("the page embeds no xlens probe (#probe-data)")
    check_tokens(dom, probe, args.expect_tokens)
    prompt_steps = [k for k, s in enumerate(probe["steps"]) if s.get("source") == "prompt"]
    check_selected(dom, prompt_steps[-1] if prompt_steps else len(probe["steps"]) - 1)
    check_panels(dom, probe)

    dom = load(chromium, page, "#step=0")
    check_tokens(dom, probe, args.expect_tokens)
    check_selected(dom, 0)
    check_panels(dom, probe)

    if args.screenshot:
        check_screenshot(chromium, page, args.screenshot)
    print("OK: %s" % page)


if __name__ == "__main__":
    main()
