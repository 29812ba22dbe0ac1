#!/usr/bin/env bash
# Install everything, then run the test suite.
#   scripts/test.sh          fast tests (compiler, collection against emulators and moto, lint)
#   scripts/test.sh --slow   real multi-node clusters on local systemd-nspawn nodes (needs root)
#   scripts/test.sh --extended  the green real-cluster tests too long for CI (EE image build, real Rucio server)
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "${1:-}" = "--slow" ]; then
  shift
  bash scripts/install.sh --system
  exec .venv/bin/python -m pytest -m "slow and not wip and not extended" -p no:cacheprovider --durations=15 "$@"
fi
if [ "${1:-}" = "--extended" ]; then
  shift
  bash scripts/install.sh --system
  exec .venv/bin/python -m pytest -m "slow and extended and not wip" -p no:cacheprovider --durations=15 "$@"
fi
bash scripts/install.sh
exec .venv/bin/python -m pytest -p no:cacheprovider -n 2 --durations=15 "$@"
