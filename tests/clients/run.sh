#!/usr/bin/env bash
# Generated clients against the real binary: openapi-python-client (PyPI) and
# openapi-typescript + openapi-fetch (npm) are generated from the committed
# openapi/pitwall.json into tests/clients/generated/ (not committed), then
# each runs the smoke flow (POS push, sign in, page through tickets, read
# one, statuses, set one, timeline, customer link, the customer's JSON,
# approve) against `pitwall serve` over a fresh SQLite database with the
# demo shop.
#
#   PITWALL_BIN=target/debug/pitwall PYTHON=$HOME/.cache/pitwall-clients-venv/bin/python \
#     tests/clients/run.sh
#
# Needs `npm ci` in tests/clients and the venv from requirements.txt.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
document="$here/../../openapi/pitwall.json"
bin="${PITWALL_BIN:?PITWALL_BIN must point at the pitwall binary}"
python="${PYTHON:-python3}"
venv_bin="$(dirname "$python")"
out="$here/generated"
rm -rf "$out"
mkdir -p "$out"

echo "==> generating the Python client (openapi-python-client)"
"$venv_bin/openapi-python-client" generate --path "$document" --output-path "$out/python/pitwall_client" \
  --meta none --config "$here/python-client.yaml" >"$out/python-generate.log" 2>&1 ||
  { cat "$out/python-generate.log"; exit 1; }
# The generator reports schemas it could not turn into code as warnings and
# carries on; a client with holes is a failure here.
if grep -qi "warning" "$out/python-generate.log"; then
  cat "$out/python-generate.log"
  echo "openapi-python-client warned about the document" >&2
  exit 1
fi

echo "==> generating the TypeScript types (openapi-typescript) and checking the driver (tsc --strict)"
(cd "$here" && npx --no-install openapi-typescript "$document" --default-non-nullable false \
  -o generated/schema.d.ts >/dev/null && npx --no-install tsc -p .)

work="$(mktemp -d)"
port="$("$python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
base="http://127.0.0.1:$port"
export DATABASE_URL="sqlite://$work/pitwall.db?mode=rwc" PITWALL_DATA_DIR="$work" \
  PITWALL_ADDR="127.0.0.1:$port" PITWALL_BASE_URL="$base" RUST_LOG=warn
server=""
cleanup() {
  if [ -n "$server" ]; then kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

echo "==> starting pitwall with the demo shop on $base"
demo_out="$("$bin" demo --no-serve)"
pos_key="$(grep -o 'pk_[A-Za-z0-9_-]*' <<<"$demo_out" | head -n1)"
[ -n "$pos_key" ] || { echo "the demo printed no POS key:" >&2; echo "$demo_out" >&2; exit 1; }
"$bin" serve &
server=$!
for _ in $(seq 1 300); do
  curl -fsS "$base/ready" >/dev/null 2>&1 && break
  kill -0 "$server" 2>/dev/null || { echo "pitwall exited before it was ready" >&2; exit 1; }
  sleep 0.1
done
curl -fsS "$base/ready" >/dev/null

export PITWALL_BASE="$base" PITWALL_POS_KEY="$pos_key" \
  PITWALL_EMAIL="owner@demo.pitwall.test" PITWALL_PASSWORD="pitwall-demo"

echo "==> Python client smoke flow"
PYTHONPATH="$out/python" "$python" "$here/smoke.py"

echo "==> TypeScript client smoke flow"
node "$out/out/smoke.js"

echo "==> both generated clients passed"
