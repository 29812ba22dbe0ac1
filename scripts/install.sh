#!/usr/bin/env bash
# Install the framework into ./.venv (Python packages from PyPI) and, with --system, the Debian
# packages the local site needs (systemd-nspawn, debootstrap, apt-cacher-ng, ssh client).
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
if [ "${1:-}" = "--system" ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "install.sh --system: Debian packages need root" >&2; exit 3
  fi
  missing=()
  # podman + runc: the execution environment is built and run here (tests/integration/test_execution_environment.py)
  for pkg in systemd-container debootstrap apt-cacher-ng openssh-client iproute2 rsync podman runc; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
fi
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e '.[dev]'
