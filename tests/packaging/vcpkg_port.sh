#!/usr/bin/env bash
# Runs the vcpkg port's install steps (ports/xlens/portfile.cmake, through tests/packaging/vcpkg_shim.cmake,
# since vcpkg itself is not available here) into a staging prefix, then builds and runs the consumer
# project against that prefix with find_package(xlens CONFIG).
#   vcpkg_port.sh SOURCE_DIR WORK_DIR TEST_DATA
set -euo pipefail
src=$1 work=$2 data=$3
here=$(cd "$(dirname "$0")" && pwd)
rm -rf "$work" && mkdir -p "$work"
cmake -DPORT_DIR="$src/ports/xlens" -DSTAGING="$work/packages/xlens_x64-linux" -DBUILDTREES="$work/buildtrees/xlens" \
      -P "$here/vcpkg_shim.cmake"
launcher=()
command -v ccache >/dev/null && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
cmake -S "$here/consumer" -B "$work/consumer-build" -DCMAKE_PREFIX_PATH="$work/packages/xlens_x64-linux" "${launcher[@]}" >/dev/null
cmake --build "$work/consumer-build" >/dev/null
grep -q "xlens_x64-linux/share/xlens" "$work/consumer-build/CMakeCache.txt" || { echo "the consumer did not find the staged package"; exit 1; }
"$work/consumer-build/consumer" "$data/tiny/gpt2_text"
