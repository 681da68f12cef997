#!/bin/bash
# The CPU cost of one request, measured steadily: the server runs on core 0 and the load generator on core 1
# (taskset), so neither takes the other's core and a route's CPU per request varies by a few per cent between
# runs instead of the ±20 µs of an unpinned run (bench/README.md, "Third round"). A tool for working on the
# per-request path; the figures the targets are judged by come from `npm run bench`.
#
#   bench/pinned.sh <server> <route> [seconds] [runs]
#     server: swarmcore (dist/cli.js, built with `npx tsc -p tsconfig.build.json`) or baseline
#     route:  status (GetCurrentStatus), userdata (GetMyUserData with 20 presets), newsession, static
#   NODE_FLAGS="--cpu-prof --cpu-prof-dir=DIR" profiles the swarmcore process.
#   DATABASE_URL=postgres://... runs swarmcore on that (empty) PostgreSQL database instead of SQLite.
#
# Prints per run: requests per second and the server's CPU (user + system) per request in µs.
set -euo pipefail
cd "$(dirname "$0")/.."
SERVER=$1
ROUTE=$2
SECONDS_PER_RUN=${3:-5}
RUNS=${4:-3}
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
if [ "$SERVER" = baseline ]; then
  taskset -c 0 node --import tsx bench/baseline-server.ts web/imgs/swarmcore.svg 2> "$WORK/baseline.log" &
  PID=$!
  for _ in $(seq 50); do grep -q listening "$WORK/baseline.log" 2> /dev/null && break; sleep 0.1; done
  PORT=$(grep -o '[0-9]*$' "$WORK/baseline.log")
else
  PORT=$((20000 + RANDOM % 20000))
  # shellcheck disable=SC2086
  taskset -c 0 node --heap-growing-percent=50 ${NODE_FLAGS:-} dist/cli.js serve --data-dir "$WORK/data" ${DATABASE_URL:+--database-url "$DATABASE_URL"} --host 127.0.0.1 --port "$PORT" > "$WORK/server.log" 2>&1 &
  PID=$!
fi
URL=http://127.0.0.1:$PORT
for _ in $(seq 100); do curl -s -o /dev/null "$URL/" && break; sleep 0.1; done
SID=$(curl -s -XPOST -H 'content-type: application/json' -d '{}' "$URL/API/GetNewSession" | node -e 'let s="";process.stdin.on("data",(d)=>(s+=d)).on("end",()=>{try{console.log(JSON.parse(s).session_id??"none")}catch{console.log("none")}})')
if [ "$ROUTE" = userdata ] && [ "$SERVER" != baseline ]; then
  # 20 presets of ten parameters each, as bench/run.ts makes them (without the previews).
  node -e '
const [url, sid] = process.argv.slice(1);
(async () => {
  for (let i = 0; i < 20; i++) {
    const param_map = { prompt: `a photo of a cat number ${i} in the style of an old painting, detailed`, negativeprompt: "blurry, low quality", model: "sdxl/base.safetensors", steps: "20", cfgscale: "7", seed: String(1000 + i), width: "1024", height: "1024", sampler: "euler", scheduler: "normal" };
    const r = await fetch(`${url}/API/AddNewPreset`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ session_id: sid, title: `Preset ${i}`, description: `A preset for the bench ${i}`, param_map, preview_image: "" }) });
    const j = await r.json();
    if (!j.success) throw new Error(JSON.stringify(j));
  }
})();' "$URL" "$SID"
fi
case $ROUTE in
  status) REQ="{\"method\":\"POST\",\"path\":\"/API/GetCurrentStatus\",\"body\":\"{\\\"session_id\\\":\\\"$SID\\\"}\"}" ;;
  userdata) REQ="{\"method\":\"POST\",\"path\":\"/API/GetMyUserData\",\"body\":\"{\\\"session_id\\\":\\\"$SID\\\"}\"}" ;;
  newsession) REQ='{"method":"POST","path":"/API/GetNewSession","body":"{}"}' ;;
  static) REQ='{"method":"GET","path":"/imgs/swarmcore.svg"}' ;;
  *) echo "unknown route $ROUTE" >&2; exit 2 ;;
esac
echo "{\"url\":\"$URL\",\"connections\":10,\"duration\":$SECONDS_PER_RUN,\"requests\":[$REQ],\"badMarkers\":[\"error_id\"]}" > "$WORK/spec.json"
cpu() { awk '{print $14 + $15}' "/proc/$PID/stat"; }
taskset -c 1 node --import tsx bench/cannon.ts "$WORK/spec.json" > /dev/null # warm-up
for _ in $(seq "$RUNS"); do
  BEFORE=$(cpu)
  OUT=$(taskset -c 1 node --import tsx bench/cannon.ts "$WORK/spec.json")
  AFTER=$(cpu)
  echo "$OUT" | node -e "let s='';process.stdin.on('data',(d)=>(s+=d)).on('end',()=>{const r=JSON.parse(s);const n=r.requests.total;const ticks=$AFTER-$BEFORE;console.log('$SERVER $ROUTE', Math.round(n/r.duration), 'req/s', ((ticks*1e6/100)/n).toFixed(1), 'µs CPU/req', r.badBodies||r.errors?'(bad answers: '+(r.badBodies+r.errors)+')':'')})"
done
kill -INT "$PID"
wait "$PID" 2> /dev/null || true
