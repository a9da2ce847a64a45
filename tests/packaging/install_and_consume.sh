#!/usr/bin/env bash
# Installs xlens from the source tree into a prefix (plain `cmake --install`), then builds
# tests/packaging/consumer against it twice, with find_package(xlens CONFIG) and with pkg-config,
# and runs both on a tiny model. Also checks that every place showing the version agrees with
# include/xlens/version.hpp, the one place it is written.
#   install_and_consume.sh SOURCE_DIR WORK_DIR TEST_DATA XLENS_CLI
set -euo pipefail
src=$1 work=$2 data=$3 cli=$4
here=$(cd "$(dirname "$0")" && pwd)
rm -rf "$work" && mkdir -p "$work"
cmake -S "$src" -B "$work/xlens-build" -DXLENS_BUILD_TESTS=OFF -DXLENS_BUILD_TOOLS=OFF -DXLENS_BUILD_BENCHMARKS=OFF >/dev/null
cmake --install "$work/xlens-build" --prefix "$work/prefix" >/dev/null
prefix=$work/prefix
test -f "$prefix/share/xlens/xlensConfig.cmake"
test -f "$prefix/share/pkgconfig/xlens.pc"
# Nothing but headers and package files is installed.
[ "$(cd "$prefix" && ls | tr '\n' ' ')" = "include share " ] || { echo "installed more than include/ and share/: $(ls "$prefix")"; exit 1; }

model=$data/tiny/gpt2_text  # a tiny model with a tokenizer.json
[ -d "$model" ] || { echo "consumer: no tiny model at $model (ctest fixtures fixtures_tiny_models and fixtures_tokenizers make it)"; exit 1; }

launcher=()
command -v ccache >/dev/null && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
cmake -S "$here/consumer" -B "$work/consumer-build" -DCMAKE_PREFIX_PATH="$prefix" "${launcher[@]}" >/dev/null
cmake --build "$work/consumer-build" >/dev/null
cmake_out=$("$work/consumer-build/consumer" "$model")
echo "find_package: $cmake_out"

# pkg-config, with the relocatable prefix: move the installed tree first to prove it.
mv "$prefix" "$work/moved-prefix"
prefix=$work/moved-prefix
export PKG_CONFIG_PATH=$prefix/share/pkgconfig
pkg-config --validate xlens
cxx=(c++)
command -v ccache >/dev/null && cxx=(ccache c++)
# shellcheck disable=SC2046  # pkg-config's output is a list of flags
"${cxx[@]}" -std=c++17 "$here/consumer/main.cpp" -o "$work/consumer-pkgconfig" $(pkg-config --cflags --libs xlens)
pc_out=$("$work/consumer-pkgconfig" "$model")
echo "pkg-config:   $pc_out"
[ "$cmake_out" = "$pc_out" ] || { echo "the two consumers disagree"; exit 1; }

# One version everywhere.
bash "$here/check_versions.sh" "$src" \
  "pkg-config --modversion=$(pkg-config --modversion xlens)" \
  "xlensConfigVersion.cmake=$(sed -n 's/^set(PACKAGE_VERSION "\(.*\)")$/\1/p' "$prefix/share/xlens/xlensConfigVersion.cmake")" \
  "consumer (XLENS_VERSION_STRING)=$(echo "$cmake_out" | sed -n 's/^xlens \([^:]*\):.*/\1/p')" \
  "xlens --version=$("$cli" --version | sed -n 's/^xlens //p')"
