#!/usr/bin/env python3
"""Extract every ```cpp block of README.md and docs/*.md into ONE C++ translation unit.

    python3 tools/doc_snippets.py --root . --out doc_snippets.cpp   # write the TU, print counts
    python3 tools/doc_snippets.py --root . --list                   # one line per snippet (for CMake)
    python3 tools/doc_snippets.py --root . --count                  # the number of snippets

Fence info strings (GitHub renders all of them as C++; docs/README.md has the convention):

    ```cpp                 compiled and run: statements (a function body) or a whole program (int main)
    ```cpp continued       continues the previous ```cpp block of the same page: same scope, its
                           variables in view; running it runs the page's blocks up to it
    ```cpp compile-only    compiled, never run (needs something the tests cannot provide)

Tags combine (```cpp continued compile-only). A block after a compile-only block it continues is
compile-only too. Any other tag is an error, so a typo cannot silently turn a test off.
Standard library only: it runs with the system python3.
"""
import argparse
import pathlib
import re
import sys

KNOWN_TAGS = {"continued", "compile-only"}
FENCE = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>`{3,})(?P<info>[^`]*)$")
INCLUDE = re.compile(r"^\s*#\s*include\s*[<\"][^>\"]+[>\"]\s*(//.*)?$")
MAIN = re.compile(r"\bint\s+main\s*\(")


class Snippet:
    def __init__(self, path, rel, line, tags, code):
        self.path = path          # absolute path of the page
        self.rel = rel            # e.g. docs/analysis.md
        self.line = line          # line of the opening fence (1-based)
        self.tags = tags
        self.code = code          # list of lines (without the fences)
        self.first_code_line = line + 1
        stem = pathlib.PurePosixPath(rel).stem.lower()
        stem = re.sub(r"[^a-z0-9]+", "_", stem).strip("_")
        self.slug = f"{stem}_{line}"
        self.continued = "continued" in tags
        self.compile_only = "compile-only" in tags
        self.is_program = any(MAIN.search(l) for l in code)
        self.chain = None         # index of its chain
        self.part = 0             # position in the chain


def pages(root):
    found = []
    readme = root / "README.md"
    if readme.exists():
        found.append(readme)
    found += sorted((root / "docs").glob("*.md"))
    return found


def extract(root):
    snippets, errors = [], []
    for path in pages(root):
        rel = path.relative_to(root).as_posix()
        lines = path.read_text(encoding="utf-8").split("\n")
        i = 0
        while i < len(lines):
            m = FENCE.match(lines[i])
            if not m:
                i += 1
                continue
            fence, info, indent = m.group("fence"), m.group("info").strip(), len(m.group("indent"))
            start = i
            i += 1
            body = []
            while i < len(lines):
                close = FENCE.match(lines[i])
                if close and close.group("fence").startswith(fence) and not close.group("info").strip():
                    break
                body.append(lines[i][indent:] if lines[i][:indent].strip() == "" else lines[i])
                i += 1
            else:
                errors.append(f"{rel}:{start + 1}: unclosed code fence")
            i += 1
            words = info.split()
            if not words or words[0] != "cpp":
                continue
            tags = words[1:]
            unknown = [t for t in tags if t not in KNOWN_TAGS]
            if unknown:
                errors.append(f"{rel}:{start + 1}: unknown ```cpp tag(s) {' '.join(unknown)} "
                              f"(known: {', '.join(sorted(KNOWN_TAGS))}; see docs/README.md)")
            snippets.append(Snippet(path, rel, start + 1, tags, body))
    # Chains: a continued block joins the previous block of the same page.
    chains = []
    for s in snippets:
        if s.continued:
            prev = chains[-1][-1] if chains else None
            if prev is None or prev.rel != s.rel:
                errors.append(f"{s.rel}:{s.line}: ```cpp continued, but no earlier ```cpp block on this page")
                chains.append([s])
            elif s.is_program or prev.is_program:
                errors.append(f"{s.rel}:{s.line}: a whole program (int main) cannot be continued or continue another block")
                chains[-1].append(s)
            else:
                chains[-1].append(s)
        else:
            chains.append([s])
    for c, chain in enumerate(chains):
        runnable = True
        for p, s in enumerate(chain):
            s.chain, s.part = c, p
            runnable = runnable and not s.compile_only
            s.runnable = runnable
    return snippets, chains, errors


