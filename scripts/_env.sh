# Sourced by the scripts: a project-local virtualenv with Roost and its test tools installed.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
if [ ! -x .venv/bin/python ]; then
  echo "roost: creating .venv ..." >&2
  python3 -m venv .venv
fi
if ! .venv/bin/python -c "import roost, pytest, nest" 2>/dev/null \
   || [ pyproject.toml -nt .venv/.installed ]; then
  echo "roost: installing Roost and its test tools into .venv (a minute or two the first" \
       "time) ..." >&2
  .venv/bin/python -m pip install --quiet --upgrade pip
  .venv/bin/python -m pip install --quiet --progress-bar on -e ".[test]"
  touch .venv/.installed
  echo "roost: installed; .venv/bin/roost is the command (see README: on your PATH)" >&2
fi
