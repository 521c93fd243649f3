#!/bin/bash
# test_train_slurm.sh: slurm/train.sbatch on a one-node Slurm cluster
# started for the test (munge + slurmctld + slurmd, all state under a temp
# directory, as in spec/toolchain.md section 5): the job runs 2 ranks with
# `srun --mpi=pmix`; SIGUSR1 to its tasks (scancel --signal USR1, what
# --signal=USR1@N does before the time limit) makes every rank checkpoint
# and exit 42; the script requeues the job; the requeued job resumes from
# LATEST and finishes bit-identical to an uninterrupted 2-rank run.
# Skipped (and passes) when Slurm is not installed.
# usage: bash tests/mpi/test_train_slurm.sh path/to/vpcast
# Ends with "N passed, N failed"; exits non-zero on any failure.
source "$(dirname "$0")/lib_train.sh"
need_mpi

for prog in slurmctld slurmd munged mungekey sbatch srun scontrol scancel; do
  if ! command -v $prog >/dev/null 2>&1 && ! [ -x /usr/sbin/$prog ]; then
    echo "skipped: $prog not installed (apt-get install slurmctld slurmd slurm-client munge)"
    finish
  fi
done
export PATH=$PATH:/usr/sbin

# ---- a one-node cluster under $TMP/slurm
S=$TMP/slurm
chmod 755 "$TMP"  # munged wants a+x on every directory above its socket
mkdir -p "$S/munge" "$S/state" "$S/spool" "$S/log" "$S/run"
chmod 755 "$S/munge"
# Ports from the pid, so two test runs on one machine do not collide.
PORT=$((20000 + ($$ % 10000) * 2))
cat >"$S/slurm.conf" <<EOF
ClusterName=vptest
SlurmctldHost=localhost
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$S/munge/munge.socket
SlurmctldPort=$PORT
SlurmdPort=$((PORT + 1))
StateSaveLocation=$S/state
SlurmdSpoolDir=$S/spool
SlurmctldPidFile=$S/run/slurmctld.pid
SlurmdPidFile=$S/run/slurmd.pid
SlurmctldLogFile=$S/log/slurmctld.log
SlurmdLogFile=$S/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
MpiDefault=none
SwitchType=switch/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
MailProg=/bin/true
ReturnToService=2
SlurmdTimeout=60
InactiveLimit=0
KillWait=5
MinJobAge=30
SchedulerParameters=batch_sched_delay=0,sched_min_interval=0
NodeName=localhost NodeAddr=127.0.0.1 CPUs=2 Sockets=1 CoresPerSocket=2 ThreadsPerCore=1 RealMemory=4000 State=UNKNOWN
PartitionName=debug Nodes=localhost Default=YES MaxTime=INFINITE State=UP OverSubscribe=NO
EOF
export SLURM_CONF=$S/slurm.conf
stop_cluster() {
  for f in "$S/run/slurmd.pid" "$S/run/slurmctld.pid" "$S/munge/munged.pid"; do
    [ -s "$f" ] || continue
    p=$(cat "$f")
    kill -TERM "$p" 2>/dev/null
    for i in $(seq 1 100); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$p" 2>/dev/null
  done
  cleanup
}
trap stop_cluster EXIT
[ -n "${VP_TEST_KEEP:-}" ] && trap "cp -r $TMP /tmp/tr/slurmkeep; stop_cluster" EXIT
mungekey -c -b 1024 -k "$S/munge/munge.key" >/dev/null 2>&1 && chmod 400 "$S/munge/munge.key"
munged -S "$S/munge/munge.socket" --key-file="$S/munge/munge.key" --pid-file="$S/munge/munged.pid" \
  --log-file="$S/log/munged.log" --seed-file="$S/munge/munged.seed" || { fail "munged did not start"; finish; }
slurmctld -f "$SLURM_CONF" -c || { fail "slurmctld did not start: $(tail -3 "$S/log/slurmctld.log")"; finish; }
slurmd -f "$SLURM_CONF" -N localhost || { fail "slurmd did not start: $(tail -3 "$S/log/slurmd.log")"; finish; }
up=0
for i in $(seq 1 100); do
  [ "$(sinfo -h -n localhost -o %T 2>/dev/null)" = idle ] && { up=1; break; }
  sleep 0.1
