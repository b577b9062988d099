#!/usr/bin/env bash
# `make demo`: the Okta simulator with its sample org, and the console pointed at it,
# so the whole product can be walked through without an Okta account.
set -euo pipefail
cd "$(dirname "$0")/.."

SIM_ADDR=${SIM_ADDR:-127.0.0.1:8899}
DATA=${DEMO_DATA_DIR:-data/demo}
ADMIN_EMAIL=${DEMO_ADMIN_EMAIL:-admin@example.com}
ADMIN_PASSWORD=${DEMO_ADMIN_PASSWORD:-portcullis-demo-admin}
mkdir -p "$DATA"

./target/debug/okta-sim --listen "$SIM_ADDR" > "$DATA/okta-sim.log" 2>&1 &
sim=$!
trap 'kill $sim 2>/dev/null || true' EXIT INT TERM
host=${SIM_ADDR%:*} port=${SIM_ADDR##*:}
for _ in $(seq 1 100); do
  (exec 3<>"/dev/tcp/$host/$port") 2>/dev/null && break
  sleep 0.1
done
sleep 0.3

cat <<TXT

================================ Portcullis demo ================================
Console:   http://127.0.0.1:3000   (sign in as $ADMIN_EMAIL / $ADMIN_PASSWORD)
Simulated Okta org: http://$SIM_ADDR   (its log: $DATA/okta-sim.log)

In the console: Identity providers → Okta → Connect, then type:
TXT
# The simulator prints its credentials at start: the same values the wizard asks for.
sed -n '/Base URL/,$p' "$DATA/okta-sim.log" | sed 's/^/  /'
cat <<TXT

The private key is also in okta-sim/fixtures/sample-service-app-key.json: paste its
contents into "Directory Sync Private Key".
=================================================================================

TXT

PORTCULLIS_DATA_DIR="$DATA" \
PORTCULLIS_OUTBOUND_ALLOW="$SIM_ADDR" \
PORTCULLIS_ADMIN_EMAIL="$ADMIN_EMAIL" \
PORTCULLIS_ADMIN_PASSWORD="$ADMIN_PASSWORD" \
  ./target/debug/portcullis
