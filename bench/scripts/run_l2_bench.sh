#!/usr/bin/env bash
# L2 over a delayed link: the same Zipf GET workload (a) straight to Redis and
# (b) through Strata, whose L1 holds ~10% of the keyspace and whose L2 is that
# Redis, with every byte between them and Redis delayed.
#
# This kernel has no `tc netem`, so the "remote" Redis is emulated:
#
#   strata-bench ──unix──> strata ──tcp──┐
#   strata-bench ──unix──────────────────┤  strata-delay-relay (root netns,
#                                        │  +DELAY_US per chunk each way)
#                                        └──tcp over veth──> redis-server (own netns)
#
# The script creates a network namespace and a veth pair (names unique to this
# run), starts redis-server inside the namespace, starts the relay in the root
# namespace (listening on the veth's host address for Strata and on a Unix
# socket for the direct client), preloads the keyspace into Redis through its
# Unix socket (no delay; pipelined redis-cli --pipe), checks the link's round
# trip, then runs strata-bench with --target both (strata, redis alternating)
# once per connection count. Everything it created is removed on exit, also on
# failure or Ctrl-C. Needs root (ip netns). Output goes to the terminal and to
# $OUT.
#
# Environment overrides (defaults in brackets):
#   BUILD_DIR [<repo>/build-release]  NO_BUILD [0]  REDIS_SERVER [redis-server]
#   KEYSPACE [100000]  KEY_SIZE [16]  VALUE_SIZE [100]  ZIPF_S [0.99]
#   L1_FRACTION [0.10]  L1_BYTES_PER_ITEM [180]  (l1.max_bytes = KEYSPACE x both)
#   DELAY_US [200]  CONNECTIONS ["1 16"]  DURATION [10]  WARMUP [5]  ROUNDS [3]
#   STRATA [auto|on|off]: auto runs the Strata half only if the binary has the
#     L2 tier (it knows --l2.command_timeout); off measures only direct Redis.
#   OUT [<repo>/bench/results/<date>-l2-delayed.txt]  EXTRA_ARGS [] (to strata-bench)
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BUILD_DIR=${BUILD_DIR:-$ROOT/build-release}
NO_BUILD=${NO_BUILD:-0}
REDIS_SERVER=${REDIS_SERVER:-$(command -v redis-server || echo /usr/bin/redis-server)}
REDIS_CLI=${REDIS_CLI:-$(command -v redis-cli || echo /usr/bin/redis-cli)}
KEYSPACE=${KEYSPACE:-100000}
KEY_SIZE=${KEY_SIZE:-16}
VALUE_SIZE=${VALUE_SIZE:-100}
ZIPF_S=${ZIPF_S:-0.99}
L1_FRACTION=${L1_FRACTION:-0.10}
L1_BYTES_PER_ITEM=${L1_BYTES_PER_ITEM:-180}
DELAY_US=${DELAY_US:-200}
CONNECTIONS=${CONNECTIONS:-"1 16"}
DURATION=${DURATION:-10}
WARMUP=${WARMUP:-5}
ROUNDS=${ROUNDS:-3}
STRATA=${STRATA:-auto}
EXTRA_ARGS=${EXTRA_ARGS:-}
OUT=${OUT:-$ROOT/bench/results/$(date +%Y-%m-%d)-l2-delayed.txt}

die() { echo "run_l2_bench: $*" >&2; exit 1; }
[[ $(id -u) -eq 0 ]] || die "needs root (ip netns, veth)"
command -v ip >/dev/null || die "needs iproute2 (ip)"
[[ -x $REDIS_SERVER ]] || die "no redis-server at $REDIS_SERVER"
[[ -x $REDIS_CLI ]] || die "no redis-cli at $REDIS_CLI"
(( KEY_SIZE >= 5 )) || die "KEY_SIZE must be at least 5 (\"key:\" + digits)"

if [[ $NO_BUILD != 1 ]]; then
  cmake -S "$ROOT" -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=Release -DSTRATA_BUILD_TESTS=OFF >/dev/null
  cmake --build "$BUILD_DIR" --target strata strata-bench strata-delay-relay -j"$(nproc)"
fi
BENCH=$BUILD_DIR/bench/strata-bench
RELAY=$BUILD_DIR/bench/relay/strata-delay-relay
STRATA_BIN=$BUILD_DIR/proxy/strata
for b in "$BENCH" "$RELAY" "$STRATA_BIN"; do [[ -x $b ]] || die "missing $b (build it first)"; done

case $STRATA in
  on) RUN_STRATA=1 ;;
  off) RUN_STRATA=0 ;;
  auto) if "$STRATA_BIN" --help 2>&1 | grep -q 'l2.command_timeout'; then RUN_STRATA=1; else RUN_STRATA=0; fi ;;
  *) die "STRATA must be auto, on or off" ;;
esac

# ---- everything created below is undone by cleanup -------------------------
TAG=$$
NS=strata-l2b-$TAG
VETH_HOST=sl2b${TAG}h  # <= 15 characters
VETH_NS=sl2b${TAG}n
TMP=$(mktemp -d /tmp/strata-l2bench.XXXXXX)
REDIS_PID=
RELAY_PID=
NS_CREATED=0
VETH_CREATED=0

