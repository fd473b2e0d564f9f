#!/bin/sh
# Starts strata on a temp socket, runs the example against it, stops strata
# by PID. Bounded: waits at most 10 s for the socket and 10 s for exit.
# usage: run_with_strata.sh STRATA_BIN EXAMPLE_BIN
set -u
strata=$1
example=$2
dir=$(mktemp -d /tmp/strata-example.XXXXXX)
sock=$dir/strata.sock
"$strata" --server.socket="$sock" --admin.listen= --l3.enabled=false \
  --wal.path="$dir/wal" >"$dir/strata.log" 2>&1 &
pid=$!
cleanup() {
  kill -TERM "$pid" 2>/dev/null
  i=0
  while kill -0 "$pid" 2>/dev/null && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
  kill -KILL "$pid" 2>/dev/null
  wait "$pid" 2>/dev/null
  rm -rf "$dir"
}
trap cleanup EXIT
i=0
while [ ! -S "$sock" ] && [ $i -lt 100 ]; do
  kill -0 "$pid" 2>/dev/null || { cat "$dir/strata.log"; exit 1; }
  sleep 0.1
  i=$((i + 1))
done
[ -S "$sock" ] || { echo "strata did not start"; cat "$dir/strata.log"; exit 1; }
STRATA_SOCKET=$sock "$example"
