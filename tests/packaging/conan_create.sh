#!/usr/bin/env bash
# `conan create` of the recipe, offline: a private CONAN_HOME with every remote disabled, and the
# profile tools/conan/debian declaring the Debian-installed dependencies as platform requirements.
# Works on a copy of the recipe's files, so the test package's build folder stays out of the checkout.
#   conan_create.sh SOURCE_DIR WORK_DIR CONAN
set -euo pipefail
src=$1 work=$2 conan=$3
rm -rf "$work" && mkdir -p "$work/recipe"
export CONAN_HOME=$work/home
(cd "$src" && cp -r conanfile.py CMakeLists.txt COPYING.md cmake include test_package "$work/recipe/")
"$conan" profile detect >/dev/null 2>&1
for remote in $("$conan" remote list --format=json | sed -n 's/.*"name": "\(.*\)".*/\1/p'); do
  "$conan" remote disable "$remote" >/dev/null
done
# The test package in Debug: the package is header-only (no build type of its own), and -O0 compiles
# the consumer a third faster than Release's -O3.
"$conan" create "$work/recipe" --profile:all "$src/tools/conan/debian" -s:a build_type=Debug > "$work/create.log" 2>&1 || { cat "$work/create.log"; exit 1; }
grep -E -m 6 " - Platform$" "$work/create.log"
grep "from the Conan package" "$work/create.log"
grep -q "from the Conan package: .*: ok" "$work/create.log"
# Headers, the CMake package, the pkg-config file and the licence note: nothing else (no tests, tools, benchmarks).
kinds=$(sed -n "s/.*package(): Packaged [0-9]* '\(.*\)' file.*/\1/p" "$work/create.log" | sort | tr '\n' ' ')
echo "packaged file kinds: $kinds"
[ "$kinds" = ".cmake .hpp .md .pc " ] || { echo "unexpected files in the package: $kinds"; exit 1; }
