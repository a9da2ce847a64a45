"""Writes the reference tokenizers (HF `tokenizers`) the parity tests compare xlens against.

    make_tokenizers.py OUTDIR --gguf SmolLM2.gguf --corpus CORPUS.bin [--tiny-model DIR]

OUTDIR/smollm2/   SmolLM2's tokenizer.json, built from the GGUF's vocabulary and merges with the
                  pipeline of HuggingFaceTB/SmolLM2's own tokenizer.json: Digits(individual_digits)
                  then ByteLevel (llama.cpp calls this pre-tokenizer "smollm"), 17 special tokens.
                  (transformers' GGUF loader drops the digit rule, so it is not used as the reference.)
OUTDIR/gpt2/      a byte-level BPE trained on the corpus with GPT-2's pre-tokenizer, "<|endoftext|>".
OUTDIR/llama3/    Llama 3's pipeline: Split(Llama-3 regex) + ByteLevel(no regex), ignore_merges,
                  a TemplateProcessing that adds <|begin_of_text|>, and lstrip/rstrip added tokens.
OUTDIR/qwen2/     Qwen2's pipeline: NFC, Split(Qwen2 regex) + ByteLevel(no regex), ChatML specials.
OUTDIR/spm_*      SentencePiece: a BPE model with byte fallback trained by `sentencepiece` on the corpus
                  (as Llama 2's: identity normalisation, dummy prefix, split digits), written as
                  tokenizer.json the way transformers' converters write them (their components and
                  its generate_merges): spm_llama2 (LlamaConverter, legacy: Prepend + Replace),
                  spm_metaspace (LlamaConverter, not legacy: Metaspace prepend_scheme "first"),
                  spm_gemma (GemmaConverter: Replace, Split(" "), no prefix); and spm_llama2.gguf,
                  the same pieces and scores as GGUF tokenizer metadata ("llama", as llama.cpp's
                  converter writes them), whose reference is spm_llama2/tokenizer.json; spm_llama2 also
                  keeps tokenizer.model, and sentencepiece's own encoding is checked to equal the
                  tokenizer.json's on the whole corpus before anything is written.
--tiny-model DIR  also copies the gpt2 tokenizer into DIR (a tiny GPT-2 whose vocabulary fits it).
"""
import argparse
import json
import os
import shutil
import struct

from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers

LLAMA3 = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|"
          r"\s*[\r\n]+|\s+(?!\S)|\s+")
QWEN2 = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|"
         r"\s*[\r\n]+|\s+(?!\S)|\s+")
CHATML = ("{% for message in messages %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + "
          "'<|im_end|>' + '\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}")


def read_corpus(path):
    docs = []
    with open(path, "rb") as f:
        data = f.read()
    at = 0
    while at < len(data):
        (n,) = struct.unpack_from("<I", data, at)
        docs.append(data[at + 4:at + 4 + n].decode("utf-8", errors="replace"))
        at += 4 + n
    return docs


def save(tok, outdir, name, config=None):
    d = os.path.join(outdir, name)
    os.makedirs(d, exist_ok=True)
    tok.save(os.path.join(d, "tokenizer.json"))
    if config is not None:
        with open(os.path.join(d, "tokenizer_config.json"), "w") as f:
            json.dump(config, f, indent=1)
    return d