done
[ $up = 1 ] && ok "one-node Slurm cluster up" || { fail "node not idle: $(sinfo 2>&1 | tail -2)"; finish; }
if ! srun --mpi=list 2>&1 | grep -q pmix; then
  echo "skipped: this Slurm has no PMIx plugin (srun --mpi=list)"
  finish
fi

STEPS=60
ARGS=(--steps $STEPS train.ckpt_every=1000 train.log_every=1 "${SMALL[@]}")
if train 2 "$TMP/ref" --steps $STEPS train.ckpt_every=1000; then
  ok "uninterrupted 2-rank reference (mpirun)"
else
  fail "reference: $(tail -5 "$TMP/ref.log")"
fi

OUT=$TMP/job
job=$(VPCAST=$VPCAST sbatch --parsable --output="$TMP/job-%j.out" --chdir="$TMP" \
  "$ROOT/slurm/train.sbatch" "$CONFIG" "$OUT" "${ARGS[@]}" 2>"$TMP/sbatch.err")
if [ -z "$job" ]; then
  fail "sbatch: $(cat "$TMP/sbatch.err")"
  finish
fi
if wait_step "$OUT" 5 60; then
  scancel --signal=USR1 "$job"
  ok "job $job running; SIGUSR1 sent to its tasks"
else
  fail "job $job did not train: $(cat "$TMP"/job-*.out 2>/dev/null | tail -5) $(scontrol show job "$job" | grep -o 'JobState=[A-Z]*')"
  finish
fi
# The job: exit 42 -> requeue -> resume -> exit 0. Slurm holds a requeued
# job back for a while (its begin time); the test moves that to now.
state=""
released=0
for i in $(seq 1 1800); do
  state=$(scontrol -o show job "$job" 2>/dev/null | grep -o 'JobState=[A-Z_]*' | cut -d= -f2)
  # Done once a run of the job ended with a status other than 42 (the
  # first run's requeue may show COMPLETED for a moment).
  last=$(grep -o 'vpcast exited with status [0-9]*' "$TMP/job-$job.out" 2>/dev/null | tail -1 | grep -o '[0-9]*$')
  if [ -n "$last" ] && [ "$last" != 42 ]; then
    case "$state" in COMPLETED | FAILED | CANCELLED | TIMEOUT) break ;; esac
  fi
  case "$state" in FAILED | CANCELLED | TIMEOUT) break ;; esac
  if [ "$state" = PENDING ] && [ $released = 0 ]; then
    # Give slurmd a few seconds to finish tearing down the first run's step
    # (its PMIx socket has the same step id), as the hold would.
    sleep 5
    scontrol update JobId="$job" StartTime=now >/dev/null 2>&1 && released=1
  fi
  sleep 0.1
done
log=$(cat "$TMP"/job-"$job".out 2>/dev/null)
if [ "$state" = COMPLETED ] && echo "$log" | grep -q "(restart 0) .*: 2 tasks" && echo "$log" | grep -q "exited with status 42" &&
  echo "$log" | grep -q "(restart 1)" && echo "$log" | grep -q "exited with status 0"; then
  ok "exit 42 -> scontrol requeue -> the requeued job finished (state $state)"
else
  fail "job $job ended $state: $log"
fi
echo "$log" | grep -q "preempted by SIGUSR1" && ok "every rank checkpointed on SIGUSR1" || fail "no preemption line"
s=$(echo "$log" | grep -o 'resuming from .*(step [0-9]*)' | grep -o '[0-9]*)$' | tr -d ')')
[ -n "$s" ] && [ "$s" -lt $STEPS ] && ok "the requeued job resumed at step $s" || fail "no resume line in the job output"
if same "$(ckpt_of "$TMP/ref" $STEPS)" "$(ckpt_of "$OUT" $STEPS)"; then
  ok "preempted + requeued job == uninterrupted run, bit for bit"
else
  fail "requeued job differs: $(cat "$TMP/diff.out")"
fi
finish
