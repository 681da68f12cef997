#!/bin/bash
# The user-space instructions one call costs the server, counted by valgrind's callgrind: unlike seconds, the
# count does not move with what else the machine is doing, so two builds can be compared on a busy machine
# (bench/README.md, "Fifth round"). Kernel work (the socket reads and writes) is not counted; both servers make
# the same system calls per call (one read, one writev; checked with `strace -c -f`).
#
#   bench/instructions.sh <server> [calls-small] [calls-large]
#     server: swarmcore (dist/cli.js, built with `npx tsc -p tsconfig.build.json`) or baseline
#     DATABASE_URL=postgres://... runs swarmcore on that (empty) PostgreSQL database instead of SQLite.
#
# Runs the server under callgrind twice, answering calls-small (default 5,000) and calls-large (default 45,000)
# GetCurrentStatus calls after start-up, and prints (large - small) / (calls-large - calls-small): start-up
# and warm-up cancel out. The two runs go side by side, one per core. Needs valgrind (Debian's package); each
# run takes about a minute.
set -euo pipefail
cd "$(dirname "$0")/.."
SERVER=$1
SMALL=${2:-5000}
LARGE=${3:-45000}

count() {
  local calls=$1 work port url sid pid
  work=$(mktemp -d)
  port=$((20000 + RANDOM % 20000))
  if [ "$SERVER" = baseline ]; then
    valgrind --tool=callgrind --smc-check=all --cache-sim=no --branch-sim=no --callgrind-out-file="$work/cg.out" \
      node --import tsx bench/baseline-server.ts > "$work/server.log" 2>&1 &
    pid=$!
    for _ in $(seq 600); do grep -q listening "$work/server.log" 2> /dev/null && break; sleep 0.2; done
    port=$(grep -o 'listening on http://127.0.0.1:[0-9]*' "$work/server.log" | grep -o '[0-9]*$')
    url=http://127.0.0.1:$port
    sid=$(printf '%052d' 0) # the baseline reads no session; the body has the same size as swarmcore's
  else
    valgrind --tool=callgrind --smc-check=all --cache-sim=no --branch-sim=no --callgrind-out-file="$work/cg.out" \
      node dist/cli.js serve --data-dir "$work/data" ${DATABASE_URL:+--database-url "$DATABASE_URL"} --host 127.0.0.1 --port "$port" > "$work/server.log" 2>&1 &
    pid=$!
    url=http://127.0.0.1:$port
    for _ in $(seq 600); do curl -s -o /dev/null "$url/" && break; sleep 0.2; done
    sid=$(curl -s -XPOST -H 'content-type: application/json' -d '{}' "$url/API/GetNewSession" | node -e 'let s="";process.stdin.on("data",(d)=>(s+=d)).on("end",()=>console.log(JSON.parse(s).session_id))')
  fi
  echo "{\"url\":\"$url\",\"connections\":10,\"amount\":$calls,\"requests\":[{\"method\":\"POST\",\"path\":\"/API/GetCurrentStatus\",\"body\":\"{\\\"session_id\\\":\\\"$sid\\\"}\"}],\"badMarkers\":[\"error_id\"]}" > "$work/spec.json"
  node --import tsx bench/cannon.ts "$work/spec.json" > "$work/out.json"
  kill -INT "$pid"
  wait "$pid" || true
  node -e '
const r = require(process.argv[1]);
if (r.requests.total !== Number(process.argv[2]) || r.badBodies || r.errors) { console.error("unexpected answers", JSON.stringify(r.statusCounts ?? r)); process.exit(1); }' "$work/out.json" "$calls"
  grep '^totals:' "$work/cg.out" | grep -o '[0-9]*'
  rm -rf "$work"
}

DB=${DATABASE_URL:-}
if [ -n "$DB" ]; then
  # Two runs side by side need two databases: the second is the first's name with a suffix.
  BASE_DB_URL=${DB%/*}
  NAME=${DB##*/}
  export PGOPTIONS="-c client_min_messages=warning"
  psql "$DB" -qc 'select 1' > /dev/null
  psql "$BASE_DB_URL/postgres" -qc "DROP DATABASE IF EXISTS ${NAME}_second" -c "CREATE DATABASE ${NAME}_second" > /dev/null
  count "$SMALL" > "${TMPDIR:-/tmp}/instructions-small.$$" &
  SMALL_PID=$!
  L=$(DATABASE_URL="$BASE_DB_URL/${NAME}_second" count "$LARGE")
  psql "$BASE_DB_URL/postgres" -qc "DROP DATABASE IF EXISTS ${NAME}_second" > /dev/null
else
  count "$SMALL" > "${TMPDIR:-/tmp}/instructions-small.$$" &
  SMALL_PID=$!
  L=$(count "$LARGE")
fi
wait "$SMALL_PID"
S=$(cat "${TMPDIR:-/tmp}/instructions-small.$$")
rm -f "${TMPDIR:-/tmp}/instructions-small.$$"
echo "$SERVER: $S instructions with $SMALL calls, $L with $LARGE: $(( (L - S) / (LARGE - SMALL) )) per GetCurrentStatus call"
