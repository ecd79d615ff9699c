#!/usr/bin/env bash
# Brings up the whole system locally: nats-server, the collector on embedded ClickHouse,
# a demo target, an agent in front of it, and some demo traffic. Then shows where to
# look and keeps running until Ctrl-C (with --once, or CI=true, it stops by itself).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh

ONCE=0
if [ "${1:-}" = "--once" ] || [ "${CI:-}" = "true" ]; then ONCE=1; fi

ensure_node
ensure_pnpm
ensure_nats_server
install_deps
log "building"
pnpm exec turbo run build --output-logs=errors-only >/dev/null

for port in 4222 8080 9464 15432 15433 25432; do
  if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
    die "port $port is already in use (is another demo running?); stop it and retry"
  fi
done

mkdir -p .demo
PIDS=()
cleanup() {
  trap - EXIT INT TERM
  log "stopping the demo"
  # Newest first: the agent, so its sessions end and flush; then the collector; then NATS.
  for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do
    kill -TERM "${PIDS[$i]}" 2>/dev/null || true
    wait "${PIDS[$i]}" 2>/dev/null || true
  done
}
trap cleanup EXIT INT TERM

wait_http() {
  for _ in $(seq 1 300); do
    if node -e "fetch('$1').then(r=>process.exit(r.ok?0:1)).catch(()=>process.exit(1))"; then return 0; fi
    sleep 0.2
  done
  die "$2 did not come up; see .demo/$2.log"
}

log "starting nats-server (JetStream) on 127.0.0.1:4222"
nats-server -c deploy/demo/nats.conf >.demo/nats.log 2>&1 &
PIDS+=($!)
wait_http http://127.0.0.1:8222/healthz nats

log "starting connlog-collector (embedded ClickHouse in .demo/collector/clickhouse)"
collector/bin/connlog-collector.js run --config deploy/demo/collector.yaml >.demo/collector.log 2>&1 &
PIDS+=($!)
wait_http http://127.0.0.1:8080/healthz collector

log "starting the demo target on 127.0.0.1:25432"
node scripts/demo/target.mjs 25432 >.demo/target.log 2>&1 &
PIDS+=($!)

log "starting connlog-agent (org demo, site laptop)"
agent/bin/connlog-agent.js run --config deploy/demo/agent.yaml >.demo/agent.log 2>&1 &
AGENT_PID=$!
PIDS+=("$AGENT_PID")
wait_http http://127.0.0.1:9464/healthz agent

log "sending demo traffic through the agent"
node scripts/demo/traffic.mjs 15432 15433 25

SQL="SELECT resource_id, status, close_reason, count() AS sessions, sum(bytes_tx) AS bytes_tx, sum(bytes_rx) AS bytes_rx FROM connlog.network_logs GROUP BY ALL ORDER BY ALL"
for _ in $(seq 1 100); do
  n=$(node collector/bin/connlog-collector.js sql --url http://127.0.0.1:8080 --format TSV \
    "SELECT count() FROM connlog.network_logs WHERE status = 'completed'" 2>/dev/null || echo 0)
  [ "${n:-0}" -ge 29 ] && break
  sleep 0.3
done

cat <<MSG

connlog is running.
  REST API       curl -s 'http://127.0.0.1:8080/api/v1/orgs/demo/network-logs?limit=5'
  SQL            node collector/bin/connlog-collector.js sql --url http://127.0.0.1:8080 "$SQL"
  metrics        curl -s http://127.0.0.1:9464/metrics   (agent)
                 curl -s http://127.0.0.1:8080/metrics   (collector)
  logs           .demo/*.log
  proxy          127.0.0.1:15432 → demo target 127.0.0.1:25432 (send lines of numbers: KiB to return)

$ connlog-collector sql "$SQL"
MSG
node collector/bin/connlog-collector.js sql --url http://127.0.0.1:8080 "$SQL"
echo
node -e "fetch('http://127.0.0.1:8080/api/v1/orgs/demo/network-logs?limit=1').then(r=>r.json()).then(j=>console.log('$ curl .../network-logs?limit=1\n'+JSON.stringify(j,null,2)))"

if [ "$ONCE" = 1 ]; then exit 0; fi
log "press Ctrl-C to stop"
wait "$AGENT_PID"
