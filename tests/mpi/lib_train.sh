# lib_train.sh: shared by tests/mpi/test_train_*.sh (sourced, not a test).
# Sets VPCAST, CONFIG, TMP (removed at exit, with every process the test
# started), the pass/fail counters, and helpers to run `vpcast train` on
# configs/test/tiny_ddpm.yaml at a size that trains 20 steps in about a
# second per rank, alone or under mpirun.
set -u
VPCAST=${1:?usage: test_train_*.sh path/to/vpcast}
VPCAST=$(readlink -f "$VPCAST")
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
CONFIG=$ROOT/configs/test/tiny_ddpm.yaml
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
# One thread per rank, so 1-, 2- and 3-rank runs fit 2 cores, and so every
# run of a comparison uses the same thread count (exact resume needs that).
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1
TMP=$(mktemp -d "${TMPDIR:-/tmp}/vpcast-mpi-train.XXXXXX") || exit 1
BG_PIDS=""
cleanup() {
  for p in $BG_PIDS; do kill -9 "$p" 2>/dev/null; done
  # Ranks of a test that failed half-way (stopped ones too).
  for p in $(pgrep -f "$TMP" 2>/dev/null); do
    kill -CONT "$p" 2>/dev/null
    kill -9 "$p" 2>/dev/null
  done
  rm -rf "$TMP"
}
trap cleanup EXIT
# In a sanitizer build, Open MPI's own never-freed init allocations would
# fail every run; they (only) are suppressed.
printf '%s\n' leak:libmpi.so leak:libopen-rte.so leak:libopen-pal.so leak:libhwloc.so leak:libpmix.so \
  leak:libevent leak:mca_ leak:libopenblas leak:MPI_Init_thread leak:ompi_mpi_init leak:ompi_mpi_finalize \
  leak:orte_init >"$TMP/lsan_mpi.supp"
export LSAN_OPTIONS="suppressions=$TMP/lsan_mpi.supp"
passed=0
failed=0
ok() { passed=$((passed + 1)); echo "ok: $1"; }
fail() { failed=$((failed + 1)); echo "FAIL: $1" >&2; }
finish() {
  echo "$passed passed, $failed failed"
  [ "$failed" = 0 ]
  exit $?
}

# need_mpi: tests with ranks skip (and pass) on a vpcast built without MPI.
need_mpi() {
  if "$VPCAST" version 2>/dev/null | grep -q '^  mpi  *no'; then
    echo "skipped: this vpcast was built without MPI"
    finish
  fi
}

if [ ! -f "$CONFIG" ]; then
  fail "$CONFIG is missing"
  finish
fi
# A snapshot: every run of a test reads the same config even if the file
# changes meanwhile (resume refuses nothing, it only warns about changes).
cp "$CONFIG" "$TMP/config.yaml" && chmod 644 "$TMP/config.yaml"
CONFIG=$TMP/config.yaml

# The config as it is (16 x 16 RGB-D clips, 2 + 2 frames, 16 base channels),
# with a global batch that 1, 2 and 3 ranks divide, a constant LR after a
# short warm-up (so a 10-step run is the first half of a 20-step one), and
# 64 clips, so 20 steps cross epoch boundaries.
SMALL=(train.batch_size=6 train.lr_schedule=constant train.warmup_steps=2 train.log_every=5 data.synth.clips=64)

# train NP OUT [args...]: NP 0 runs vpcast alone (no launcher). Output in OUT.log.
train() {
  local np=$1 out=$2
  shift 2
  if [ "$np" = 0 ]; then
    "$VPCAST" train "$CONFIG" --out "$out" "${SMALL[@]}" "$@" >"$out.log" 2>&1
  else
    mpirun --oversubscribe -np "$np" "$VPCAST" train "$CONFIG" --out "$out" "${SMALL[@]}" "$@" >"$out.log" 2>&1
  fi
}

# rank_pid LAUNCHER_PID RANK: the pid of that rank's vpcast (a descendant of
# the launcher whose environment says OMPI_COMM_WORLD_RANK=RANK).
rank_pid() {
  local launcher=$1 rank=$2 p
  for p in $(pgrep -x "$(basename "$VPCAST" | cut -c1-15)"); do
    [ -r "/proc/$p/environ" ] || continue
    if { tr '\0' '\n' <"/proc/$p/environ"; } 2>/dev/null | grep -qx "OMPI_COMM_WORLD_RANK=$rank" &&
      is_descendant "$p" "$launcher"; then
      echo "$p"
      return 0
    fi
  done
  return 1
}

is_descendant() {
  local p=$1 anc=$2
  while [ -n "$p" ] && [ "$p" -gt 1 ]; do
    [ "$p" = "$anc" ] && return 0
    p=$(awk '{print $4}' "/proc/$p/stat" 2>/dev/null)
  done
  return 1
}

# wait_step OUT N [SECONDS]: until OUT/log.jsonl has a record of step >= N.
wait_step() {
  local out=$1 n=$2 limit=${3:-60} i s
  for i in $(seq 1 $((limit * 20))); do
    s=$(grep -o '^{"step": [0-9]*' "$out/log.jsonl" 2>/dev/null | tail -1 | grep -o '[0-9]*$')
    [ -n "$s" ] && [ "$s" -ge "$n" ] && return 0
    sleep 0.05
  done
  return 1
}

# latest_step OUT: the step LATEST names, or 0.
latest_step() {
  local f
  f=$(cat "$1/ckpt/LATEST" 2>/dev/null) || { echo 0; return; }
  f=${f#step_}
  f=${f%.h5}
  echo $((10#$f))
}

ckpt_of() { printf '%s/ckpt/step_%08d.h5' "$1" "$2"; }

# same CKPT_A CKPT_B [diff args]: vpcast ckpt diff, output kept on failure.
same() {
  "$VPCAST" ckpt diff "$@" >"$TMP/diff.out" 2>&1
}
