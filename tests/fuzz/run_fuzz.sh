#!/bin/sh
# Builds the libFuzzer targets with clang (ASan + UBSan + libFuzzer) and runs
# each named TARGET for SECONDS, one after the other (all of them if none is
# named). Exits non-zero at the first crash, leak, timeout or sanitizer
# error; the reproducer is then in BUILD_DIR/fuzz-artifacts/.
#
#   tests/fuzz/run_fuzz.sh SECONDS BUILD_DIR [TARGET...]
#
#   TARGET: request_decoder  msgpack-RPC scanner + parser + dispatch
#           http_parser      admin HTTP request parser
#
# The seed corpora (tests/fuzz/corpus, tests/fuzz/corpus_http) are read,
# never written: new inputs go to BUILD_DIR/fuzz-corpus and
# BUILD_DIR/fuzz-corpus-http, which persist between runs.
set -eu

if [ $# -lt 2 ]; then
  echo "usage: $0 SECONDS BUILD_DIR [request_decoder|http_parser]..." >&2
  exit 2
fi
seconds=$1
build=$2
shift 2
[ $# -gt 0 ] || set -- request_decoder http_parser
here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/../.." && pwd)

for t in "$@"; do
  case $t in
    request_decoder|http_parser) ;;
    *) echo "$0: unknown target '$t'" >&2; exit 2 ;;
  esac
done

if [ ! -f "$build/CMakeCache.txt" ]; then
  CC=clang CXX=clang++ cmake -S "$src" -B "$build" -G Ninja \
    -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ \
    -DSTRATA_SANITIZE=ON -DSTRATA_FUZZ=ON -DSTRATA_BUILD_BENCH=OFF
else
  # An existing build dir keeps its compiler (it must be clang; CMake says so).
  cmake -S "$src" -B "$build" -DSTRATA_SANITIZE=ON -DSTRATA_FUZZ=ON >/dev/null
fi
targets=""
for t in "$@"; do targets="$targets ${t}_fuzz"; done
# shellcheck disable=SC2086  # one word per target
cmake --build "$build" --target $targets

mkdir -p "$build/fuzz-artifacts"
for t in "$@"; do
  case $t in
    request_decoder) seeds=corpus; dict=request_decoder.dict; corpus=fuzz-corpus; len=100 ;;  # the default
    # len_control=0: inputs up to max_len from the start, not grown slowly,
    # because the parser's limits (1 KiB head, 256 B body) are what it tests.
    http_parser) seeds=corpus_http; dict=http_parser.dict; corpus=fuzz-corpus-http; len=0 ;;
  esac
  mkdir -p "$build/$corpus"
  echo "== ${t}_fuzz, $seconds s"
  # detect_leaks is on by default with ASan on Linux; said here because the
  # targets must not leak.
  ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=0 \
  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  "$build/tests/fuzz/${t}_fuzz" \
    -max_total_time="$seconds" \
    -timeout=10 \
    -rss_limit_mb=2048 \
    -max_len=4096 \
    -len_control="$len" \
    -print_final_stats=1 \
    -dict="$here/$dict" \
    -artifact_prefix="$build/fuzz-artifacts/" \
    "$build/$corpus" "$here/$seeds"
done
