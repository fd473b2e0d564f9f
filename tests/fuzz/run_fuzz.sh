#!/bin/sh
# Builds request_decoder_fuzz with clang (ASan + UBSan + libFuzzer) and runs
# it for SECONDS. Exits non-zero if the fuzzer finds a crash, leak, timeout or
# sanitizer error; the reproducer is then in BUILD_DIR/fuzz-artifacts/.
#
#   tests/fuzz/run_fuzz.sh SECONDS BUILD_DIR
#
# The seed corpus (tests/fuzz/corpus) is read, never written: new inputs go
# to BUILD_DIR/fuzz-corpus, which persists between runs.
set -eu

if [ $# -ne 2 ]; then
  echo "usage: $0 SECONDS BUILD_DIR" >&2
  exit 2
fi
seconds=$1
build=$2
here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/../.." && pwd)

if [ ! -f "$build/CMakeCache.txt" ]; then
  CC=clang CXX=clang++ cmake -S "$src" -B "$build" -G Ninja \
    -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ \
    -DSTRATA_SANITIZE=ON -DSTRATA_FUZZ=ON -DSTRATA_BUILD_BENCH=OFF
else
  # An existing build dir keeps its compiler (it must be clang; CMake says so).
  cmake -S "$src" -B "$build" -DSTRATA_SANITIZE=ON -DSTRATA_FUZZ=ON >/dev/null
fi
cmake --build "$build" --target request_decoder_fuzz

mkdir -p "$build/fuzz-corpus" "$build/fuzz-artifacts"
# detect_leaks is on by default with ASan on Linux; said here because the
# target must not leak.
ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=0 \
UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
"$build/tests/fuzz/request_decoder_fuzz" \
  -max_total_time="$seconds" \
  -timeout=10 \
  -rss_limit_mb=2048 \
  -max_len=4096 \
  -print_final_stats=1 \
  -dict="$here/request_decoder.dict" \
  -artifact_prefix="$build/fuzz-artifacts/" \
  "$build/fuzz-corpus" "$here/corpus"
