#!/usr/bin/env bash
# test_pack_mpi.sh: `vpcast data pack` under mpirun. Packs the same Cityscapes
# and BAIR trees on 1, 2 and 3 ranks and checks that the shard sets hold the
# same clips, in the same order, with the same values as the one-rank file;
# that a repack with another rank count replaces the old shards; and that bad
# input on one rank ends the whole job with a clear error and no output,
# without hanging. The trees are written by the test_pack binary built next to
# vpcast (its --write-trees mode: real PNGs via libpng, real TFRecords).
# Usage: test_pack_mpi.sh /path/to/vpcast
set -u
VP="$1"
HELPER="$(dirname "$VP")/test_pack"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
export OMPI_MCA_ess_singleton_isolated=1 OMP_NUM_THREADS=1
pass=0
fail=0
check() {  # check "what" command...: counts a pass when the command succeeds
  local what="$1"
  shift
  if "$@"; then
    pass=$((pass + 1))
    return 0
  fi
  fail=$((fail + 1))
  echo "FAIL: $what"
  return 1
}
run_np() {  # run_np N args...: vpcast data pack on N ranks, time-limited; output in $T/log
  local n="$1"
  shift
  timeout 300 mpirun --oversubscribe -np "$n" "$VP" data pack "$@" >"$T/log" 2>&1
}

if [ ! -x "$HELPER" ]; then
  echo "FAIL: $HELPER not found (build the test_pack target)"
  echo "0 passed, 1 failed"
  exit 1
fi
T="$(mktemp -d /tmp/vp_pack_mpi_XXXXXX)"
trap 'rm -rf "$T"' EXIT
"$HELPER" --write-trees "$T" || { echo "FAIL: writing the source trees"; echo "0 passed, 1 failed"; exit 1; }

# Same clips for any number of ranks.
for fmt in cityscapes bair; do
  case $fmt in
    cityscapes) args=(--format cityscapes --src "$T/cs" --size 6 --frames 3); frames=3 ;;
    bair) args=(--format bair --src "$T/bair" --depth "$T/bair_depth" --frames 10 --size 32); frames=10 ;;
  esac
  for np in 1 2 3; do
    mkdir -p "$T/$fmt$np"
    check "$fmt: pack on $np rank(s)" run_np "$np" "${args[@]}" --out "$T/$fmt$np/out.h5" ||
      cat "$T/log"
  done
  check "$fmt: 1 rank writes out.h5" test -f "$T/${fmt}1/out.h5"
  check "$fmt: 3 ranks write 3 shards" test "$(ls "$T/${fmt}3" | grep -c -- '-of-00003.h5$')" = 3
  check "$fmt: no temporary files left" test -z "$(find "$T/${fmt}1" "$T/${fmt}2" "$T/${fmt}3" -name '*.tmp*')"
  for np in 2 3; do
    check "$fmt: $np-rank shards = 1-rank file" "$HELPER" --compare "$T/${fmt}1/out.h5" "$T/$fmt$np/out.h5" "$frames"
  done
  # A packed file read under mpirun by every rank alike (the reader takes the shard set by name).
  check "$fmt: 2-rank shards = 3-rank shards" "$HELPER" --compare "$T/${fmt}2/out.h5" "$T/${fmt}3/out.h5" "$frames"
done

# Repacking with another rank count replaces the old shard set.
check "repack cityscapes on 2 ranks over the 3-rank set" run_np 2 --format cityscapes --src "$T/cs" --size 6 \
  --frames 3 --out "$T/cityscapes3/out.h5"
check "old 3-rank shards removed" test "$(ls "$T/cityscapes3" | grep -c -- '-of-00003.h5$')" = 0
check "new 2-rank shards read" "$HELPER" --compare "$T/cityscapes1/out.h5" "$T/cityscapes3/out.h5" 3

# Bad input on some rank: non-zero exit, the file named, no output, no hang.
cp -r "$T/bair" "$T/bairbad"
bad="$T/bairbad/softmotion30_44k/test/traj_0_to_255.tfrecords"
size=$(stat -c %s "$bad")
printf '\x00\x01' | dd of="$bad" bs=1 seek=$((size - 3000)) conv=notrunc status=none
run_np 2 --format bair --src "$T/bairbad" --frames 10 --out "$T/bad.h5"
rc=$?
check "bad data CRC under mpirun: non-zero exit (got $rc)" test "$rc" -ne 0 -a "$rc" -ne 124
check "bad data CRC under mpirun: message names the file" grep -q "$bad.*data CRC mismatch" "$T/log"
check "bad data CRC under mpirun: no output" test -z "$(find "$T" -maxdepth 1 -name 'bad*.h5*')"
rm -f "$T/cs/disparity_sequence/val/frankfurt/frankfurt_000000_000295_disparity.png"
run_np 3 --format cityscapes --src "$T/cs" --size 6 --frames 3 --out "$T/bad2.h5"
rc=$?
check "missing modality file under mpirun: non-zero exit (got $rc)" test "$rc" -ne 0 -a "$rc" -ne 124
check "missing modality file under mpirun: message names the file" grep -q "frankfurt_000000_000295_disparity.png" "$T/log"
check "missing modality file under mpirun: no output" test -z "$(find "$T" -maxdepth 1 -name 'bad2*.h5*')"
if [ "$fail" -ne 0 ]; then cat "$T/log"; ls -la "$T"; fi

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
