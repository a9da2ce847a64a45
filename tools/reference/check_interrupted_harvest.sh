#!/usr/bin/env bash
# A harvest that is killed never leaves an output that looks complete, and one that is interrupted
# (Ctrl-C / SIGTERM) with --checkpoint resumes to exactly the output of an uninterrupted run.
#
#   check_interrupted_harvest.sh XLENS MODEL CORPUS WORKDIR
#
# 1. kill -9 mid-harvest: no output file (and no .tmp passed off as one).
# 2. SIGINT mid-harvest with --checkpoint: exit 130, no output, a checkpoint.
# 3. the same command again: resumes, writes the output, removes the checkpoint.
# 4. an uninterrupted run without a checkpoint: byte-identical output.
set -u
xlens=$1 model=$2 corpus=$3 work=$4
mkdir -p "$work"
out=$work/neurons_resumed.json straight=$work/neurons_straight.json ck=$work/harvest_state.json log=$work/harvest.log
rm -f "$out" "$straight" "$ck" "$out.tmp" "$ck.tmp"
args=(neurons "$model" --layers 0-1 --k 4 --corpus "$corpus" --windows 30 --contexts 4 --show 0)
fail() { echo "FAIL: $*"; cat "$log"; exit 1; }

# Starts a harvest in the background and returns once it has harvested at least one window.
start() {
  "$xlens" "${args[@]}" "$@" > /dev/null 2> "$log" &
  pid=$!
  for _ in $(seq 1 600); do
    grep -q "harvest [1-9]" "$log" && return 0
    kill -0 "$pid" 2> /dev/null || fail "the harvest ended before it could be interrupted"
    sleep 0.1
  done
  fail "the harvest did not start within 60 s"
}

start --checkpoint "$ck" --json "$out"
sleep 0.5
kill -9 "$pid"; wait "$pid" 2> /dev/null
[ ! -e "$out" ] || fail "a killed harvest left $out"
[ ! -e "$ck" ] || python3 -c "import json,sys; json.load(open(sys.argv[1]))" "$ck" || fail "a killed harvest left a broken checkpoint"
echo "kill -9: no output written"

start --checkpoint "$ck" --json "$out"
sleep 0.5
kill -INT "$pid"; wait "$pid"; rc=$?
[ "$rc" = 130 ] || fail "an interrupted harvest exited $rc, not 130"
[ ! -e "$out" ] || fail "an interrupted harvest wrote $out"
[ -s "$ck" ] || fail "an interrupted harvest left no checkpoint"
grep -q "run the same command again to resume" "$log" || fail "no resume hint"
echo "SIGINT: exit 130, $(grep -o 'interrupted after [0-9]* of [0-9]*' "$log"), checkpoint saved"

"$xlens" "${args[@]}" --checkpoint "$ck" --json "$out" > /dev/null 2> "$log" || fail "the resumed harvest failed"
grep -q "resuming the harvest" "$log" || fail "the rerun did not resume"
[ -s "$out" ] || fail "the resumed harvest wrote nothing"
[ ! -e "$ck" ] || fail "the checkpoint outlived a complete harvest"
"$xlens" "${args[@]}" --json "$straight" > /dev/null 2> "$log" || fail "the uninterrupted harvest failed"
cmp -s "$out" "$straight" || fail "the resumed output differs from an uninterrupted run's"
echo "resumed output identical to an uninterrupted run's ($(wc -c < "$out") bytes)"
echo "PASS"
