#!/usr/bin/env bash
# test.sh: set everything up and run the whole test suite (what CI runs).
#  1. install missing packages (incl. PyTorch for golden generation)
#  2. release build with warnings as errors; all tests on the committed goldens
#  3. ASan+UBSan build; all tests on goldens regenerated with a fresh seed, so
#     the C code is checked against new PyTorch numbers every run
set -euo pipefail
cd "$(dirname "$0")/.."
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-2}

bash tools/setup.sh --test --no-build

echo "== release build (-Werror)"
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DVP_WERROR=ON >/dev/null
cmake --build build -j"$(nproc)" 2>&1 | grep -Ev '^\[ *[0-9]+%\]' || true
test -x build/vpcast || { echo "test.sh: build failed" >&2; exit 1; }
(cd build && ctest --output-on-failure -j2)

seed=${VP_GOLDEN_SEED:-$(( $(date +%s) % 100000 ))}
gdir=$(mktemp -d)
trap 'rm -rf "$gdir"' EXIT
echo "== goldens regenerated with seed $seed"
/usr/bin/python3 tools/golden/make_golden.py --seed "$seed" --out "$gdir" >/dev/null

echo "== sanitizer build (ASan + UBSan, CPU only), fresh goldens"
cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DVP_SANITIZE=ON -DVP_WERROR=ON -DVP_CUDA=OFF >/dev/null
cmake --build build-asan -j"$(nproc)" 2>&1 | grep -Ev '^\[ *[0-9]+%\]' || true
test -x build-asan/vpcast || { echo "test.sh: sanitizer build failed" >&2; exit 1; }
supp="$PWD/tests/lsan.supp"
# Leak detection runs on the tests that never start MPI. Tests that launch
# mpirun or initialise MPI run with it off: Open MPI unloads its plugins before
# exit, so their one-time allocations cannot even be named in a suppression.
# Memory errors and undefined behaviour are caught everywhere.
leak_tests='^test_(ops_|nn_|core|optim|rng|config|resize|csv|png|tfrecord|sampler|diffusion)'
(cd build-asan && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
   LSAN_OPTIONS=suppressions=$supp:print_suppressions=0 \
   VP_GOLDEN_DIR="$gdir" ctest --output-on-failure -j2 -R "$leak_tests")
(cd build-asan && ASAN_OPTIONS=detect_leaks=0 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
   VP_GOLDEN_DIR="$gdir" ctest --output-on-failure -j2 -E "$leak_tests")