def smollm2(gguf_path, outdir):
    from gguf import GGUFReader
    r = GGUFReader(gguf_path)

    def strings(key):
        f = r.fields[key]
        return [bytes(f.parts[i]).decode("utf-8") for i in f.data]

    tokens, merges = strings("tokenizer.ggml.tokens"), strings("tokenizer.ggml.merges")
    types = [int(r.fields["tokenizer.ggml.token_type"].parts[i][0]) for i in r.fields["tokenizer.ggml.token_type"].data]
    template = bytes(r.fields["tokenizer.chat_template"].parts[r.fields["tokenizer.chat_template"].data[0]]).decode()
    vocab = {t: i for i, t in enumerate(tokens)}
    tok = Tokenizer(models.BPE(vocab=vocab, merges=[tuple(m.split(" ", 1)) for m in merges]))
    tok.pre_tokenizer = pre_tokenizers.Sequence([pre_tokenizers.Digits(individual_digits=True),
                                                 pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)])
    tok.decoder = decoders.ByteLevel()
    tok.post_processor = processors.ByteLevel(trim_offsets=False)
    tok.add_special_tokens([AddedToken(t, special=True, normalized=False) for t, k in zip(tokens, types) if k == 3])
    return save(tok, outdir, "smollm2", {"bos_token": "<|im_start|>", "eos_token": "<|im_end|>", "chat_template": template})


def trained(docs, outdir, name, pre, specials, vocab_size, normalizer=None, ignore_merges=False, post=None):
    tok = Tokenizer(models.BPE(ignore_merges=ignore_merges))
    if normalizer is not None:
        tok.normalizer = normalizer
    tok.pre_tokenizer = pre
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=[], show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(docs, trainer=trainer)
    tok.add_special_tokens([t for t in specials if t.special])
    tok.add_tokens([t for t in specials if not t.special])
    if post is not None:
        tok.post_processor = post(tok)
    return tok


SPM_SPACE = "\u2581"


