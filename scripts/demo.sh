#!/usr/bin/env bash
# Set up a virtual environment (once) and run the demo: replay the bundled sample site on 127.0.0.1,
# crawl it, index it and search it.  Extra arguments go to `healthdex demo`.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="${HEALTHDEX_VENV:-$root/.venv}"
if [ ! -x "$venv/bin/healthdex" ] || [ "$root/pyproject.toml" -nt "$venv/.installed" ]; then
    python3 -m venv "$venv"
    "$venv/bin/python" -m pip install --quiet --upgrade pip
    "$venv/bin/python" -m pip install --quiet -e "$root"
    touch "$venv/.installed"
fi
exec "$venv/bin/healthdex" demo "$@"
