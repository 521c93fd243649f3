#!/bin/bash
# test_cli.sh: drives the real vpcast binary: help texts, version output,
# unknown commands / options / keys with suggestions and exit status 2,
# and `config check` on good and bad configs.
# usage: bash tests/cli/test_cli.sh path/to/vpcast
# Ends with "N passed, N failed"; exits non-zero on any failure.
set -u
VPCAST=${1:?usage: test_cli.sh path/to/vpcast}
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
CFG=$ROOT/configs/test
TMP=$(mktemp -d "${TMPDIR:-/tmp}/vpcast-cli-test.XXXXXX") || exit 1
trap 'rm -rf "$TMP"' EXIT
passed=0
failed=0

# run ARGS...: runs vpcast, keeping stdout, stderr and the exit status.
run() {
  "$VPCAST" "$@" >"$TMP/out" 2>"$TMP/err"
  rc=$?
}

ok() { passed=$((passed + 1)); }
fail() {
  failed=$((failed + 1))
  echo "FAIL: $1" >&2
  echo "  exit status: $rc" >&2
  sed 's/^/  stdout: /' "$TMP/out" | head -20 >&2
  sed 's/^/  stderr: /' "$TMP/err" | head -20 >&2
}

# expect NAME STATUS [out|err PATTERN]...: the last run exited with STATUS
# and each stream contains its fixed-string pattern.
expect() {
  local name=$1 want=$2
  shift 2
  if [ "$rc" != "$want" ]; then
    fail "$name: exit status $rc, expected $want"
    return
  fi
  while [ $# -ge 2 ]; do
    if ! grep -qF -- "$2" "$TMP/$1"; then
      fail "$name: std$1 lacks '$2'"
      return
    fi
    shift 2
  done
  ok
}

# ---- help ----
run --help
expect "vpcast --help" 0 out "usage: vpcast <command>" out "version " out "config " out "Exit status"
run
expect "vpcast with no command" 2 err "usage: vpcast <command>"
run version --help
expect "version --help" 0 out "usage: vpcast version" out "--json" out "-h, --help"
run help version
expect "vpcast help version" 0 out "usage: vpcast version"
run config --help
expect "config --help" 0 out "subcommands:" out "check "
run config
expect "config without subcommand" 2 err "subcommands:"
run config check --help
expect "config check --help" 0 out "usage: vpcast config check CONFIG" out "--steps N" \
  out "train.lr_schedule" out "one of constant|warmup_linear|cosine; default constant" \
  out "train.betas" out "list of 2 floats in [0, 1); default [0.9, 0.999]" out "model.name" out "required"

# ---- version ----
run version
expect "version" 0 out "vpcast 0.1.0" out "git "
for b in openmp blas mpi hdf5 netcdf cuda cudnn nccl png yaml; do
  if grep -qE "^  $b +(yes|no)" "$TMP/out"; then ok; else fail "version lists backend $b"; fi
done
if grep -qE "^  yaml +yes +[0-9]+\.[0-9]+" "$TMP/out" && grep -qE "^  hdf5 +yes +[0-9]+\.[0-9]+\.[0-9]+" "$TMP/out"; then
  ok
else
  fail "version shows library versions"
fi
run --version
expect "--version" 0 out "vpcast 0.1.0"
run version --json
expect "version --json" 0 out '"version": "0.1.0"' out '"backends": {' out '"openmp": {"enabled": ' \
  out '"nccl": {"enabled": '
if command -v /usr/bin/python3 >/dev/null; then
  if /usr/bin/python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert set(d["backends"]) >= {"openmp","blas","mpi","hdf5","netcdf","cuda","cudnn","nccl","png","yaml"}' "$TMP/out"; then
    ok
  else
    fail "version --json is valid JSON with every backend"
  fi
fi
run version extra
expect "version with an extra argument" 2 err "unexpected argument 'extra'"

# ---- unknown commands, options, keys ----
run versoin
expect "unknown command" 2 err "unknown command 'versoin'" err "did you mean 'version'?"
run config chek x.yaml
expect "unknown subcommand" 2 err "unknown subcommand 'chek'" err "did you mean 'check'?"
run version --jsn
expect "unknown option" 2 err "unknown option '--jsn' (command line); did you mean '--json'?"
run config check "$CFG/cli_good.yaml" --stesp 3
expect "unknown flag" 2 err "did you mean '--steps'?"
run config check "$CFG/cli_good.yaml" --steps
expect "flag without value" 2 err "'--steps' (command line) needs a value"
run config check "$CFG/cli_good.yaml" train.lrr=1e-4
expect "unknown key on the command line" 2 err "unknown key 'train.lrr' (command line); did you mean 'train.lr'?"
run config check "$CFG/cli_good.yaml" lr=1e-4
expect "key without its section" 2 err "did you mean 'train.lr'?"

# ---- config check ----
run config check "$CFG/cli_good.yaml"
expect "config check good" 0 out "seed: 7" out "  lr: 0.0002" out "  lr_schedule: cosine" \
  out "  betas: [0.9, 0.99]" out "  ema_warmup: false" out "  size: [32, 48]" out "  channel_mult: [1, 2]" \
  out "  grad_clip: 1.0"
cp "$TMP/out" "$TMP/effective.yaml"
run config check "$TMP/effective.yaml"
if [ "$rc" = 0 ] && diff <(grep -v '^#' "$TMP/effective.yaml") <(grep -v '^#' "$TMP/out") >/dev/null; then
  ok
else
  fail "the effective config checks clean and reproduces itself"
fi
run config check "$CFG/cli_good.yaml" train.lr=3e-4 --steps 50 train.steps=60 'model.channel_mult=[1, 2, 8]'
expect "overrides, later wins" 0 out "  lr: 0.0003" out "  steps: 60" out "  channel_mult: [1, 2, 8]"
run config check "$CFG/cli_good.yaml" --quiet
expect "config check --quiet" 0
if [ ! -s "$TMP/out" ]; then ok; else fail "--quiet prints nothing"; fi
run config check "$CFG/cli_good.yaml" --resume auto
expect "cli-only flag accepted, not dumped" 0
if ! grep -q resume "$TMP/out"; then ok; else fail "resume is not in the effective config"; fi
run config check "$CFG/cli_bad_key.yaml"
expect "config check bad keys" 2 err "unknown key 'train.lrr' ($CFG/cli_bad_key.yaml:6); did you mean 'train.lr'?" \
  err "unknown key 'train.stesp' ($CFG/cli_bad_key.yaml:7); did you mean 'train.steps'?"
run config check "$CFG/cli_bad_values.yaml"
expect "config check bad values" 2 err "train.steps = 'lots' ($CFG/cli_bad_values.yaml:5): not an integer" \
  err "train.lr = '-1' ($CFG/cli_bad_values.yaml:6): out of range; allowed: float in (0, 10]" \
  err "did you mean 'cosine'?" err "train.betas = [0.9]" err "data.size = [32, 0]"
run config check "$CFG/cli_bad_syntax.yaml"
expect "config check YAML syntax error" 2 err "$CFG/cli_bad_syntax.yaml:4:1: YAML syntax error"
run config check "$CFG/cli_bad_cross.yaml"
expect "config check cross-key errors" 2 err "train.warmup_steps = 100" err "must be less than train.steps" \
  err "set data.path"
run config check "$CFG/cli_good.yaml" out=
expect "empty required value" 2 err "out = '' (command line): a required key needs a non-empty value"
run config check "$TMP/missing.yaml"
expect "config check missing file" 2 err "cannot open config file"
run config check
expect "config check without CONFIG" 2 err "usage: vpcast config check CONFIG"
run config check "$CFG/cli_bad_key.yaml" --help
expect "--help wins over errors" 0 out "usage: vpcast config check"

echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
