#!/usr/bin/env bash
# Durable writes: Strata's wal.sync against Redis's appendfsync, same run.
#
# For each pair (wal.sync / appendfsync) = always/always, interval/everysec,
# never/no: strata-bench --target both, all SETs (get ratio 0), 100-byte values
# over a 1M keyspace, 50 connections at depth 1, 3 alternating rounds. Strata
# runs write-behind to L3 (RocksDB) with its journal; Redis runs with
# appendonly yes. Each server gets a fresh, empty data directory per run
# ({run}, under TMP_DIR, which must be a real disk: the script refuses tmpfs).
# Per run it records Strata's wal_* counters (--strata-stats), Redis's INFO
# persistence (--redis-info) and every fdatasync/fsync/epoll_wait either server
# made in the measured window (--count-syscalls: `perf stat -p`).
#
# Redis rewrites its AOF in a forked child once the file doubles (its
# default auto-aof-rewrite-percentage 100, min size 64 MB): several times per
# round here. That child's CPU is counted as Redis's (strata-bench adds a
# server's descendants), and it competes with both servers for the two cores.
# A pair written wal:aof:norewrite runs Redis with auto-aof-rewrite-percentage
# 0 instead: the stricter baseline (an AOF that only grows).
#
# Then: a 1-connection `always` pair (sanity: with one client in flight a
# durable ack cannot be faster than one fdatasync) and strata-wal-bench
# (replay speed and raw append rates).
#
# Environment overrides (defaults in brackets):
#   BUILD_DIR [<repo>/build-release]  NO_BUILD [] (1 = use the binaries as built)
#   REDIS_SERVER [redis-server on PATH]  TMP_DIR [/tmp]  OUT [bench/results/<date>-wal.txt]
#   KEYSPACE [1000000]  VALUE_SIZE [100]  DURATION [10]  WARMUP [2]  ROUNDS [3]
#   CONNECTIONS [50]
#   PAIRS ["always:always interval:everysec interval:everysec:norewrite never:no"]
#   ALWAYS_THREADS ["1 2"] (--server.threads for the always pair; other pairs: 1)
#   SANITY [1] (the 1-connection always pair)  WAL_BENCH [1] (strata-wal-bench)
#   EXTRA_ARGS [] (passed to strata-bench)
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BUILD_DIR=${BUILD_DIR:-$ROOT/build-release}
REDIS_SERVER=${REDIS_SERVER:-$(command -v redis-server || echo /usr/bin/redis-server)}
TMP_DIR=${TMP_DIR:-/tmp}
KEYSPACE=${KEYSPACE:-1000000}
VALUE_SIZE=${VALUE_SIZE:-100}
DURATION=${DURATION:-10}
WARMUP=${WARMUP:-2}
ROUNDS=${ROUNDS:-3}
CONNECTIONS=${CONNECTIONS:-50}
PAIRS=${PAIRS:-"always:always interval:everysec interval:everysec:norewrite never:no"}
ALWAYS_THREADS=${ALWAYS_THREADS:-"1 2"}
SANITY=${SANITY:-1}
WAL_BENCH=${WAL_BENCH:-1}
EXTRA_ARGS=${EXTRA_ARGS:-}

fstype=$(stat -f -c %T "$TMP_DIR")
if [[ $fstype == tmpfs || $fstype == ramfs ]]; then
  echo "TMP_DIR=$TMP_DIR is $fstype: fsync costs nothing there; pick a directory on a disk" >&2
  exit 2
fi

if [[ -z ${NO_BUILD:-} ]]; then
  cmake -S "$ROOT" -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=Release -DSTRATA_BUILD_TESTS=OFF >/dev/null
  cmake --build "$BUILD_DIR" --target strata strata-bench strata-wal-bench -j"$(nproc)"
fi
BENCH=$BUILD_DIR/bench/strata-bench
STRATA=$BUILD_DIR/proxy/strata
WALBENCH=$BUILD_DIR/bench/wal/strata-wal-bench

mkdir -p "$ROOT/bench/results"
OUT=${OUT:-$ROOT/bench/results/$(date +%Y-%m-%d)-wal.txt}
[[ -e $OUT ]] && OUT=${OUT%.txt}-$(date +%H%M%S).txt
RAW=$(mktemp "$TMP_DIR/run_wal_bench.XXXXXX")
trap 'rm -f "$RAW" "$TMP_DIR"/run_wal_bench.probe.$$' EXIT

