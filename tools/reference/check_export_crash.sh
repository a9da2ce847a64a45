#!/usr/bin/env bash
# An export that is killed never leaves a database that looks complete, a rerun gives exactly the
# bytes of an uninterrupted export, and a second export to the same file while one runs is refused.
#
#   check_export_crash.sh XLENS MODEL WORKDIR
#
# 1. an uninterrupted export: the reference bytes (and a check that the forward pass reads it).
# 2. kill -9 while the database is being written: no OUT.db; OUT.db.tmp, if opened, is refused.
# 3. the same command again: OUT.db byte-identical to the uninterrupted one; GGUF blocks cannot
#    be imported to safetensors (input_error 561).
# 4. a second writer while an export (slowed by --neuron-tokens) holds OUT.db: refused with
#    io_error 125 naming the file; the first finishes and its database is sound.
set -u
xlens=$1 model=$2 work=$3
mkdir -p "$work"
log=$work/export.log
rm -f "$work"/*.db "$work"/*.db.tmp
fail() { echo "FAIL: $*"; cat "$log" 2> /dev/null; exit 1; }
size() { stat -c %s "$1" 2> /dev/null || echo 0; }

"$xlens" export "$model" --sqlite "$work/whole.db" > "$log" 2>&1 || fail "the uninterrupted export failed"
echo "1. uninterrupted export: $(size "$work/whole.db") bytes"

"$xlens" export "$model" --sqlite "$work/killed.db" > "$log" 2>&1 &
pid=$!
for _ in $(seq 1 1000); do
  [ "$(size "$work/killed.db.tmp")" -gt 50000000 ] && break
  kill -0 "$pid" 2> /dev/null || fail "the export ended before it could be killed"
  sleep 0.01
done
kill -9 "$pid"
wait "$pid" 2> /dev/null
[ -e "$work/killed.db" ] && fail "a killed export left killed.db"
[ -e "$work/killed.db.tmp" ] || fail "the export was killed before it wrote anything"
if "$xlens" query "$work/killed.db.tmp" --sql "SELECT count(*) FROM tensors" > "$log" 2>&1; then
  fail "the partial file killed.db.tmp opened as a database"
fi
grep -Eq "xlens\.(format_error\.23[35]|io_error\.124)" "$log" || fail "the partial file was not refused clearly"
echo "2. kill -9 at $(size "$work/killed.db.tmp") bytes: no killed.db; the .tmp is refused: $(head -c 160 "$log")"

# Killed while the finished file is being rebuilt and checked: still not complete.
whole_size=$(size "$work/whole.db")
"$xlens" export "$model" --sqlite "$work/checking.db" > "$log" 2>&1 &
pid=$!
for _ in $(seq 1 3000); do
  [ "$(size "$work/checking.db.tmp")" -ge "$whole_size" ] && break
  kill -0 "$pid" 2> /dev/null || break
  sleep 0.005
done
kill -9 "$pid" 2> /dev/null
wait "$pid" 2> /dev/null
if [ -e "$work/checking.db" ]; then
  echo "   (the export finished before it could be killed while checking; that case was not exercised)"
else
  "$xlens" query "$work/checking.db.tmp" --sql "SELECT 1" > "$log" 2>&1 && fail "a .tmp killed while checking opened as complete"
  grep -q "xlens.format_error.235" "$log" || fail "a .tmp killed while checking: not refused as unfinished"
  echo "   kill -9 during the final check, at full size: the .tmp is refused: $(head -c 120 "$log")"
fi

"$xlens" export "$model" --sqlite "$work/killed.db" > "$log" 2>&1 || fail "the rerun failed"
cmp -s "$work/killed.db" "$work/whole.db" || fail "the rerun differs from the uninterrupted export"
[ -e "$work/killed.db.tmp" ] && fail "the rerun left its .tmp behind"
echo "3. rerun: byte-identical to the uninterrupted export"
if "$xlens" import "$work/whole.db" --safetensors "$work/back/model.safetensors" > "$log" 2>&1; then
  fail "Q4_1 blocks were written to safetensors"
fi
grep -q "xlens.input_error.561.*which safetensors cannot hold" "$log" || fail "import --safetensors of GGUF blocks: unclear error"
echo "   import --safetensors of GGUF blocks refused: $(head -c 160 "$log")"

"$xlens" export "$model" --sqlite "$work/busy.db" --neuron-tokens 2 > "$work/first.log" 2>&1 &
pid=$!
for _ in $(seq 1 3000); do
  [ "$(size "$work/busy.db.tmp")" -gt 0 ] && break
  kill -0 "$pid" 2> /dev/null || { log=$work/first.log; fail "the first export ended early"; }
  sleep 0.01
done
if "$xlens" export "$model" --sqlite "$work/busy.db" > "$log" 2>&1; then fail "a second writer was let in"; fi
grep -q "xlens.io_error.125.*another process is exporting to '$work/busy.db'" "$log" || fail "the second writer's error is unclear"
echo "4. second writer refused: $(head -c 200 "$log")"
wait "$pid" || { log=$work/first.log; fail "the first export failed"; }
"$xlens" query "$work/busy.db" --sql "SELECT count(*) AS neuron_tokens FROM neuron_tokens" > "$log" 2>&1 || fail "the first export's database does not open"
"$xlens" forward "$work/busy.db" --tokens 1,2,3 --npy "$work/busy.npy" > /dev/null 2>&1 || fail "the first export's database does not run"
echo "   the first export finished and runs"
echo "PASS"
