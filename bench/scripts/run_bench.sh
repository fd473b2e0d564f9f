#!/usr/bin/env bash
# The standard Strata-vs-Redis matrix: builds strata and strata-bench in
# Release, then runs L1-hit GETs (every key preloaded, get ratio 1) at 50
# connections with depth 1 and depth 16, both targets started fresh per run,
# 3 alternating rounds (strata, redis, strata, redis, ...). The output (table,
# JSON lines, RATIO lines, and the machine's state) goes to the terminal and to
# bench/results/<date>.txt.
#
# Environment overrides (defaults in brackets):
#   BUILD_DIR [<repo>/build-release]  REDIS_SERVER [redis-server on PATH]
#   KEYSPACE [1000000]  DURATION [10]  WARMUP [2]  ROUNDS [3]  CONNECTIONS [50]
#   DEPTHS ["1 16"]  STRATA_THREADS [1]  EXTRA_ARGS [] (passed to strata-bench)
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BUILD_DIR=${BUILD_DIR:-$ROOT/build-release}
REDIS_SERVER=${REDIS_SERVER:-$(command -v redis-server || echo /usr/bin/redis-server)}
KEYSPACE=${KEYSPACE:-1000000}
DURATION=${DURATION:-10}
WARMUP=${WARMUP:-2}
ROUNDS=${ROUNDS:-3}
CONNECTIONS=${CONNECTIONS:-50}
DEPTHS=${DEPTHS:-"1 16"}
STRATA_THREADS=${STRATA_THREADS:-1}
EXTRA_ARGS=${EXTRA_ARGS:-}

cmake -S "$ROOT" -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=Release -DSTRATA_BUILD_TESTS=OFF >/dev/null
cmake --build "$BUILD_DIR" --target strata strata-bench -j"$(nproc)"
BENCH=$BUILD_DIR/bench/strata-bench
STRATA=$BUILD_DIR/proxy/strata

mkdir -p "$ROOT/bench/results"
OUT=$ROOT/bench/results/$(date +%Y-%m-%d).txt
[[ -e $OUT ]] && OUT=$ROOT/bench/results/$(date +%Y-%m-%d-%H%M%S).txt

status=0
set +e  # a failed cell is recorded, not fatal; the exit status reports it
{
  echo "# strata-bench standard matrix, $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "# commit: $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)$(
    git -C "$ROOT" diff --quiet 2>/dev/null || echo ' (with uncommitted changes)')"
  echo "# host: $(uname -srm); $(nproc) cores; $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
  echo "# redis: $("$REDIS_SERVER" --version)"
  echo "# load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
  echo "# strata: $STRATA --server.threads=$STRATA_THREADS"
  for depth in $DEPTHS; do
    echo
    echo "## L1-hit GET: $CONNECTIONS connections, depth $depth, keyspace $KEYSPACE, preload, $ROUNDS rounds"
    # shellcheck disable=SC2086  # EXTRA_ARGS is a list of flags
    "$BENCH" --target both --strata-bin "$STRATA" --strata-threads "$STRATA_THREADS" \
      --redis-server "$REDIS_SERVER" --keyspace "$KEYSPACE" --get-ratio 1 --preload \
      --connections "$CONNECTIONS" --depth "$depth" --duration "$DURATION" --warmup "$WARMUP" \
      --rounds "$ROUNDS" --quiet $EXTRA_ARGS 2>&1 || { rc=$?; echo "# strata-bench exited $rc"; status=$rc; }
  done
  echo
  echo "# load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
  exit $status
} | tee "$OUT"
status=${PIPESTATUS[0]}
set -e
echo "results written to $OUT"
exit "$status"
