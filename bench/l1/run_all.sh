#!/bin/sh
# Builds and runs every L1 measurement in this folder; writes each program's
# output to $OUT (default /tmp/l1-results). Total: about 3-5 minutes on the
# 2-vCPU dev VM. Each step is bounded by `timeout`.
#
#   bench/l1/run_all.sh [BUILD_DIR]
set -eu
SRC=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=${1:-$SRC/build-l1}
OUT=${OUT:-/tmp/l1-results}
mkdir -p "$OUT"
cmake -S "$SRC" -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release -DSTRATA_BUILD_TESTS=OFF >/dev/null
ninja -C "$BUILD" l1-eviction-sim l1-growth l1-memory l1-expiry l1-dead-reclaim strata >/dev/null
B=$BUILD/bench/l1
run() { name=$1; shift; echo "== $name: $*"; timeout 600 "$@" | tee "$OUT/$name.txt"; }

run eviction   "$B/l1-eviction-sim"
run memory     "$B/l1-memory" --entries=1000000
run memory-2t  "$B/l1-memory" --entries=1000000 --threads=2
for n in 500000 1500000 1600000 2000000 3200000; do
  run memory-$n "$B/l1-memory" --entries=$n
done
run growth     "$B/l1-growth" --entries=10000000 --threads=2 --index-doublings=10000000
run expiry     "$B/l1-expiry" --entries=1000000
run expiry-mix "$B/l1-expiry" --entries=500000 --permanent=500000 --max-ticks=600
run expiry-mix-all-shards "$B/l1-expiry" --entries=500000 --permanent=500000 --max-ticks=600 \
    --max-total=65536
run dead-reclaim-base "$B/l1-dead-reclaim" --entries=1000000 --erase-every=0
run dead-reclaim      "$B/l1-dead-reclaim" --entries=1000000 --erase-every=7
run dead-reclaim-4m   "$B/l1-dead-reclaim" --entries=4000000 --erase-every=7
run dead-reclaim-1sh  "$B/l1-dead-reclaim" --entries=1000000 --erase-every=7 --shards=1 --inserts=50000
run server-memory     /usr/bin/python3 "$SRC/bench/l1/server_l1.py" memory --strata "$BUILD/proxy/strata"
run server-expiry     /usr/bin/python3 "$SRC/bench/l1/server_l1.py" expiry --strata "$BUILD/proxy/strata"
run server-expiry-mix /usr/bin/python3 "$SRC/bench/l1/server_l1.py" expiry --strata "$BUILD/proxy/strata" \
    --permanent=200000 --max-wait=20
