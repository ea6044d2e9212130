#!/usr/bin/env bash
# Creates the Python peers of the interop suite (npm run test:interop) in virtual environments under
# $MCPTAP_INTEROP_HOME (default ~/.cache/mcptap-interop, outside any clone, so every clone and CI run on this
# machine shares them): LiteLLM's proxy at two exact pins and the MCP Python SDK for the FastMCP servers behind it.
# Idempotent: an environment whose stamp names the same requirements is kept. Prints how long each install took.
set -euo pipefail
cd "$(dirname "$0")"
INTEROP_HOME="${MCPTAP_INTEROP_HOME:-$HOME/.cache/mcptap-interop}"
mkdir -p "$INTEROP_HOME"
# shellcheck source=pins.sh
source ./pins.sh

# Python 3.12 (postgres-mcp needs it): pyenv's where the machine has it, else python3.
if [[ -z "${MCPTAP_INTEROP_PYTHON:-}" ]] && command -v pyenv >/dev/null 2>&1 && pyenv versions --bare 2>/dev/null | grep -qx '3.12.1'; then
  export PYENV_VERSION=3.12.1
fi
PYTHON="${MCPTAP_INTEROP_PYTHON:-python3}"
if ! command -v "$PYTHON" >/dev/null 2>&1; then
  echo "interop setup: no $PYTHON on PATH (the interop suite needs Python 3.9+ with venv)" >&2
  exit 1
fi

PYVER=$("$PYTHON" -c 'import sys; print("%d.%d" % sys.version_info[:2])')

# make_venv NAME REQUIREMENT... [-- NODEPS_REQUIREMENT...]: the second group is installed with --no-deps first.
make_venv() {
  local dir="$INTEROP_HOME/$1"; shift
  local want="python$PYVER $*"
  local nodeps=() deps=() seen=0
  for a in "$@"; do
    if [[ "$a" == "--" ]]; then seen=1; elif ((seen)); then nodeps+=("$a"); else deps+=("$a"); fi
  done
  if [[ -f "$dir/.stamp" && "$(cat "$dir/.stamp")" == "$want" ]]; then
    echo "interop setup: $dir up to date ($want)"
    return 0
  fi
  rm -rf "$dir"
  local start=$SECONDS
  "$PYTHON" -m venv "$dir"
  if ((${#nodeps[@]})) && ! "$dir/bin/pip" install --quiet --disable-pip-version-check --no-deps "${nodeps[@]}" >"$dir.log" 2>&1; then
    echo "interop setup: pip install --no-deps ${nodeps[*]} failed (last lines of $dir.log):" >&2
    tail -n 5 "$dir.log" >&2
    rm -rf "$dir"
    exit 1
  fi
  if ! "$dir/bin/pip" install --quiet --disable-pip-version-check "${deps[@]}" >>"$dir.log" 2>&1; then
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
make_venv ".venv-mcp2" "mcp==$MCP2_PIN"
make_venv ".venv-fastmcp" "fastmcp==$FASTMCP_PIN"
# postgres-mcp's own requirements, but pglast at a version the registry serves and the 1.x SDK it was written for.
make_venv ".venv-postgres-mcp" "attrs>=25.3.0" "humanize>=4.8.0" "instructor>=1.7.9" "mcp[cli]>=1.5.0,<2" "pglast==$POSTGRES_MCP_PGLAST" \
  "psycopg-pool>=3.2.6" "psycopg[binary]>=3.2.6" -- "postgres-mcp==$POSTGRES_MCP_PIN"

# Jaeger v2 from the Go module proxy, built once per pin into $INTEROP_HOME/jaeger-$JAEGER_PIN/jaeger.
jaeger_dir="$INTEROP_HOME/jaeger-$JAEGER_PIN"
if [[ -x "$jaeger_dir/jaeger" ]]; then
  echo "interop setup: $jaeger_dir up to date"
else
  start=$SECONDS
  rm -rf "$jaeger_dir" && mkdir -p "$jaeger_dir"
  if ! (cd "$jaeger_dir" && go mod init mcptap-interop-jaeger >/dev/null 2>&1 \
        && GOFLAGS=-mod=mod go get -tool "github.com/jaegertracing/jaeger/cmd/jaeger@$JAEGER_PIN" \
        && go build -o jaeger github.com/jaegertracing/jaeger/cmd/jaeger) >"$jaeger_dir.log" 2>&1; then
    echo "interop setup: building Jaeger $JAEGER_PIN failed (last lines of $jaeger_dir.log):" >&2
    tail -n 5 "$jaeger_dir.log" >&2
    rm -rf "$jaeger_dir"
    exit 1
  fi
  echo "interop setup: Jaeger $JAEGER_PIN built in $((SECONDS - start)) s"
fi

# PostgreSQL (postgres-mcp's database) and Prometheus from Debian: the tests start their own instances.
need=()
command -v prometheus >/dev/null 2>&1 || need+=(prometheus)
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need+=(postgresql)
if ((${#need[@]})); then
  if [[ $(id -u) -ne 0 ]]; then echo "interop setup: needs ${need[*]} (apt-get install as root)" >&2; exit 1; fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${need[@]}" >/dev/null
  # Debian starts the packaged services; the tests run their own on free ports.
  systemctl disable --now prometheus prometheus-node-exporter postgresql >/dev/null 2>&1 || true
  service prometheus stop >/dev/null 2>&1 || true; service postgresql stop >/dev/null 2>&1 || true
  echo "interop setup: installed ${need[*]}"
fi
