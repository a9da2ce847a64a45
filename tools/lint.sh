#!/usr/bin/env bash
# Static checks of the library headers; any finding fails:
#   Doxygen     API reference from include/xlens (docs/Doxyfile); every documentation warning is an error
#   clang-tidy  the checks in .clang-tidy, on a unit including <xlens/xlens.hpp> (so every header)
#   cppcheck    warning, performance and portability checks on the same unit (inline suppressions
#               carry their reason)
# (Compiler warnings are the build's job: tests/CMakeLists.txt compiles every header alone with
# -Wall -Wextra -Wpedantic -Wshadow -Wconversion -Werror, and once more with Clang.)
#   bash tools/lint.sh        XLENS_DOXYGEN_OUT (default build/doxygen) receives the HTML reference
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
export XLENS_DOXYGEN_OUT=${XLENS_DOXYGEN_OUT:-$root/build/doxygen}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
echo '#include <xlens/xlens.hpp>' > "$work/all_headers.cpp"
status=0
step() {  # name, command...
  local name=$1 start=$SECONDS; shift
  if "$@" > "$work/$name.log" 2>&1; then
    echo "lint: $name clean ($((SECONDS - start)) s)"
  else
    echo "lint: $name FAILED ($((SECONDS - start)) s):"; grep -v "^[0-9]* warnings\? generated\.$" "$work/$name.log" | head -n 60
    status=1
  fi
}
echo "lint: $(doxygen --version | head -n 1 | sed 's/^/doxygen /'), $(clang-tidy --version | grep -o 'LLVM version [0-9.]*' | sed 's/LLVM/clang-tidy/'), $(cppcheck --version)"
mkdir -p "$XLENS_DOXYGEN_OUT"
step doxygen doxygen docs/Doxyfile
step clang-tidy clang-tidy --quiet --config-file="$root/.clang-tidy" "$work/all_headers.cpp" -- -std=c++17 -I"$root/include"
step cppcheck cppcheck --std=c++17 --language=c++ --enable=warning,performance,portability --inline-suppr \
  --error-exitcode=1 -I include --suppress=missingIncludeSystem --quiet \
  --template='{file}:{line}: {severity} ({id}): {message}' "$work/all_headers.cpp"
[ $status = 0 ] && echo "lint: the API reference is in $XLENS_DOXYGEN_OUT/html/index.html"
exit $status
