#!/bin/bash
# Docker HEALTHCHECK without curl (debian:12-slim has none): one HTTP/1.0
# request over bash's /dev/tcp, healthy when the status line says 200.
#
#   docker-healthcheck.sh [PATH]     PATH defaults to /healthz
#
# The port comes from STRATA_ADMIN_LISTEN (the image sets 0.0.0.0:9100), so
# moving the admin port with that variable moves the check too; the check
# always connects to 127.0.0.1 inside the container. HEALTHCHECK_TIMEOUT
# (seconds, default 3) bounds the whole exchange.
set -uo pipefail

path="${1:-/healthz}"
listen="${STRATA_ADMIN_LISTEN:-127.0.0.1:9100}"
port="${listen##*:}"
[[ "$port" =~ ^[0-9]+$ ]] || { echo "healthcheck: no port in '$listen'" >&2; exit 1; }

status=$(timeout "${HEALTHCHECK_TIMEOUT:-3}" bash -c '
  exec 3<>"/dev/tcp/127.0.0.1/$1" || exit 1
  printf "GET %s HTTP/1.0\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n" "$2" >&3
  IFS= read -r line <&3 || exit 1
  printf "%s" "$line"
' healthcheck "$port" "$path" 2>/dev/null) || { echo "healthcheck: no answer on 127.0.0.1:$port$path" >&2; exit 1; }

status="${status%$'\r'}"
if [[ "$status" =~ ^HTTP/1\.[01]\ 200( |$) ]]; then
  exit 0
fi
echo "healthcheck: $path answered '$status'" >&2
exit 1
