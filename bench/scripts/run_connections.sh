#!/usr/bin/env bash
# Strata vs Redis across connection counts (1, 10, 50, 100, 500, 1000) at a
# fixed pipeline depth: L1-hit GETs, every key preloaded, fresh servers per
# run, alternating rounds. Output: terminal and bench/results/<date>-connections.txt.
#
# Environment overrides (defaults in brackets):
#   BUILD_DIR [<repo>/build-release]  LEVELS ["1 10 50 100 500 1000"]  DEPTH [1]
#   KEYSPACE [1000000]  DURATION [5]  WARMUP [1]  ROUNDS [2]  STRATA_THREADS [1]
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BUILD_DIR=${BUILD_DIR:-$ROOT/build-release}
REDIS_SERVER=${REDIS_SERVER:-$(command -v redis-server || echo /usr/bin/redis-server)}
LEVELS=${LEVELS:-"1 10 50 100 500 1000"}
DEPTH=${DEPTH:-1}
KEYSPACE=${KEYSPACE:-1000000}
DURATION=${DURATION:-5}
WARMUP=${WARMUP:-1}
ROUNDS=${ROUNDS:-2}
STRATA_THREADS=${STRATA_THREADS:-1}

cmake -S "$ROOT" -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=Release -DSTRATA_BUILD_TESTS=OFF >/dev/null
cmake --build "$BUILD_DIR" --target strata strata-bench -j"$(nproc)"
ulimit -n 8192 2>/dev/null || true

mkdir -p "$ROOT/bench/results"
OUT=$ROOT/bench/results/$(date +%Y-%m-%d)-connections.txt
{
  echo "# strata-bench connection levels, $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "# commit: $(git -C "$ROOT" rev-parse --short HEAD)$(git -C "$ROOT" diff --quiet || echo ' (with uncommitted changes)')"
  echo "# host: $(uname -srm); $(nproc) cores; strata --server.threads=$STRATA_THREADS; depth $DEPTH"
  for c in $LEVELS; do
    echo
    echo "## $c connections"
    "$BUILD_DIR/bench/strata-bench" --target both --strata-bin "$BUILD_DIR/proxy/strata" \
      --strata-threads "$STRATA_THREADS" --redis-server "$REDIS_SERVER" \
      --keyspace "$KEYSPACE" --preload --get-ratio 1 --connections "$c" --depth "$DEPTH" \
      --duration "$DURATION" --warmup "$WARMUP" --rounds "$ROUNDS" || echo "# run failed: $?"
  done
} 2>&1 | tee "$OUT"
