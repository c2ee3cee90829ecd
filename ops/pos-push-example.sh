#!/usr/bin/env bash
# Pushes one ticket to Pitwall the way a POS does, then lists the POS's
# notifications. Usage:
#   PITWALL_URL=http://127.0.0.1:8080 PITWALL_POS_KEY=pk_... ops/pos-push-example.sh [RO-NUMBER]
# `pitwall demo` prints a key for the demo shop.
set -euo pipefail
: "${PITWALL_URL:=http://127.0.0.1:8080}"
: "${PITWALL_POS_KEY:?set PITWALL_POS_KEY to a POS API key (pitwall demo prints one)}"
number="${1:-$((RANDOM % 90000 + 10000))}"
now="$(date -u +%Y-%m-%dT%H:%M:%SZ)"

curl -sS -X PUT "$PITWALL_URL/api/pos/v1/tickets/RO-$number" \
  -H "Authorization: Bearer $PITWALL_POS_KEY" \
  -H 'Content-Type: application/json' \
  --data @- <<JSON
{
  "kind": "workorder",
  "number": "$number",
  "customer": {"external_id": "C-$number", "first_name": "Sam", "last_name": "Rivera",
               "phone": "(512) 555-0175", "email": "sam.rivera@example.com"},
  "vehicle": {"external_id": "V-$number", "year": 2018, "make": "Nissan", "model": "Altima",
              "plate": "SRV-0$((number % 1000))", "mileage": 61234},
  "services": [
    {"external_id": "S-1", "title": "Front brake pads", "status": "recommended", "line_items": [
      {"kind": "labor", "description": "Replace front pads", "quantity": 1.2, "unit_price": 12000, "taxable": false},
      {"kind": "part", "description": "Ceramic pad set", "quantity": 1, "unit_price": 5899, "taxable": true}
    ]}
  ],
  "tax_rate": 0.0825,
  "pos_updated_at": "$now"
}
JSON
echo
curl -sS "$PITWALL_URL/api/pos/v1/notifications?limit=5" -H "Authorization: Bearer $PITWALL_POS_KEY"
echo