# shellcheck disable=SC2317  # invoked by the EXIT trap
cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  set +e
  for pid in $RELAY_PID $REDIS_PID; do
    kill -TERM "$pid" 2>/dev/null
  done
  for pid in $RELAY_PID $REDIS_PID; do
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
  done
  if [[ -n $RELAY_PID && -s $TMP/relay.log ]]; then
    sed 's/^/# relay: /' "$TMP/relay.log" >&2
    [[ -n ${OUT_WRITTEN:-} && -f $OUT ]] && sed 's/^/# relay: /' "$TMP/relay.log" >>"$OUT"
  fi
  ((VETH_CREATED)) && ip link del "$VETH_HOST" 2>/dev/null
  ((NS_CREATED)) && ip netns del "$NS" 2>/dev/null
  rm -rf "$TMP"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# A /30 for the veth pair that no interface uses yet.
SUBNET=
for i in $(seq 0 255); do
  cand=10.213.$(( (TAG + i) % 256 ))
  if ! ip -4 addr show | grep -q "inet $cand\." && ! ip -4 route show | grep -q "^$cand\."; then
    SUBNET=$cand
    break
  fi
done
[[ -n $SUBNET ]] || die "no free 10.213.x.0/30 subnet"
HOST_IP=$SUBNET.1
NS_IP=$SUBNET.2
RELAY_PORT=6380
REDIS_PORT=6379

ip netns add "$NS"
NS_CREATED=1
ip link add "$VETH_HOST" type veth peer name "$VETH_NS"
VETH_CREATED=1
ip link set "$VETH_NS" netns "$NS"
ip addr add "$HOST_IP/30" dev "$VETH_HOST"
ip link set "$VETH_HOST" up
ip netns exec "$NS" ip addr add "$NS_IP/30" dev "$VETH_NS"
ip netns exec "$NS" ip link set "$VETH_NS" up
ip netns exec "$NS" ip link set lo up

# redis-server inside the namespace (`ip netns exec` execs it: same PID). Its
# Unix socket lives in the shared filesystem, so the preload can skip the delay.
REDIS_SOCK=$TMP/redis.sock
ip netns exec "$NS" "$REDIS_SERVER" --bind "$NS_IP" --port "$REDIS_PORT" --protected-mode no \
  --unixsocket "$REDIS_SOCK" --unixsocketperm 700 --save '' --appendonly no --daemonize no \
  --dir "$TMP" --logfile "$TMP/redis.log" &
REDIS_PID=$!
for _ in $(seq 100); do
  "$REDIS_CLI" -s "$REDIS_SOCK" ping >/dev/null 2>&1 && break
  kill -0 "$REDIS_PID" 2>/dev/null || { cat "$TMP/redis.log" >&2; die "redis-server exited"; }
  sleep 0.1
done
"$REDIS_CLI" -s "$REDIS_SOCK" ping >/dev/null || die "redis-server did not come up"

"$RELAY" --listen "tcp:$HOST_IP:$RELAY_PORT" --listen "unix:$TMP/relay.sock" \
  --connect "tcp:$NS_IP:$REDIS_PORT" --delay-us "$DELAY_US" 2>"$TMP/relay.log" &
RELAY_PID=$!
for _ in $(seq 50); do [[ -S $TMP/relay.sock ]] && break; sleep 0.1; done
[[ -S $TMP/relay.sock ]] || { cat "$TMP/relay.log" >&2; die "relay did not come up"; }

# Preload: every key strata-bench will ask for ("key:" + zero-padded index,
# KEY_SIZE bytes in all), VALUE_SIZE bytes each, pipelined over the Unix socket.
echo "preloading $KEYSPACE keys into redis ..." >&2
awk -v n="$KEYSPACE" -v ks="$KEY_SIZE" -v vs="$VALUE_SIZE" 'BEGIN {
  v = ""; for (j = 0; j < vs; j++) v = v "v"
  fmt = "*3\r\n$3\r\nSET\r\n$" ks "\r\nkey:%0" (ks - 4) "d\r\n$" vs "\r\n%s\r\n"
  for (i = 0; i < n; i++) printf fmt, i, v
}' | "$REDIS_CLI" -s "$REDIS_SOCK" --pipe >"$TMP/preload.log" 2>&1 || { cat "$TMP/preload.log" >&2; die "preload failed"; }
DBSIZE=$("$REDIS_CLI" -s "$REDIS_SOCK" dbsize)
[[ $DBSIZE -eq $KEYSPACE ]] || die "redis holds $DBSIZE keys, expected $KEYSPACE"

L1_BYTES=$(awk -v n="$KEYSPACE" -v f="$L1_FRACTION" -v b="$L1_BYTES_PER_ITEM" \
  'BEGIN { x = int(n * f * b); if (x < 1048576) x = 1048576; print x }')
STRATA_ARGS=(--strata-arg=--l1.max_bytes="$L1_BYTES" --strata-arg=--l2.mode=standalone
  "--strata-arg=--l2.endpoints=redis://$HOST_IP:$RELAY_PORT")
