#!/usr/bin/env bash
# A dependency missing at configure time stops CMake with a message naming the Debian package that
# provides it. Each find_package that xlens's CMake makes is switched off in turn
# (CMAKE_DISABLE_FIND_PACKAGE_<name>), as if the package were not installed.
#   missing_dependency.sh SOURCE_DIR WORK_DIR
set -euo pipefail
src=$1 work=$2
rm -rf "$work" && mkdir -p "$work"
status=0
while read -r package debian; do
  out=$work/$package.log
  if cmake -S "$src" -B "$work/$package" -DXLENS_BUILD_TESTS=OFF -DXLENS_BUILD_TOOLS=OFF -DXLENS_BUILD_BENCHMARKS=OFF \
           "-DCMAKE_DISABLE_FIND_PACKAGE_$package=ON" >"$out" 2>&1; then
    echo "missing $package: configuring succeeded"; status=1
  elif tr -s ' \n' ' ' <"$out" | grep -q "apt-get install $debian'"; then  # CMake wraps messages
    echo "missing $package: $(tr -s ' \n' ' ' <"$out" | grep -o "xlens needs [^:]*: install it with 'apt-get install $debian'")"
  else
    echo "missing $package: failed without naming $debian:"; cat "$out"; status=1
  fi
done <<'LIST'
xtl xtl-dev
xtensor libxtensor-dev
xtensor-blas libxtensor-blas-dev
nlohmann_json nlohmann-json3-dev
BLAS libopenblas-dev
LAPACK libopenblas-dev
SQLite3 libsqlite3-dev
LIST
exit $status
