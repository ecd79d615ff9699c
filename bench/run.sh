#!/usr/bin/env bash
# Runs the benchmark suite and prints the figures (docs/benchmarks.md records them).
# --quick: a smoke run that only checks the harness works (CI); figures are meaningless.
# --chaos [--sessions N] [--only a,b]: the fault scenarios with thousands of sessions
#   instead (bench/chaos.mjs; docs/reliability.md records the figures).
set -euo pipefail
cd "$(dirname "$0")/.."
pnpm exec turbo run build --output-logs=errors-only >/dev/null
if [[ "${1:-}" == "--chaos" ]]; then
  shift
  exec node bench/chaos.mjs "$@"
fi
node bench/tcp_throughput.mjs "$@"
