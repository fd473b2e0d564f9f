#!/usr/bin/env bash
# One command: start Strata on a temporary socket, start service.py on a free
# port, run drive.py against it, stop both. Exit code = drive.py's.
#
#   examples/inference_service/run.sh            # from anywhere
#   STRATA_BIN=/path/to/strata N=200 examples/inference_service/run.sh
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
PY="${PYTHON:-/usr/bin/python3}"
STRATA_BIN="${STRATA_BIN:-$REPO/build/proxy/strata}"
N="${N:-50}"
MIN_SPEEDUP="${MIN_SPEEDUP:-5}"
export PYTHONPATH="$REPO/clients/python${PYTHONPATH:+:$PYTHONPATH}"

if [[ ! -x "$STRATA_BIN" ]]; then
  echo "run.sh: no Strata binary at $STRATA_BIN (build it, or set STRATA_BIN)" >&2
  exit 2
fi

WORK="$(mktemp -d "${TMPDIR:-/tmp}/strata-ex.XXXXXX")"   # socket path stays < 107 bytes
SOCK="$WORK/strata.sock"
STRATA_PID=""
SERVICE_PID=""
DRIVE_PID=""

stop_pid() {   # stop_pid PID NAME: SIGTERM, wait up to 5 s, then SIGKILL
  local pid="$1" i
  [[ -n "$pid" ]] || return 0
  kill -TERM "$pid" 2>/dev/null || return 0
  for i in $(seq 50); do
    kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null || true; return 0; }
    sleep 0.1
  done
  echo "run.sh: $2 (pid $pid) ignored SIGTERM; killing" >&2
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}

cleanup() {
  local rc=$?
  stop_pid "$DRIVE_PID" drive.py
  stop_pid "$SERVICE_PID" service.py
  stop_pid "$STRATA_PID" strata
  if [[ $rc -ne 0 ]]; then
    for f in "$WORK"/strata.log "$WORK"/service.log; do
      [[ -s "$f" ]] && { echo "---- tail of $(basename "$f")"; tail -n 30 "$f"; }
    done
  fi
  rm -rf "$WORK"
  exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

wait_for() {   # wait_for SECONDS PID NAME TEST...: poll TEST while PID lives
  local secs="$1" pid="$2" name="$3" i; shift 3
  for i in $(seq $((secs * 20))); do
    "$@" && return 0
    kill -0 "$pid" 2>/dev/null || { echo "run.sh: $name exited early" >&2; return 1; }
    sleep 0.05
  done
  echo "run.sh: $name not ready after ${secs}s" >&2
  return 1
}

"$STRATA_BIN" --server.socket="$SOCK" --admin.listen= --l3.enabled=false \
  >"$WORK/strata.log" 2>&1 &
STRATA_PID=$!
wait_for 10 "$STRATA_PID" strata test -S "$SOCK"

"$PY" "$HERE/service.py" --socket "$SOCK" --port 0 --port-file "$WORK/port" \
  >"$WORK/service.log" 2>&1 &
SERVICE_PID=$!
wait_for 15 "$SERVICE_PID" service.py test -s "$WORK/port"
PORT="$(cat "$WORK/port")"

echo "strata pid $STRATA_PID on $SOCK; service pid $SERVICE_PID on 127.0.0.1:$PORT"
# In the background + wait, so SIGINT/SIGTERM to this script run the cleanup at
# once (bash defers traps while a foreground child runs).
timeout -k 5 150 "$PY" "$HERE/drive.py" --port "$PORT" --socket "$SOCK" \
  --n "$N" --min-speedup "$MIN_SPEEDUP" --timeout 10 --deadline 120 &
DRIVE_PID=$!
rc=0
wait "$DRIVE_PID" || rc=$?
DRIVE_PID=""
exit $rc
