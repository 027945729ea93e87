#!/usr/bin/env bash
# Print the path of a supported Python (3.11-3.13) other than the one .venv was made with,
# found on PATH or in pyenv's versions; print nothing when there is none.
set -uo pipefail
main_version="$(.venv/bin/python -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null || true)"
candidates=()
for v in 3.13 3.12 3.11; do
  candidates+=("python$v")
  for dir in "${PYENV_ROOT:-$HOME/.pyenv}"/versions/"$v".*/bin; do
    [ -x "$dir/python3" ] && candidates+=("$dir/python3")
  done
done
for python in "${candidates[@]}"; do
  version="$("$python" -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null)" || continue
  if [ -n "$version" ] && [ "$version" != "$main_version" ]; then
    command -v "$python"
    exit 0
  fi
done
