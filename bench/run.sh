#!/usr/bin/env bash
# Runs the whole benchmark suite on this machine and writes the figures, with the exact
# commands, into docs/benchmarks.md (the generated section between its markers).
#
#   pnpm bench                 # full run (about 20-30 minutes on 2 cores)
#   pnpm bench --quick         # smoke run (< 2 min): tiny sizes, asserts nothing about
#                              # speed; exits non-zero only if a benchmark harness broke
#   pnpm bench --only tcp_churn,pipeline   # a subset (names = bench/<name>.mjs)
#   pnpm bench --no-doc        # print figures only, leave docs/benchmarks.md alone
#
# Quick mode does not touch docs/benchmarks.md unless BENCH_DOC=1.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh

args_text="$*"
quick=0
only=""
doc=1
pass=()
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) quick=1; pass+=("--quick") ;;
    --only) only="$2"; shift ;;
    --no-doc) doc=0 ;;
    *) pass+=("$1") ;;
  esac
  shift
done
[ "$quick" = 1 ] && [ "${BENCH_DOC:-0}" != 1 ] && doc=0

# The references and load tools, from Debian's packages.
missing=()
for tool in nats-server haproxy socat iperf3; do
  command -v "$tool" >/dev/null || missing+=("$tool")
done
if [ ${#missing[@]} -gt 0 ]; then
  apt_install "${missing[@]}" || die "missing ${missing[*]}: install them (Debian: apt-get install ${missing[*]})"
fi

log "building (turbo)"
pnpm exec turbo run build --output-logs=errors-only >/dev/null

# Descriptors for 10,000 proxied sessions (2 each): as many as the hard limit allows.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

suite=(tcp_throughput tcp_churn tcp_latency udp_throughput tcp_memory pipeline storage api)
if [ -n "$only" ]; then IFS=',' read -r -a suite <<<"$only"; fi

results="bench/.out/$(date -u +%Y%m%dT%H%M%SZ)"
mkdir -p "$results"
export BENCH_RESULTS_DIR="$PWD/$results"
load_start="$(cut -d' ' -f1-3 /proc/loadavg)"
failed=()
for name in "${suite[@]}"; do
  script="bench/$name.mjs"
  if [ ! -f "$script" ]; then
    log "skipping $name (no $script)"
    continue
  fi
  log "$name"
  started=$SECONDS
  if ! node "$script" "${pass[@]}"; then
    failed+=("$name")
    printf '\033[1;31m%s failed\033[0m\n' "$name" >&2
  fi
  log "$name took $((SECONDS - started)) s"
done
load_end="$(cut -d' ' -f1-3 /proc/loadavg)"

command="pnpm bench${args_text:+ $args_text}"
node -e 'const [f, c, s, e, ...x] = process.argv.slice(1); require("fs").writeFileSync(f, JSON.stringify({ command: c, loadStart: s, loadEnd: e, failed: x.filter(Boolean) }))' \
  "$results/_run.json" "$command" "$load_start" "$load_end" "${failed[@]:-}"
if [ "$doc" = 1 ]; then
  node bench/report.mjs "$results" $([ "$quick" = 1 ] && echo --quick)
  # The repo's formatting check covers docs too.
  pnpm exec prettier --write docs/benchmarks.md >/dev/null
fi
log "results in $results"
if [ ${#failed[@]} -gt 0 ]; then die "benchmarks failed: ${failed[*]}"; fi
