#!/usr/bin/env bash
# Page views under load (wrk, 64 connections, 2 threads): the dashboard rendered on the
# server for one signed-in user with a plan and purchases, and `GET /api/account`.
# Runs the release server on the embedded defaults (SQLite, in-process demo broker) in a
# temporary data directory. Figures go to BENCHMARKS.md by hand.
#
# Usage: scripts/bench-pages.sh [seconds per run, default 20]
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-20}
port=${BENCH_PORT:-3917}
target=${CARGO_TARGET_DIR:-target}
bin="$target/release/quantshift"

if ! command -v wrk >/dev/null; then
  apt-get install -y -qq wrk >/dev/null
fi
[ -x "$bin" ] || cargo build --release -p server --bin quantshift

data=$(mktemp -d)
jar="$data/cookies"
QUANTSHIFT_DATA_DIR="$data" QUANTSHIFT_LISTEN="127.0.0.1:$port" RUST_LOG=warn \
  QUANTSHIFT_DEMO_START_TIME=2026-11-30T15:00:00Z QUANTSHIFT_SCHEDULER_POLL_MS=100 \
  "$bin" serve &
server=$!
trap 'kill $server 2>/dev/null; wait $server 2>/dev/null; rm -rf "$data"' EXIT
for _ in $(seq 1 100); do
  curl -fs "http://127.0.0.1:$port/readyz" >/dev/null && break
  sleep 0.1
done

api() {
  curl -fsS -b "$jar" -c "$jar" -H 'content-type: application/json' "$@"
}
api -X POST "http://127.0.0.1:$port/api/auth/signup" \
  -d '{"email":"bench@example.com","password":"correct horse battery"}' >/dev/null
plan=$(api -X POST "http://127.0.0.1:$port/api/dca/config" -d '{"name":"bench",
  "legs":[{"symbol":"SPY","amount":"50.00"},{"symbol":"QQQ","amount":"25.00"}],
  "schedule":{"frequency":"weekly","interval":1,"weekday":"mon","day_of_month":null,
  "time":"10:00","timezone":"America/New_York"}}' | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
api -X POST "http://127.0.0.1:$port/api/dca/run-now" -H 'idempotency-key: bench' \
  -d "{\"plan_id\":\"$plan\"}" >/dev/null
# Wait for the purchase to be recorded, so the dashboard shows history and positions.
for _ in $(seq 1 100); do
  api "http://127.0.0.1:$port/api/dca/history" | grep -q '"filled"' && break
  sleep 0.1
done
session=$(awk '$6 == "qs_session" {print $7}' "$jar")

run() {
  echo "== $1"
  wrk -t2 -c64 -d"${seconds}s" --latency -H "Cookie: qs_session=$session" -H "Accept: $2" \
    "http://127.0.0.1:$port$1" | sed -n '/Latency Distribution/,/Transfer/p'
}
run /dashboard text/html
run /api/account application/json
