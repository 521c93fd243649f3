#!/bin/bash
# test_metrics.sh: `vpcast metrics` gives the same JSON on 1, 2 and 3 MPI
# ranks (every key identical; fd within 1e-10 relative), in both sample modes
# and both SSIM modes. The inputs come from `test_metrics_cli --write DIR`
# (built next to vpcast). Single-rank runs use 2 OpenMP threads and the
# multi-rank runs 1, so thread-count independence is checked too.
# usage: bash tests/mpi/test_metrics.sh path/to/vpcast
# Ends with "N passed, N failed"; exits non-zero on any failure.
set -u
VPCAST=${1:?usage: test_metrics.sh path/to/vpcast}
WRITER=$(dirname "$VPCAST")/test_metrics_cli
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
TMP=$(mktemp -d "${TMPDIR:-/tmp}/vpcast-mpi-metrics.XXXXXX") || exit 1
trap 'rm -rf "$TMP"' EXIT
# In a sanitizer build, Open MPI's own never-freed init allocations would
# fail every run; they (only) are suppressed, as tests/unit/test_pack.c does.
printf '%s\n' leak:libmpi.so leak:libopen-rte.so leak:libopen-pal.so leak:libhwloc.so leak:libpmix.so \
  leak:libevent leak:mca_ leak:libopenblas leak:MPI_Init_thread leak:ompi_mpi_init leak:ompi_mpi_finalize \
  leak:orte_init >"$TMP/lsan_mpi.supp"
export LSAN_OPTIONS="suppressions=$TMP/lsan_mpi.supp"
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}fast_unwind_on_malloc=0"
passed=0
failed=0
ok() { passed=$((passed + 1)); }
fail() { failed=$((failed + 1)); echo "FAIL: $1" >&2; }

if [ ! -x "$WRITER" ]; then
  echo "FAIL: $WRITER not built (it writes the input files)" >&2
  echo "0 passed, 1 failed"
  exit 1
fi
"$WRITER" --write "$TMP" || { echo "FAIL: writing inputs" >&2; echo "0 passed, 1 failed"; exit 1; }

METRICS=mse,mae,psnr,ssim,masked_l1,masked_l2,crps,crps_fair,skill,fd

# run NP THREADS OUT ARGS...
run() {
  local np=$1 th=$2 out=$3
  shift 3
  OMP_NUM_THREADS=$th mpirun --oversubscribe -np "$np" "$VPCAST" metrics --pred "$TMP/pred.h5" \
    --target "$TMP/target.h5" --metrics $METRICS "$@" >"$out" 2>"$out.err"
}

for mode in "--samples mean" "--samples best" "--samples mean --ssim-mode syncvp"; do
  tag=$(echo "$mode" | tr -c 'a-z' '_')
  if ! run 1 2 "$TMP/r1$tag" $mode; then
    fail "1 rank ($mode): $(head -3 "$TMP/r1$tag.err")"
    continue
  fi
  if ! grep -q '"crps_fair"' "$TMP/r1$tag" || ! grep -q '"csi_219"' "$TMP/r1$tag"; then
    fail "1 rank ($mode): incomplete JSON"
    continue
  fi
  ok
  for np in 2 3; do
    if ! run "$np" 1 "$TMP/r$np$tag" $mode; then
      fail "$np ranks ($mode): $(head -3 "$TMP/r$np$tag.err")"
      continue
    fi
    # Every key but fd byte for byte; fd within 1e-10 relative.
    if diff <(grep -v '"fd"' "$TMP/r1$tag") <(grep -v '"fd"' "$TMP/r$np$tag") >"$TMP/diff"; then
      ok
    else
      fail "$np ranks ($mode) differ from 1 rank: $(head -6 "$TMP/diff")"
    fi
    a=$(grep '"fd"' "$TMP/r1$tag" | sed 's/.*: //; s/,$//')
    b=$(grep '"fd"' "$TMP/r$np$tag" | sed 's/.*: //; s/,$//')
    if awk -v a="$a" -v b="$b" 'BEGIN { d = a - b; if (d < 0) d = -d; s = a < 0 ? -a : a; exit !(a != "" && d <= 1e-10 * s) }'; then
      ok
    else
      fail "$np ranks ($mode): fd $b vs $a on 1 rank"
    fi
  done
done

# More ranks than clips (2 clips on 3 ranks): a rank without clips still
# takes part in the reductions.
few() {
  OMP_NUM_THREADS=1 mpirun --oversubscribe -np "$1" "$VPCAST" metrics --pred "$TMP/few_pred.h5" \
    --target "$TMP/few_target.h5" --metrics mse,ssim,crps,skill,masked_l2 >"$2" 2>"$2.err"
}
if few 1 "$TMP/few1" && few 3 "$TMP/few3" && grep -q '"clips": 2' "$TMP/few1" && cmp -s "$TMP/few1" "$TMP/few3"; then
  ok
else
  fail "2 clips on 3 ranks: $(head -3 "$TMP/few3.err") $(diff "$TMP/few1" "$TMP/few3" | head -4)"
fi
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
