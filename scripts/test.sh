#!/usr/bin/env bash
# Runs every check CI runs: build, typecheck, lint + prettier, unit tests, the integration
# and end-to-end tests (real nats-server, embedded ClickHouse, real sockets), and a quick
# smoke run of the benchmark harnesses (asserts nothing about speed).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh

ensure_node
ensure_pnpm
ensure_nats_server
install_deps

LOG=$(mktemp -t connlog-test.XXXXXX)
trap 'rm -f "$LOG"' EXIT

log "build, typecheck, lint, unit tests"
pnpm exec turbo run build typecheck lint test:unit --output-logs=new-only 2>&1 | tee -a "$LOG"
log "formatting (prettier --check)"
pnpm exec prettier --check . >/dev/null || { pnpm exec prettier --check . ; die "files are not formatted: run pnpm format"; }
log "integration and end-to-end tests (one package at a time)"
pnpm exec turbo run test:integration --concurrency=1 --output-logs=full 2>&1 | tee -a "$LOG"
if [ "${CONNLOG_SKIP_BENCH_SMOKE:-}" != 1 ]; then
  log "benchmark harness smoke run (bench/run.sh --quick)"
  bash bench/run.sh --quick
fi

# One closing line over every vitest run above ("Tests  12 passed (12)", "Tests  1 failed | 11 passed").
counts=$(sed -e 's/\x1b\[[0-9;]*m//g' "$LOG" | grep -E '^.*Tests +[0-9]' || true)
sum() { printf '%s\n' "$counts" | { grep -oE "[0-9]+ $1" || true; } | awk '{s+=$1} END {print s+0}'; }
passed=$(sum passed)
failed=$(sum failed)
log "all checks passed"
echo "${passed} passed, ${failed} failed"
