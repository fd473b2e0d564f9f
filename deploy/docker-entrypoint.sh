#!/bin/bash
# Container entrypoint: validate the configuration (file + STRATA_* environment
# + flags), then exec strata as PID 1 so it receives SIGTERM directly.
#
#   docker run strata                          # /etc/strata/strata.toml
#   docker run strata --log.level=debug        # extra flags reach both steps
#   docker run -it strata bash                 # anything not a flag runs as is
set -euo pipefail

config=/etc/strata/strata.toml

if [[ $# -gt 0 && "$1" != -* ]]; then
  exec "$@"
fi

# A bad key or value stops here with a message naming it (exit 2), before
# anything touches the socket or the data directory.
strata --check-config "$config" "$@"
exec strata --config "$config" "$@"
