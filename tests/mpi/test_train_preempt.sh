#!/bin/bash
# test_train_preempt.sh: preemption and rank failure of `vpcast train`
# under mpirun (configs/test/tiny_ddpm.yaml made small).
#   - Preemption: SIGUSR1 to rank 1 only, then, while the checkpoint is
#     being written, SIGUSR1 and SIGTERM again to both ranks: every rank
#     writes (rank 0) / waits for the checkpoint and exits 42; the
#     checkpoint is complete; --resume auto finishes bit-identical to an
#     uninterrupted 2-rank run.
#   - Rank failure: rank 1 of 3 killed with SIGKILL mid-run: every rank
#     exits non-zero within 60 s, and the output names rank 1.
#   - A hung rank: rank 1 of 2 stopped with SIGSTOP (alive but silent):
#     the failure watchdog of rank 0 ends the job after dist.timeout (5 s),
#     naming rank 1 as stopped, within 60 s.
# usage: bash tests/mpi/test_train_preempt.sh path/to/vpcast
# Ends with "N passed, N failed"; exits non-zero on any failure.
source "$(dirname "$0")/lib_train.sh"
need_mpi

STEPS=30
if train 2 "$TMP/ref" --steps $STEPS train.ckpt_every=1000; then
  ok "uninterrupted 2-rank reference"
else
  fail "reference: $(tail -5 "$TMP/ref.log")"
fi

# ---- preemption
OUT=$TMP/pre
# Each rank runs under a shell that records its exit status; the shell
# ignores SIGTERM so that mpirun tearing down the job cannot hide a status.
VP_CKPT_TEST_PAUSE_MS=400 mpirun --oversubscribe -np 2 \
  sh -c 'trap "" TERM; "$0" "$@"; rc=$?; echo $rc >"'"$OUT"'.rc.$OMPI_COMM_WORLD_RANK"; exit $rc' \
  "$VPCAST" train "$CONFIG" --out "$OUT" "${SMALL[@]}" --steps $STEPS train.ckpt_every=1000 train.log_every=1 \
  >"$OUT.log" 2>&1 &
launcher=$!
BG_PIDS="$BG_PIDS $launcher"
if wait_step "$OUT" 4 60; then
  r0=$(rank_pid $launcher 0)
  r1=$(rank_pid $launcher 1)
  kill -USR1 "$r1"
  # Second signals while the checkpoint is written (the commit pauses 0.4 s
  # after the temporary file and again after the rename).
  for k in $(seq 1 300); do
    ls "$OUT"/ckpt/.step_*.tmp >/dev/null 2>&1 && break
    sleep 0.01
  done
  kill -USR1 "$r0" "$r1" 2>/dev/null
  kill -TERM "$r0" 2>/dev/null
  sleep 0.5
  kill -USR1 "$r1" 2>/dev/null
fi
wait $launcher
rc=$?
s=$(latest_step "$OUT")
if [ "$rc" = 42 ] && [ "$(cat "$OUT.rc.0" 2>/dev/null)" = 42 ] && [ "$(cat "$OUT.rc.1" 2>/dev/null)" = 42 ]; then
  ok "SIGUSR1 to rank 1: both ranks exit 42"
else
  fail "preemption: mpirun rc $rc, ranks $(cat "$OUT".rc.* 2>/dev/null | tr '\n' ' '): $(tail -5 "$OUT.log")"
fi
grep -q "preempted by SIGUSR1 (delivered to rank 1) at step $s of $STEPS" "$OUT.log" &&
  ok "rank 0 reports the signal, the rank it reached and the step ($s)" ||
  fail "no preemption line for step $s in $(grep -i preempt "$OUT.log")"
if [ "$s" -gt 0 ] && [ "$s" -lt $STEPS ] && "$VPCAST" ckpt info "$(ckpt_of "$OUT" "$s")" >"$TMP/info" 2>&1 &&
  ! ls "$OUT"/ckpt/.*.tmp >/dev/null 2>&1; then
  ok "the preemption checkpoint (step $s) is complete, despite the second signals"
else
  fail "preemption checkpoint step $s: $(cat "$TMP/info")"
fi
if train 2 "$OUT" --steps $STEPS train.ckpt_every=1000 && grep -q "resuming from .*(step $s)" "$OUT.log"; then
  ok "resume after preemption"
else
  fail "resume: $(tail -5 "$OUT.log")"
fi
if same "$(ckpt_of "$TMP/ref" $STEPS)" "$(ckpt_of "$OUT" $STEPS)"; then
  ok "preempted + resumed == uninterrupted, bit for bit"
else
  fail "preempted + resumed differs: $(cat "$TMP/diff.out")"
fi

# ---- a rank killed: every rank ends, non-zero, within 60 s
OUT=$TMP/kill
mpirun --oversubscribe -np 3 "$VPCAST" train "$CONFIG" --out "$OUT" "${SMALL[@]}" --steps 100000 \
  train.log_every=1 >"$OUT.log" 2>&1 &
launcher=$!
BG_PIDS="$BG_PIDS $launcher"
if wait_step "$OUT" 3 60; then
  victim=$(rank_pid $launcher 1)
  t0=$(date +%s.%N)
  kill -9 "$victim"
  for k in $(seq 1 600); do
    kill -0 $launcher 2>/dev/null || break
    sleep 0.1
  done
  t1=$(date +%s.%N)
  wait $launcher
  rc=$?
  left=$(pgrep -f -- "--out $OUT" | wc -l)
  dt=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }')
  if [ "$rc" != 0 ] && [ "$left" = 0 ] && awk -v d="$dt" 'BEGIN { exit !(d < 60) }'; then
    ok "rank 1 killed: all ranks gone, status $rc, after $dt s"
  else
    fail "rank 1 killed: status $rc, $left processes left, $dt s"
  fi
  grep -q "rank 1" "$OUT.log" && ok "the output names rank 1" || fail "rank 1 not named: $(tail -8 "$OUT.log")"
else
  fail "3-rank run did not start: $(tail -5 "$OUT.log")"
fi

# ---- a rank that hangs (stopped): the watchdog ends the job
OUT=$TMP/hang
mpirun --oversubscribe -np 2 "$VPCAST" train "$CONFIG" --out "$OUT" "${SMALL[@]}" --steps 100000 \
  train.log_every=1 dist.timeout=5 >"$OUT.log" 2>&1 &
launcher=$!
BG_PIDS="$BG_PIDS $launcher"
if wait_step "$OUT" 3 60; then
  victim=$(rank_pid $launcher 1)
  t0=$(date +%s.%N)
  kill -STOP "$victim"
  for k in $(seq 1 600); do
    kill -0 $launcher 2>/dev/null || break
    sleep 0.1
  done
  t1=$(date +%s.%N)
  wait $launcher
  rc=$?
  kill -9 "$victim" 2>/dev/null
  dt=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }')
  if [ "$rc" != 0 ] && awk -v d="$dt" 'BEGIN { exit !(d >= 4 && d < 60) }'; then
    ok "rank 1 stopped: the job ends, status $rc, after $dt s (dist.timeout 5 s)"
  else
    fail "rank 1 stopped: status $rc after $dt s"
  fi
  grep -q "rank 0: no progress for [0-9]* s (dist.timeout): rank 1 (pid $victim on node .*) is stopped" "$OUT.log" &&
    ok "rank 0's watchdog names the stopped rank 1" || fail "watchdog message: $(grep error "$OUT.log" | head -3)"
else
  fail "2-rank run did not start: $(tail -5 "$OUT.log")"
fi
finish
