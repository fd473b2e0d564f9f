#!/usr/bin/env bash
# What the per-tier lookup metrics cost: strata-bench against Strata with
# admin.tier_metrics=true and =false, alternating, PAIRS times; prints every
# run and the medians of ops/s and server CPU per op. L1-only (strata-bench's
# default Strata: no L3), GET-heavy (90% gets, all hits after --preload), 50
# connections at depth 4, one worker thread: the path where two timestamps
# and a histogram record per lookup weigh the most.
#
# Environment overrides: BUILD_DIR [<repo>/build-release] NO_BUILD [] PAIRS [6]
#   DURATION [8] WARMUP [2] OUT [bench/results/<date>-metrics-overhead.txt]
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BUILD_DIR=${BUILD_DIR:-$ROOT/build-release}
PAIRS=${PAIRS:-6}
DURATION=${DURATION:-8}
WARMUP=${WARMUP:-2}
if [[ -z ${NO_BUILD:-} ]]; then
  cmake -S "$ROOT" -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=Release -DSTRATA_BUILD_TESTS=OFF >/dev/null
  cmake --build "$BUILD_DIR" --target strata strata-bench -j"$(nproc)"
fi
mkdir -p "$ROOT/bench/results"
OUT=${OUT:-$ROOT/bench/results/$(date +%Y-%m-%d)-metrics-overhead.txt}
{
  echo "# admin.tier_metrics on vs off, $(date -u +%FT%TZ), commit $(git -C "$ROOT" rev-parse --short HEAD)"
  echo "# load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
  echo "# columns: tier_metrics ops/s p50us p99us p99.9us srv_us/op"
  for ((i = 0; i < PAIRS; i++)); do
    for tm in true false; do
      line=$("$BUILD_DIR/bench/strata-bench" --target strata --strata-bin "$BUILD_DIR/proxy/strata" \
        --strata-threads 1 --strata-arg=--admin.tier_metrics=$tm --keyspace 100000 --preload \
        --get-ratio 0.9 --connections 50 --depth 4 --duration "$DURATION" --warmup "$WARMUP" \
        --quiet | grep -E '^1 ' | awk '{print $4, $5, $6, $7, $13}')
      echo "$tm $line"
    done
  done
} | tee "$OUT"
/usr/bin/python3 - "$OUT" <<'PY' | tee -a "$OUT"
import statistics, sys
ops, cpu = {"true": [], "false": []}, {"true": [], "false": []}
for line in open(sys.argv[1]):
    f = line.split()
    if f and f[0] in ops and len(f) == 6:
        ops[f[0]].append(float(f[1]))
        cpu[f[0]].append(float(f[5]))
on, off = statistics.median(ops["true"]), statistics.median(ops["false"])
print("median ops/s over %d pairs: on %.0f, off %.0f: on/off = %.3f; median srv_us/op: on %.2f, off %.2f"
      % (len(ops["true"]), on, off, on / off, statistics.median(cpu["true"]),
         statistics.median(cpu["false"])))
PY
