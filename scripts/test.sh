#!/usr/bin/env bash
# Set up a virtual environment with the development extras (once), make sure a redis-server binary exists
# (the distributed-crawl tests start their own on 127.0.0.1), then run the whole test suite.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="${HEALTHDEX_VENV:-$root/.venv}"
if [ ! -x "$venv/bin/pytest" ] || [ "$root/pyproject.toml" -nt "$venv/.installed-dev" ]; then
    python3 -m venv "$venv"
    "$venv/bin/python" -m pip install --quiet --upgrade pip
    "$venv/bin/python" -m pip install --quiet -e "$root[dev]"
    touch "$venv/.installed-dev"
fi
if ! command -v redis-server >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ]; then
        (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server) >/dev/null
    elif command -v sudo >/dev/null 2>&1; then
        (sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server) >/dev/null
    else
        echo "test.sh: redis-server is not installed; the distributed-crawl tests will fail (apt-get install redis-server)" >&2
    fi
fi
cd "$root"
exec "$venv/bin/python" -m pytest -q "$@"
