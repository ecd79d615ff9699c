#!/usr/bin/env bash
# Runs every check CI runs: build, typecheck, lint + prettier, unit tests, then the
# integration and end-to-end tests (real nats-server, embedded ClickHouse, real sockets).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh

ensure_node
ensure_pnpm
ensure_nats_server
install_deps

log "build, typecheck, lint, unit tests"
pnpm exec turbo run build typecheck lint test:unit --output-logs=errors-only
log "formatting (prettier --check)"
pnpm exec prettier --check . >/dev/null || { pnpm exec prettier --check . ; die "files are not formatted: run pnpm format"; }
log "integration and end-to-end tests (one package at a time)"
pnpm exec turbo run test:integration --concurrency=1 --output-logs=full
log "all checks passed"
