#!/bin/sh
# Builds and runs every L1 measurement in this folder; writes each program's
# output to $OUT (default /tmp/l1-results). Total: about 2.5-5 minutes on the
# 2-vCPU dev VM. Each step is bounded by `timeout`. After each step it prints
# the CPU seconds the step used and what everything else on the machine used
# meanwhile (from /proc/stat), since the VM is shared.
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
busy() { awk '/^cpu /{print $2+$3+$4+$7+$8+$9}' /proc/stat; }  # jiffies, all CPUs
run() {
  name=$1; shift; echo "== $name: $*"
  b0=$(busy)
  /usr/bin/time -f "%e %U %S" -o "$OUT/$name.time" timeout 600 "$@" > "$OUT/$name.txt" ||
    echo "(exit status $?)" >> "$OUT/$name.txt"
  b1=$(busy)
  cat "$OUT/$name.txt"
  set -- $(tail -n 1 "$OUT/$name.time")  # wall user sys
  awk -v w="$1" -v u="$2" -v s="$3" -v b0="$b0" -v b1="$b1" -v hz="$(getconf CLK_TCK)" \
    'BEGIN { self = u + s; printf "-- wall %.1f s; CPU: this step %.1f s, everything else %.1f s\n",
             w, self, (b1 - b0) / hz - self }' | tee -a "$OUT/$name.txt"
}

run eviction   "$B/l1-eviction-sim"
run memory     "$B/l1-memory" --entries=1000000
run memory-2t  "$B/l1-memory" --entries=1000000 --threads=2
for n in 500000 1500000 1650000 1900000 2000000 3200000; do
  run memory-$n "$B/l1-memory" --entries=$n
done
run growth     "$B/l1-growth" --entries=10000000 --threads=2 --index-doublings=10000000
run expiry     "$B/l1-expiry" --entries=1000000
run expiry-mix "$B/l1-expiry" --entries=500000 --permanent=500000 --max-ticks=600
run expiry-mix-old-params "$B/l1-expiry" --entries=500000 --permanent=500000 --max-ticks=600 \
    --batch=256 --max-total=16384
run dead-reclaim-base "$B/l1-dead-reclaim" --entries=1000000 --erase-every=0
run dead-reclaim      "$B/l1-dead-reclaim" --entries=1000000 --erase-every=7
run dead-reclaim-4m-base "$B/l1-dead-reclaim" --entries=4000000 --erase-every=0
run dead-reclaim-4m   "$B/l1-dead-reclaim" --entries=4000000 --erase-every=7
run dead-reclaim-1sh  "$B/l1-dead-reclaim" --entries=1000000 --erase-every=7 --shards=1 --inserts=50000
run server-memory     /usr/bin/python3 "$SRC/bench/l1/server_l1.py" memory --strata "$BUILD/proxy/strata"
run server-memory-1650k /usr/bin/python3 "$SRC/bench/l1/server_l1.py" memory --strata "$BUILD/proxy/strata" \
    --keys 1650000
run server-expiry     /usr/bin/python3 "$SRC/bench/l1/server_l1.py" expiry --strata "$BUILD/proxy/strata"
run server-expiry-mix /usr/bin/python3 "$SRC/bench/l1/server_l1.py" expiry --strata "$BUILD/proxy/strata" \
    --permanent=200000 --max-wait=20
