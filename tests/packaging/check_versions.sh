#!/usr/bin/env bash
# The version is written once, in include/xlens/version.hpp; everything else must agree with it.
#   check_versions.sh SOURCE_DIR ["what=version" ...]   (extra pairs: versions read off built artefacts)
set -euo pipefail
src=$1; shift
hpp=$src/include/xlens/version.hpp
part() { sed -n "s/^#define XLENS_VERSION_$1 \([0-9][0-9]*\)$/\1/p" "$hpp"; }
version="$(part MAJOR).$(part MINOR).$(part PATCH)"
[[ $version =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]] || { echo "cannot read the version from $hpp"; exit 1; }
json_version() { sed -n 's/^  "version": "\(.*\)",$/\1/p' "$1"; }
checks=("vcpkg.json=$(json_version "$src/vcpkg.json")"
        "ports/xlens/vcpkg.json=$(json_version "$src/ports/xlens/vcpkg.json")" "$@")
status=0
for c in "${checks[@]}"; do
  what=${c%%=*} got=${c#*=}
  if [ "$got" = "$version" ]; then echo "version: $what = $got"; else echo "version: $what says '$got', version.hpp says $version"; status=1; fi
done
exit $status
