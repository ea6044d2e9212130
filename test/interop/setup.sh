#!/usr/bin/env bash
# Creates the Python peers of the interop suite (npm run test:interop) in git-ignored virtual environments:
# LiteLLM's proxy at two exact pins and the MCP Python SDK for the FastMCP servers behind it.
# Idempotent: an environment whose stamp names the same requirements is kept. Prints how long each install took.
set -euo pipefail
cd "$(dirname "$0")"
# shellcheck source=pins.sh
source ./pins.sh

PYTHON="${MCPTAP_INTEROP_PYTHON:-python3}"
if ! command -v "$PYTHON" >/dev/null 2>&1; then
  echo "interop setup: no $PYTHON on PATH (the interop suite needs Python 3.9+ with venv)" >&2
  exit 1
fi

make_venv() {
  local dir="$1"; shift
  local want="$*"
  if [[ -f "$dir/.stamp" && "$(cat "$dir/.stamp")" == "$want" ]]; then
    echo "interop setup: $dir up to date ($want)"
    return 0
  fi
  rm -rf "$dir"
  local start=$SECONDS
  "$PYTHON" -m venv "$dir"
  if ! "$dir/bin/pip" install --quiet --disable-pip-version-check "$@" >"$dir.log" 2>&1; then
    echo "interop setup: pip install $want failed (last lines of $dir.log):" >&2
    tail -n 5 "$dir.log" >&2
    rm -rf "$dir"
    exit 1
  fi
  echo "$want" >"$dir/.stamp"
  echo "interop setup: $dir installed in $((SECONDS - start)) s ($want)"
}

for version in "${LITELLM_PINS[@]}"; do
  extra_var="LITELLM_EXTRA_${version//./_}"
  # shellcheck disable=SC2086 # the extras are a space-separated list of requirements
  make_venv ".venv-litellm-$version" "litellm[proxy]==$version" ${!extra_var:-}
done
make_venv ".venv-mcp" "mcp==$MCP_SERVER_PIN"
