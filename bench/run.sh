#!/usr/bin/env bash
# Runs the benchmark suite and prints the figures (docs/benchmarks.md records them).
# --quick: a smoke run that only checks the harness works (CI); figures are meaningless.
set -euo pipefail
cd "$(dirname "$0")/.."
pnpm exec turbo run build --output-logs=errors-only >/dev/null
node bench/tcp_throughput.mjs "$@"