# One strata-bench pair. $1 label, $2 wal.sync, $3 appendfsync, $4 threads,
# $5 connections, $6 "norewrite" (Redis without automatic AOF rewrites) or "".
run_pair() {
  local label=$1 wal=$2 aof=$3 threads=$4 conns=$5 variant=${6:-}
  local rewrite=(--redis-arg=--auto-aof-rewrite-percentage --redis-arg=0)
  [[ $variant == norewrite ]] || rewrite=()
  echo
  echo "## $label: wal.sync=$wal (server.threads=$threads) vs appendfsync $aof" \
    "(AOF rewrite: $([[ $variant == norewrite ]] && echo off || echo 'Redis default'));" \
    "SET only, $conns connections, depth 1, keyspace $KEYSPACE, value ${VALUE_SIZE} B, $ROUNDS rounds"
  local cmd=("$BENCH" --target both --tmp-dir "$TMP_DIR"
    --strata-bin "$STRATA" --strata-threads "$threads"
    --strata-arg=--wal.sync="$wal" --strata-arg=--l3.enabled=true
    --strata-arg=--l3.path={run}/l3 --strata-arg=--wal.path={run}/wal
    --redis-server "$REDIS_SERVER"
    --redis-arg=--appendonly --redis-arg=yes --redis-arg=--appendfsync --redis-arg="$aof"
    --redis-arg=--dir --redis-arg={run} "${rewrite[@]}"
    --keyspace "$KEYSPACE" --get-ratio 0 --value-size "$VALUE_SIZE"
    --connections "$conns" --depth 1 --duration "$DURATION" --warmup "$WARMUP"
    --rounds "$ROUNDS" --strata-stats --redis-info --count-syscalls --quiet)
  # shellcheck disable=SC2206  # EXTRA_ARGS is a list of flags
  cmd+=($EXTRA_ARGS)
  echo "# command: ${cmd[*]}"
  echo "# load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
  "${cmd[@]}" 2>&1 | tee -a "$RAW"
  local rc=${PIPESTATUS[0]}
  if ((rc != 0)); then
    echo "# strata-bench exited $rc"
    status=$rc
  fi
  echo "PAIR $label $wal $aof $threads $conns" >>"$RAW"
}

status=0
set +e  # a failed cell is recorded, not fatal; the exit status reports it
{
  echo "# Durable writes: Strata wal.sync vs Redis appendfsync, $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "# commit: $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)$(
    git -C "$ROOT" diff --quiet 2>/dev/null || echo ' (with uncommitted changes)')"
  echo "# host: $(uname -srm); $(nproc) cores; $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
  echo "# redis: $("$REDIS_SERVER" --version)"
  dev=$(df --output=source "$TMP_DIR" | tail -1)
  blk=$(basename "$dev")
  echo "# data dir: $TMP_DIR on $dev ($(findmnt -n -o FSTYPE,OPTIONS --target "$TMP_DIR"))"
  if [[ -e /sys/block/$blk/queue ]]; then
    echo "# disk: /sys/block/$blk: rotational=$(cat /sys/block/"$blk"/queue/rotational)" \
      "scheduler=$(cat /sys/block/"$blk"/queue/scheduler)" \
      "write_cache=$(cat /sys/block/"$blk"/queue/write_cache 2>/dev/null || echo ?)" \
      "size=$(( $(cat /sys/block/"$blk"/size) / 2097152 )) GiB"
  fi
  # fsync latency of this disk right now: 500 x (4 KiB write + fdatasync), serial.
  probe=$TMP_DIR/run_wal_bench.probe.$$
  dd if=/dev/zero of="$probe" bs=4k count=500 oflag=dsync 2>&1 | tail -1 |
    awk '{ printf "# fsync probe: 500 x 4 KiB dsync writes in %s s = %.0f us each\n", $(NF-3), $(NF-3) * 1e6 / 500 }'
  rm -f "$probe"
  echo "# load average before: $(cut -d' ' -f1-3 /proc/loadavg)"

  for pair in $PAIRS; do
    IFS=: read -r wal aof variant <<<"$pair"
    suffix=${variant:+-$variant}
    if [[ $wal == always ]]; then
      for t in $ALWAYS_THREADS; do
        run_pair "$wal-t$t$suffix" "$wal" "$aof" "$t" "$CONNECTIONS" "$variant"
      done
    else
      run_pair "$wal-t1$suffix" "$wal" "$aof" 1 "$CONNECTIONS" "$variant"
    fi
  done
  if [[ $SANITY == 1 ]]; then
    ROUNDS=1 run_pair "sanity-always-1conn" always always 1 1
  fi

  echo
  echo "## Summary (medians over rounds; ratio = Strata / Redis)"
  python3 - "$RAW" <<'EOF'
