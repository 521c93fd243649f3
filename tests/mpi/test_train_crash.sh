#!/bin/bash
# test_train_crash.sh: crash safety of checkpoints. The trainer (one
# process, configs/test/tiny_ddpm.yaml made small, a checkpoint every 2
# steps) is killed with SIGKILL 20 times, at three kinds of moments in turn:
#   - a random time (mostly mid-step);
#   - while a checkpoint's temporary file is being written;
#   - after its rename, before LATEST is updated.
# (VP_CKPT_TEST_PAUSE_MS stretches the commit so the last two are hit for
# sure; the pause changes no number.) After every kill:
#   - LATEST names a complete checkpoint (`vpcast ckpt info` verifies
#     every tensor and checksum);
#   - the next start resumes from exactly that checkpoint (--resume auto).
# Then the run is let finish: its final checkpoint equals an uninterrupted
# run's bit for bit, and log.jsonl holds each step record once, in order.
# usage: bash tests/mpi/test_train_crash.sh path/to/vpcast
# Ends with "N passed, N failed"; exits non-zero on any failure.
source "$(dirname "$0")/lib_train.sh"

STEPS=60
ARGS=(--steps $STEPS train.ckpt_every=2 train.ckpt_keep=2 train.log_every=2)

if train 0 "$TMP/ref" "${ARGS[@]}"; then
  ok "uninterrupted reference run"
else
  fail "reference run: $(tail -5 "$TMP/ref.log")"
  finish
fi

OUT=$TMP/crash
RANDOM=4242  # the kill times are random but repeatable
kills=0
checked=0
resume_ok=0
latest_ok=0
in_write=0
in_publish=0
newest_step() {
  local f
  f=$(ls "$OUT"/ckpt/step_*.h5 2>/dev/null | tail -1)
  f=${f##*/step_}
  f=${f%.h5}
  echo $((10#${f:-0}))
}
for i in $(seq 1 20); do
  expect=$(latest_step "$OUT")
  before=$(newest_step)  # may exceed LATEST: a file renamed but never published
  mode=$((i % 3))  # 0: random time, 1: in the temp-file write, 2: between rename and LATEST
  pause=0
  [ $mode != 0 ] && pause=300
  VP_CKPT_TEST_PAUSE_MS=$pause "$VPCAST" train "$CONFIG" --out "$OUT" "${SMALL[@]}" "${ARGS[@]}" \
    >"$TMP/run$i.log" 2>&1 &
  pid=$!
  BG_PIDS="$BG_PIDS $pid"
  if [ $mode = 0 ]; then
    sleep "0.$((2 + RANDOM % 6))"
  else
    # After start-up (which deletes stray temp files), wait for this run's
    # commit phase, then kill inside its pause.
    for k in $(seq 1 500); do
      grep -q "vpcast train:" "$TMP/run$i.log" 2>/dev/null && break
      sleep 0.01
    done
    for k in $(seq 1 500); do
      [ $mode = 1 ] && ls "$OUT"/ckpt/.step_*.tmp >/dev/null 2>&1 && break
      [ $mode = 2 ] && [ "$(newest_step)" -gt "$before" ] && [ "$(newest_step)" -gt "$(latest_step "$OUT")" ] && break
      sleep 0.01
    done
    sleep 0.$((RANDOM % 2))5
  fi
  if kill -0 $pid 2>/dev/null; then
    kill -9 $pid
    kills=$((kills + 1))
  fi
  wait $pid 2>/dev/null
  # Where the kill landed: a temp file left, or a new step file not yet in LATEST.
  ls "$OUT"/ckpt/.step_*.tmp >/dev/null 2>&1 && in_write=$((in_write + 1))
  n=$(newest_step)
  [ "$n" -gt "$before" ] && [ "$n" -gt "$(latest_step "$OUT")" ] && in_publish=$((in_publish + 1))
  # The run started from the checkpoint LATEST named before it started.
  if grep -q "vpcast train:" "$TMP/run$i.log"; then
    checked=$((checked + 1))
    if [ "$expect" = 0 ]; then
      grep -q "resuming from" "$TMP/run$i.log" || resume_ok=$((resume_ok + 1))
    elif grep -q "resuming from .*step_$(printf %08d "$expect").h5 (step $expect)" "$TMP/run$i.log"; then
      resume_ok=$((resume_ok + 1))
    else
      fail "kill $i: expected a resume from step $expect: $(grep resuming "$TMP/run$i.log")"
    fi
  fi
  # LATEST always names a complete checkpoint.
  s=$(latest_step "$OUT")
  if [ "$s" = 0 ] || "$VPCAST" ckpt info "$(ckpt_of "$OUT" "$s")" >"$TMP/info$i" 2>&1; then
    latest_ok=$((latest_ok + 1))
  else
    fail "kill $i (mode $mode): LATEST step $s incomplete: $(cat "$TMP/info$i")"
  fi
done
[ "$kills" -ge 18 ] && ok "$kills SIGKILLs landed" || fail "only $kills of 20 kills landed"
[ "$in_write" -ge 3 ] && ok "$in_write kills inside a checkpoint write (temp file left)" ||
  fail "only $in_write kills landed inside a checkpoint write"
[ "$in_publish" -ge 3 ] && ok "$in_publish kills between a rename and the LATEST update" ||
  fail "only $in_publish kills landed between a rename and the LATEST update"
[ "$latest_ok" = 20 ] && ok "after every kill LATEST named a complete checkpoint" || true
[ "$checked" -ge 10 ] && [ "$resume_ok" = "$checked" ] &&
  ok "each of $checked restarts resumed from the checkpoint LATEST named" ||
  fail "restarts checked $checked, resumed right $resume_ok"
grep -l "removed 1 temporary file" "$TMP"/run*.log >/dev/null &&
  ok "a stray temporary file of a killed commit was removed by the next start" ||
  fail "no restart found a stray temporary file"

# Let it finish.
if "$VPCAST" train "$CONFIG" --out "$OUT" "${SMALL[@]}" "${ARGS[@]}" >"$TMP/final.log" 2>&1; then
  ok "the interrupted run finishes (from step $(grep -o 'resuming from .*(step [0-9]*)' "$TMP/final.log" | grep -o '[0-9]*)$' | tr -d ')'))"
else
  fail "final run: $(tail -5 "$TMP/final.log")"
fi
if same "$(ckpt_of "$TMP/ref" $STEPS)" "$(ckpt_of "$OUT" $STEPS)"; then
  ok "the interrupted run ends bit-identical to the uninterrupted one"
else
  fail "interrupted vs uninterrupted: $(cat "$TMP/diff.out")"
fi
want=$(seq 2 2 $STEPS | tr '\n' ' ')
got=$(grep -o '^{"step": [0-9]*' "$OUT/log.jsonl" | grep -o '[0-9]*$' | tr '\n' ' ')
[ "$got" = "$want" ] && ok "log.jsonl: every step record once, in order" || fail "log.jsonl steps: $got"
finish