def c_string(text):
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def generate(snippets, chains):
    includes = []
    for s in snippets:
        for l in s.code:
            if INCLUDE.match(l):
                inc = l.split("//")[0].strip()
                if inc not in includes:
                    includes.append(inc)
    out = [
        "// Generated by tools/doc_snippets.py from README.md and docs/*.md: do not edit.",
        "// Every ```cpp block of the documentation, one namespace per block (a block continued by a",
        "// later one shares its function). Run with no argument to list them, or with a name to run one.",
        "#undef NDEBUG  // assert() in a snippet is a check the tests make",
        "#include <cassert>",
        "#include <cstdio>",
        "#include <cstring>",
        "#include <exception>",
        "#include <iostream>",
        "#include <string>",
        "#include <vector>",
        "#include <xlens/xlens.hpp>",
    ]
    out += includes
    out.append("")

    def code_lines(s):
        body = []
        for n, l in enumerate(s.code):
            if INCLUDE.match(l):
                body.append("")  # hoisted; keep the line numbering
            else:
                body.append(l)
        return [f'#line {s.first_code_line} {c_string(str(s.path))}'] + body

    for c, chain in enumerate(chains):
        head = chain[0]
        out.append(f"namespace doc_snippet_{c} {{  // {head.rel}:{head.line}" +
                   (f" (+ {len(chain) - 1} continued)" if len(chain) > 1 else ""))
        if head.is_program:
            prog = [MAIN.sub("int snippet_main(", l) for l in code_lines(head)]
            out += prog
            out.append("#line %d \"doc_snippets.cpp\"" % (len(out) + 2))
            out.append("int run(int, char** argv) { char* args[] = {argv[0], nullptr}; return snippet_main(1, args); }")
            uses_args = any(re.search(r"\bint\s+main\s*\(\s*int", l) for l in head.code)
            if not uses_args:
                out[-1] = "int run(int, char**) { return snippet_main(); }"
        else:
            out.append("int run(int upto, char**) {")
            for p, s in enumerate(chain):
                if p > 0:
                    out.append(f"if (upto < {p}) return 0;")
                out += code_lines(s)
            out.append("#line %d \"doc_snippets.cpp\"" % (len(out) + 2))
            out.append("return 0;")
            out.append("}")
        out.append(f"}}  // namespace doc_snippet_{c}")
        out.append("")

    out.append("namespace {")
    out.append("struct doc_snippet { const char* slug; const char* where; const char* kind; int (*run)(int, char**); int part; bool runnable; };")
    out.append("const doc_snippet snippets[] = {")
    for s in snippets:
        kind = ("program" if s.is_program else "continued" if s.continued else "block") + \
               ("" if s.runnable else ", compile-only")
        out.append(f"    {{{c_string(s.slug)}, {c_string(f'{s.rel}:{s.line}')}, {c_string(kind)}, "
                   f"&doc_snippet_{s.chain}::run, {s.part}, {'true' if s.runnable else 'false'}}},")
    out.append("};")
    out.append("}  // namespace")
    out.append(r'''
int main(int argc, char** argv) {
    const std::size_t n = sizeof snippets / sizeof snippets[0];
    if (argc == 2 && std::strcmp(argv[1], "--count") == 0) {
        std::printf("%zu\n", n);
        return 0;
    }
    if (argc != 2 || std::strcmp(argv[1], "--list") == 0) {
        for (const auto& s : snippets) std::printf("%-16s %-26s %s\n", s.slug, s.where, s.kind);
        std::printf("usage: %s SNIPPET   (a slug or file:line from the list above; --count)\n", argv[0]);
        return argc == 2 ? 0 : 2;
    }
    for (const auto& s : snippets) {
        if (std::strcmp(argv[1], s.slug) != 0 && std::strcmp(argv[1], s.where) != 0) continue;
        if (!s.runnable) {
            std::fprintf(stderr, "%s is compile-only\n", s.where);
            return 2;
        }
        std::printf("== %s (%s)\n", s.where, s.kind);
        std::fflush(stdout);
        try {
            const int status = s.run(s.part, argv);
            std::cout << std::flush;
            std::printf("\n== %s: %s\n", s.where, status == 0 ? "ok" : "FAILED");
            return status;
        } catch (const std::exception& e) {
            std::cout << std::flush;
            std::fprintf(stderr, "\n== %s: exception: %s\n", s.where, e.what());
            return 1;
        }
    }
    std::fprintf(stderr, "no snippet '%s' (--list lists them)\n", argv[1]);
    return 2;
}''')
    return "\n".join(out) + "\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--root", default=str(pathlib.Path(__file__).resolve().parent.parent),
                    help="the repository (holding README.md and docs/)")
    ap.add_argument("--out", help="write the translation unit here")
    ap.add_argument("--list", action="store_true",
                    help="print 'slug<TAB>file:line<TAB>run|compile-only<TAB>fixture or -<TAB>page' per snippet")
    ap.add_argument("--count", action="store_true", help="print the number of snippets")
    args = ap.parse_args()
    root = pathlib.Path(args.root).resolve()
    snippets, chains, errors = extract(root)
    if errors:
        for e in errors:
            print(f"doc_snippets: error: {e}", file=sys.stderr)
        sys.exit(1)
    if not snippets:
        print(f"doc_snippets: error: no ```cpp block under {root}", file=sys.stderr)
        sys.exit(1)
    if args.count:
        print(len(snippets))
    if args.list:
        for s in snippets:
            text = "\n".join(l for t in chains[s.chain][: s.part + 1] for l in t.code)
            # tiny/ and model.safetensors are links to the tiny test models in the run directory
            needs = "tiny_models" if ("tiny/" in text or "model.safetensors" in text) else "-"
            page = s.slug.rsplit("_", 1)[0]
            print(f"{s.slug}\t{s.rel}:{s.line}\t{'run' if s.runnable else 'compile-only'}\t{needs}\t{page}")
    if args.out:
        text = generate(snippets, chains)
        out = pathlib.Path(args.out)
        if not out.exists() or out.read_text(encoding="utf-8") != text:  # unchanged: no rebuild
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_text(text, encoding="utf-8")
        per_page = {}
        for s in snippets:
            per_page[s.rel] = per_page.get(s.rel, 0) + 1
        run = sum(s.runnable for s in snippets)
        print(f"doc_snippets: {len(snippets)} snippets from {len(per_page)} pages "
              f"({run} run, {len(snippets) - run} compile-only; "
              f"{sum(s.continued for s in snippets)} continue an earlier block, "
              f"{sum(s.is_program for s in snippets)} whole programs): "
              + ", ".join(f"{p} {n}" for p, n in per_page.items()))


if __name__ == "__main__":
    main()
