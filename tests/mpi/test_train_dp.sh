#!/bin/bash
# test_train_dp.sh: data-parallel equivalence and exact resume of
# `vpcast train` on configs/test/tiny_ddpm.yaml (made small, see lib_train.sh).
#   - 20 steps on 1 rank, on 2 and on 3 ranks (mpirun), global batch 6, the
#     gradient all-reduce in several buckets: parameters and EMA equal within
#     1e-5 relative, AdamW moments within 1e-4 (same clips and noise per
#     sample by construction; only the summation order differs);
#   - 2 ranks x 3 accumulated micro-steps (one clip each) == 1 rank too;
#   - exact resume: 20 straight == 10 + resume + 10, bit for bit (params,
#     EMA, moments, state), on 1 rank and on 2 ranks;
#   - resuming a 2-rank checkpoint on 3 ranks is refused (status 2) with a
#     message that says so.
# usage: bash tests/mpi/test_train_dp.sh path/to/vpcast
# Ends with "N passed, N failed"; exits non-zero on any failure.
source "$(dirname "$0")/lib_train.sh"
need_mpi

BUCKETS=dist.bucket_mb=0.05   # the 0.2 M-parameter model in several buckets

# Uninterrupted runs on 1, 2, 3 ranks (checkpoints at 10 and 20).
for np in 0 2 3; do
  if train "$np" "$TMP/r$np" --steps 20 train.ckpt_every=10 $BUCKETS; then
    ok "20 steps on $([ $np = 0 ] && echo 1 || echo $np) rank(s)"
  else
    fail "run on $np ranks: $(tail -5 "$TMP/r$np.log")"
  fi
done
grep -q "buckets started during backward" "$TMP/r2.log" && ok "2 ranks: buckets reduced during backward" ||
  fail "no all-reduce summary in $(tail -3 "$TMP/r2.log")"

# Parameters and EMA within 1e-5 relative; the AdamW moments, whose small
# entries (biases with tiny gradients) carry more relative rounding, within 1e-4.
equiv() {
  same "$1" "$2" --tol 1e-5 --groups params,ema && cp "$TMP/diff.out" "$TMP/diff.params" &&
    same "$1" "$2" --tol 1e-4 --groups optim/m,optim/v
}
for np in 2 3; do
  if equiv "$(ckpt_of "$TMP/r0" 20)" "$(ckpt_of "$TMP/r$np" 20)"; then
    ok "$np ranks == 1 rank within 1e-5 ($(grep '^params' "$TMP/diff.params" | sed 's/.*relative L2 \([^ ]*\).*/params rel \1/'))"
  else
    fail "$np ranks vs 1 rank: $(cat "$TMP/diff.out")"
  fi
done

# Gradient accumulation under MPI: only the last micro-step communicates.
if train 2 "$TMP/acc" --steps 20 train.ckpt_every=20 train.grad_accum=3 $BUCKETS &&
  equiv "$(ckpt_of "$TMP/r0" 20)" "$(ckpt_of "$TMP/acc" 20)"; then
  ok "2 ranks x 3 micro-steps == 1 rank within 1e-5"
else
  fail "accumulation: $(tail -3 "$TMP/acc.log") $(cat "$TMP/diff.out" 2>/dev/null)"
fi

# Exact resume: 10 + resume + 10 == 20 straight.
for np in 0 2; do
  out=$TMP/e$np
  if train "$np" "$out" --steps 10 train.ckpt_every=10 $BUCKETS &&
    train "$np" "$out" --steps 20 train.ckpt_every=10 $BUCKETS; then
    if grep -q "resuming from .*step_00000010.h5 (step 10)" "$out.log"; then
      ok "np=$np: resumed at step 10"
    else
      fail "np=$np: no resume line in $(head -6 "$out.log")"
    fi
    if same "$(ckpt_of "$TMP/r$np" 20)" "$(ckpt_of "$out" 20)"; then
      ok "np=$np: 10 + resume + 10 bit-identical to 20 straight"
    else
      fail "np=$np: resumed run differs: $(cat "$TMP/diff.out")"
    fi
  else
    fail "np=$np resume runs: $(tail -5 "$out.log")"
  fi
done
# The resumed log reads as one run: each step record once, in order.
if grep -o '^{"step": [0-9]*' "$TMP/e2/log.jsonl" | grep -o '[0-9]*$' | tr '\n' ' ' | grep -qx "5 10 15 20 "; then
  ok "resumed log.jsonl has steps 5 10 15 20 once each"
else
  fail "resumed log.jsonl: $(grep -o '^{"step": [0-9]*' "$TMP/e2/log.jsonl" | tr '\n' ' ')"
fi

# Another world size is refused.
train 3 "$TMP/e2" --steps 30 $BUCKETS
rc=$?
if [ "$rc" = 2 ] && grep -q "written by a run of 2 ranks, but this run has 3" "$TMP/e2.log"; then
  ok "resume on 3 ranks of a 2-rank checkpoint refused"
else
  fail "world-size change: rc $rc: $(grep error "$TMP/e2.log" | head -2)"
fi
finish
