#!/bin/bash
# test_data_stats.sh: `vpcast data stats` prints byte-identical JSON on 1, 2
# and 3 ranks, for data.source: synth and for the packed file `vpcast data
# synth` writes (which must also equal the synth source's output: same clips,
# same statistics); and bad configs end with a clear message.
# usage: bash tests/mpi/test_data_stats.sh path/to/vpcast
# Ends with "N passed, N failed"; exits non-zero on any failure.
set -u
VPCAST=${1:?usage: test_data_stats.sh path/to/vpcast}
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
CFG=$ROOT/configs/test
TMP=$(mktemp -d "${TMPDIR:-/tmp}/vpcast-stats-test.XXXXXX") || exit 1
trap 'rm -rf "$TMP"' EXIT
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OMP_NUM_THREADS=1
passed=0
failed=0
ok() { passed=$((passed + 1)); }
fail() {
  failed=$((failed + 1))
  echo "FAIL: $1" >&2
}

# stats NP OUT ARGS...: vpcast data stats on NP ranks, stdout to OUT.
stats() {
  local np=$1 out=$2
  shift 2
  mpirun --oversubscribe -np "$np" "$VPCAST" data stats "$@" >"$out" 2>"$out.err"
}

# same_on_ranks NAME ARGS...: runs on 1, 2, 3 ranks; the outputs must be one
# JSON line each and identical. Leaves the 1-rank output in $TMP/NAME.1.
same_on_ranks() {
  local name=$1
  shift
  for np in 1 2 3; do
    if ! stats "$np" "$TMP/$name.$np" "$@"; then
      fail "$name: $np ranks exited non-zero"
      sed 's/^/  /' "$TMP/$name.$np.err" >&2
      return
    fi
  done
  if [ "$(wc -l <"$TMP/$name.1")" != 1 ] || ! grep -q '^{"clips": [0-9]*, "frames": ' "$TMP/$name.1"; then
    fail "$name: not one JSON line"
    sed 's/^/  /' "$TMP/$name.1" >&2
    return
  fi
  ok
  for np in 2 3; do
    if cmp -s "$TMP/$name.1" "$TMP/$name.$np"; then
      ok
    else
      fail "$name: output on $np ranks differs from 1 rank"
      diff "$TMP/$name.1" "$TMP/$name.$np" >&2
    fi
  done
}

# 1. The synth source (masked depth, so valid_fraction < 1).
same_on_ranks synth "$CFG/synth_stats.yaml"
if grep -q '"name": "rgb", "channels": 3, ' "$TMP/synth.1" &&
   grep -q '"name": "depth", "channels": 1, "min": [0-9.]*, "max": [0-9.]*, "mean": [0-9.]*, "valid_fraction": 0\.[0-9]*}' "$TMP/synth.1" &&
   grep -q '"name": "semantic", "channels": 1, "min": 0, "max": 4, ' "$TMP/synth.1" &&
   grep -q '^{"clips": 10, "frames": 4, "height": 24, "width": 32, ' "$TMP/synth.1"; then
  ok
else
  fail "synth: unexpected content"
  cat "$TMP/synth.1" >&2
fi

# 2. A packed file from `vpcast data synth` (train and test splits, stride
# windows), and the same clips from the synth source: identical JSON.
if "$VPCAST" data synth --out "$TMP/s.h5" --clips 7 --test-clips 5 --frames 4 --size 24 --seed 11 \
    --invalid-sky >"$TMP/synth.out" 2>&1; then
  ok
else
  fail "data synth exited non-zero"
  cat "$TMP/synth.out" >&2
fi
same_on_ranks packed_train "$CFG/synth_packed.yaml" data.path="$TMP/s.h5"
same_on_ranks packed_test "$CFG/synth_packed.yaml" data.path="$TMP/s.h5" data.split=test
same_on_ranks synth_test "$CFG/synth_stats.yaml" data.split=test data.size=[24,24] data.synth.clips=5 \
  data.synth.seed=11
if cmp -s "$TMP/packed_test.1" "$TMP/synth_test.1"; then
  ok
else
  fail "packed file of data synth and the synth source give different statistics"
  diff "$TMP/packed_test.1" "$TMP/synth_test.1" >&2
fi
if grep -q '^{"clips": 7, "frames": 4, "height": 24, "width": 24, ' "$TMP/packed_train.1"; then
  ok
else
  fail "packed train split: wrong count or shape"
  cat "$TMP/packed_train.1" >&2
fi

# 3. Bad input: a file source without data.path (usage error), a missing file
# (runtime error naming it), an unknown key (with the key named).
"$VPCAST" data stats "$CFG/synth_packed.yaml" >"$TMP/out" 2>"$TMP/err"
rc=$?
if [ $rc = 2 ] && grep -q "data.path" "$TMP/err"; then ok; else fail "no data.path: exit $rc"; cat "$TMP/err" >&2; fi
"$VPCAST" data stats "$CFG/synth_packed.yaml" data.path="$TMP/missing.h5" >"$TMP/out" 2>"$TMP/err"
rc=$?
if [ $rc = 1 ] && grep -q "missing.h5" "$TMP/err"; then ok; else fail "missing file: exit $rc"; cat "$TMP/err" >&2; fi
"$VPCAST" data stats "$CFG/synth_stats.yaml" data.synth.clip=3 >"$TMP/out" 2>"$TMP/err"
rc=$?
if [ $rc = 2 ] && grep -q "data.synth.clip" "$TMP/err"; then ok; else fail "unknown key: exit $rc"; cat "$TMP/err" >&2; fi

echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