import json, sys
targets = {"always": 3.0, "interval": 1.0}
pending = []
rows = []
for line in open(sys.argv[1]):
    if line.startswith("JSON "):
        pending.append(json.loads(line[5:]))
    elif line.startswith("PAIR "):
        _, label, wal, aof, threads, conns = line.split()
        runs = [j for j in pending if j.get("type") == "run"]
        extras = [j for j in pending if j.get("type") == "run_extra"]
        summ = [j for j in pending if j.get("type") == "summary"]
        pending = []
        if not summ or "strata" not in summ[0] or "redis" not in summ[0]:
            rows.append((label, wal, aof, conns, None))
            continue
        def med(v):
            v = sorted(x for x in v if x is not None)
            return None if not v else (v[len(v)//2] if len(v) % 2 else (v[len(v)//2-1] + v[len(v)//2]) / 2)
        def per(target, f):
            out = []
            for r, e in zip([r for r in runs if r["target"] == target],
                            [e for e in extras if e["target"] == target]):
                out.append(f(r, e))
            return med(out)
        def rps(r, e):
            s = e.get("syscalls") or {}
            f = (s.get("fdatasync") or 0) + (s.get("fsync") or 0)
            return r["ops"] / f if f else None
        def walsync(r, e):
            d = ((e.get("strata_stats") or {}).get("wal_syncs") or {}).get("delta")
            return r["ops"] / d if d else None
        def delayed(r, e):
            return ((e.get("redis_info") or {}).get("aof_delayed_fsync") or {}).get("delta")
        def rewrites(r, e):
            return ((e.get("redis_info") or {}).get("aof_rewrites") or {}).get("delta")
        def child_pct(r, e):
            c = (r.get("cpu") or {}).get("server_children_s")
            return None if c is None or not r.get("window_s") else 100 * c / r["window_s"]
        rows.append((label, wal, aof, conns, summ[0], per("strata", rps), per("redis", rps),
                     per("strata", walsync), per("redis", delayed), per("redis", rewrites),
                     per("redis", child_pct)))
print("| pair | conns | Strata ops/s | Redis ops/s | ratio | Strata p50/p99/p99.9 us | Redis p50/p99/p99.9 us | p99 ratio | SETs per wal sync | SETs per fsync (syscall) S / R | aof_delayed_fsync | Redis AOF rewrites (child CPU) | target |")
print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
for row in rows:
    label, wal, aof, conns, s = row[:5]
    if s is None:
        print(f"| {label} ({wal}/{aof}) | {conns} | failed | | | | | | | | | | |")
        continue
    a, b = s["strata"], s["redis"]
    ratio = a["ops_per_s"]["median"] / b["ops_per_s"]["median"]
    p99r = a["p99_us"]["median"] / b["p99_us"]["median"]
    t = targets.get(wal) if conns != "1" else None
    verdict = "-" if t is None else (f">= {t:g}x: " + ("met" if ratio >= t else "NOT met"))
    f = lambda x, d=1: "n/a" if x is None else f"{x:.{d}f}"
    lat = lambda x: f'{x["p50_us"]["median"]:.0f} / {x["p99_us"]["median"]:.0f} / {x["p999_us"]["median"]:.0f}'
    rng = lambda x: f'{x["ops_per_s"]["median"]:,.0f} [{x["ops_per_s"]["min"]:,.0f} .. {x["ops_per_s"]["max"]:,.0f}]'
    print(f"| {label} ({wal}/{aof}) | {conns} | {rng(a)} | {rng(b)} | **{ratio:.2f}x** | {lat(a)} | {lat(b)} | {p99r:.2f} "
          f"| {f(row[7])} | {f(row[5])} / {f(row[6])} | {f(row[8], 0)} | {f(row[9], 0)} ({f(row[10], 0)}%) | {verdict} |")
EOF

  if [[ $WAL_BENCH == 1 ]]; then
    echo
    echo "## strata-wal-bench (default run: replay of 2M records of 16 B keys / 100 B values, then appends)"
    "$WALBENCH" --dir="$TMP_DIR/strata-wal-bench.$$" 2>&1 || { rc=$?; echo "# strata-wal-bench exited $rc"; status=$rc; }
    rm -rf "$TMP_DIR/strata-wal-bench.$$"
  fi
  echo
  echo "# load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
  exit $status
} | tee "$OUT"
status=${PIPESTATUS[0]}
set -e
echo "results written to $OUT"
exit "$status"