COMMON=(--redis-socket "$TMP/relay.sock" --redis-pid "$REDIS_PID"
  --watch-pid "relay=$RELAY_PID" --watch-pid "redis=$REDIS_PID"
  --keyspace "$KEYSPACE" --key-size "$KEY_SIZE" --value-size "$VALUE_SIZE"
  --dist zipf --zipf-s "$ZIPF_S" --get-ratio 1 --duration "$DURATION" --warmup "$WARMUP"
  --rounds "$ROUNDS" --quiet)

mkdir -p "$(dirname "$OUT")"
[[ -e $OUT ]] && OUT=${OUT%.txt}-$(date +%H%M%S).txt
status=0
set +e
{
  echo "# L2 over a delayed link, $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "# commit: $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)$(
    git -C "$ROOT" diff --quiet 2>/dev/null || echo ' (with uncommitted changes)')"
  echo "# host: $(uname -srm); $(nproc) cores; $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
  echo "# redis: $("$REDIS_SERVER" --version)"
  echo "# load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
  echo "# link: relay $HOST_IP:$RELAY_PORT (and a unix socket) -> redis $NS_IP:$REDIS_PORT in netns $NS;" \
    "delay ${DELAY_US} us per chunk each way"
  echo "# keyspace $KEYSPACE keys of ${KEY_SIZE} B + ${VALUE_SIZE} B preloaded into redis (dbsize $DBSIZE);" \
    "GETs Zipf($ZIPF_S)"
  if ((RUN_STRATA)); then
    echo "# strata: $STRATA_BIN --server.threads=1 --l1.max_bytes=$L1_BYTES (~$L1_FRACTION of the keyspace" \
      "at $L1_BYTES_PER_ITEM B/item) --l2.mode=standalone --l2.endpoints=redis://$HOST_IP:$RELAY_PORT"
  else
    echo "# strata: SKIPPED (STRATA=$STRATA; the binary has no L2 tier yet) - direct Redis only"
  fi
  echo
  echo "## link check: 1 connection, GETs straight through the relay, 3 s"
  "$BENCH" --target redis "${COMMON[@]}" --connections 1 --duration 3 --warmup 0.5 \
    --rounds 1 2>&1 | grep -v '^JSON' || true
  for conns in $CONNECTIONS; do
    echo
    echo "## Zipf($ZIPF_S) GETs, $conns connections, depth 1, $ROUNDS rounds (strata, direct redis alternating)"
    if ((RUN_STRATA)); then
      # shellcheck disable=SC2086  # EXTRA_ARGS is a list of flags
      "$BENCH" --target both --strata-bin "$STRATA_BIN" --strata-threads 1 "${STRATA_ARGS[@]}" \
        --strata-stats "${COMMON[@]}" --connections "$conns" $EXTRA_ARGS 2>&1 \
        || { rc=$?; echo "# strata-bench exited $rc"; status=$rc; }
    else
      # shellcheck disable=SC2086
      "$BENCH" --target redis "${COMMON[@]}" --connections "$conns" $EXTRA_ARGS 2>&1 \
        || { rc=$?; echo "# strata-bench exited $rc"; status=$rc; }
    fi
  done
  echo
  echo "# load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
  exit $status
} | python3 -u -c '
import json, sys
# Pass everything through; after each summary, state the ratios against the
# issue targets (p50 >= 5x lower, throughput >= 3x higher through Strata).
# Every key is in Redis, so a Strata GET answered with nil means the L2 tier
# did not serve it: then the comparison is void, whatever the ratios say.
strata_hit = []
for line in sys.stdin:
    sys.stdout.write(line)
    if line.startswith("JSON {\"type\":\"run\""):
        r = json.loads(line[5:])
        if r.get("target") == "strata" and r.get("ok") and r["hits"] + r["misses"] > 0:
            strata_hit.append(r["hits"] / (r["hits"] + r["misses"]))
        continue
    if not line.startswith("JSON {\"type\":\"summary\""):
        continue
    s = json.loads(line[5:])
    hits, strata_hit = strata_hit, []
    if "strata" not in s or "redis" not in s:
        continue
    st, rd = s["strata"], s["redis"]
    p50 = rd["p50_us"]["median"] / st["p50_us"]["median"]
    ops = st["ops_per_s"]["median"] / rd["ops_per_s"]["median"]
    if not hits or min(hits) < 0.999:
        print("STRATA vs DIRECT: NOT VALID: Strata answered only %.1f%% of GETs with a value "
              "(all keys are in Redis; is the L2 tier serving?); ratios p50 %.2fx, ops/s %.2fx"
              % (100 * min(hits or [0]), p50, ops))
        continue
    print("STRATA vs DIRECT: p50 %.2fx lower (target >= 5: %s), throughput %.2fx higher (target >= 3: %s)"
          % (p50, "met" if p50 >= 5 else "NOT met", ops, "met" if ops >= 3 else "NOT met"))
' | tee "$OUT"
status=${PIPESTATUS[0]}
OUT_WRITTEN=1
set -e
echo "results written to $OUT" >&2
exit "$status"