def sentencepiece_tokenizers(docs, train, outdir):
    import io
    import sentencepiece as spm
    from sentencepiece import sentencepiece_model_pb2
    from transformers.convert_slow_tokenizer import generate_merges
    model = io.BytesIO()
    spm.SentencePieceTrainer.train(sentence_iterator=iter([d for d in train if d.strip()]), model_writer=model,
                                   vocab_size=4000, model_type="bpe", character_coverage=0.98, byte_fallback=True,
                                   split_digits=True, normalization_rule_name="identity", remove_extra_whitespaces=False,
                                   add_dummy_prefix=True, allow_whitespace_only_pieces=True, max_sentence_length=1 << 20,
                                   num_threads=1, minloglevel=2)
    proto = sentencepiece_model_pb2.ModelProto()
    proto.ParseFromString(model.getvalue())
    pieces = [(p.piece, p.score, p.type) for p in proto.pieces]  # type: 1 normal, 2 unknown, 3 control, 6 byte
    vocab = {piece: i for i, (piece, _, _) in enumerate(pieces)}
    merges = generate_merges(vocab, {piece: score for piece, score, _ in pieces})
    specials = [AddedToken(piece, special=True, normalized=False) for piece, _, kind in pieces if kind in (2, 3)]

    def build(normalizer, pre, decoder):
        tok = Tokenizer(models.BPE(vocab=vocab, merges=merges, unk_token="<unk>", fuse_unk=True, byte_fallback=True))
        if normalizer is not None:
            tok.normalizer = normalizer
        if pre is not None:
            tok.pre_tokenizer = pre
        tok.decoder = decoder
        tok.add_special_tokens(specials)
        tok.post_processor = processors.TemplateProcessing(single="<s> $A", pair="<s> $A <s> $B",
                                                           special_tokens=[("<s>", vocab["<s>"])])
        return tok

    def llama_decoder(strip):
        steps = [decoders.Replace(SPM_SPACE, " "), decoders.ByteFallback(), decoders.Fuse()]
        return decoders.Sequence(steps + ([decoders.Strip(" ", 1, 0)] if strip else []))

    config = {"bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>"}
    llama2 = build(normalizers.Sequence([normalizers.Prepend(SPM_SPACE), normalizers.Replace(" ", SPM_SPACE)]), None,
                   llama_decoder(True))
    reference = spm.SentencePieceProcessor(model_proto=model.getvalue())
    differ = [i for i, d in enumerate(docs) if reference.encode(d) != llama2.encode(d, add_special_tokens=False).ids]
    if differ:
        raise SystemExit(f"make_tokenizers: sentencepiece and the converted tokenizer.json differ on documents {differ[:10]}")
    d = save(llama2, outdir, "spm_llama2", config)
    with open(os.path.join(d, "tokenizer.model"), "wb") as f:
        f.write(model.getvalue())
    save(build(None, pre_tokenizers.Metaspace(replacement=SPM_SPACE, prepend_scheme="first", split=False),
               llama_decoder(True)), outdir, "spm_metaspace", config)
    save(build(normalizers.Replace(" ", SPM_SPACE), pre_tokenizers.Split(" ", "merged_with_previous"), llama_decoder(False)),
         outdir, "spm_gemma", config)

    import gguf
    writer = gguf.GGUFWriter(os.path.join(outdir, "spm_llama2.gguf"), "llama")
    writer.add_tokenizer_model("llama")
    writer.add_token_list([piece for piece, _, _ in pieces])
    writer.add_token_scores([score for _, score, _ in pieces])
    writer.add_token_types([kind for _, _, kind in pieces])
    writer.add_bos_token_id(vocab["<s>"])
    writer.add_eos_token_id(vocab["</s>"])
    writer.add_unk_token_id(vocab["<unk>"])
    writer.add_add_bos_token(True)
    writer.add_add_eos_token(False)
    writer.add_add_space_prefix(True)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("outdir")
    ap.add_argument("--gguf", required=True)
    ap.add_argument("--corpus", required=True)
    ap.add_argument("--tiny-model")
    args = ap.parse_args(argv)
    docs = read_corpus(args.corpus)
    train = docs[::3]  # a third of the corpus; the parity test runs on all of it

    smollm2(args.gguf, args.outdir)

    gpt2 = trained(train, args.outdir, "gpt2", pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True),
                   [AddedToken("<|endoftext|>", special=True, normalized=False)], 1023)  # 1024 ids in all
    d = save(gpt2, args.outdir, "gpt2", {"bos_token": "<|endoftext|>", "eos_token": "<|endoftext|>"})
    if args.tiny_model:
        shutil.copy(os.path.join(d, "tokenizer.json"), os.path.join(args.tiny_model, "tokenizer.json"))
        shutil.copy(os.path.join(d, "tokenizer_config.json"), os.path.join(args.tiny_model, "tokenizer_config.json"))

    llama3_specials = [AddedToken("<|begin_of_text|>", special=True, normalized=False),
                       AddedToken("<|eot_id|>", special=True, normalized=False),
                       AddedToken("<mask>", special=True, normalized=False, lstrip=True, rstrip=True),
                       AddedToken("[WORD]", special=False, normalized=True, single_word=True)]

    def bos_template(tok):
        return processors.TemplateProcessing(single="<|begin_of_text|> $A", pair="<|begin_of_text|> $A $B",
                                             special_tokens=[("<|begin_of_text|>", tok.token_to_id("<|begin_of_text|>"))])
    llama3 = trained(train, args.outdir, "llama3",
                     pre_tokenizers.Sequence([pre_tokenizers.Split(Regex(LLAMA3), behavior="isolated"),
                                              pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)]),
                     llama3_specials, 3000, ignore_merges=True, post=bos_template)
    save(llama3, args.outdir, "llama3", {"bos_token": "<|begin_of_text|>", "eos_token": "<|eot_id|>"})

    qwen2 = trained(train, args.outdir, "qwen2",
                    pre_tokenizers.Sequence([pre_tokenizers.Split(Regex(QWEN2), behavior="isolated"),
                                             pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)]),
                    [AddedToken(t, special=True, normalized=False) for t in ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]],
                    3000, normalizer=normalizers.NFC())
    save(qwen2, args.outdir, "qwen2", {"eos_token": "<|im_end|>", "chat_template": CHATML})
    sentencepiece_tokenizers(docs, train, args.outdir)
    print(f"make_tokenizers: smollm2, gpt2, llama3, qwen2, spm_llama2 (+ .gguf), spm_metaspace, spm_gemma -> {args.outdir}")


if __name__ == "__main__":
    main()
