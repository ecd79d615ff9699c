# Shared by scripts/*.sh: make sure the tools connlog needs are on this machine.
# shellcheck shell=bash

export TURBO_TELEMETRY_DISABLED=1
export DO_NOT_TRACK=1

log() { printf '\033[1;34m==>\033[0m %s\n' "$*" >&2; }
die() { printf '\033[1;31merror:\033[0m %s\n' "$*" >&2; exit 1; }

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else return 1; fi
}

ensure_node() {
  command -v node >/dev/null || die "Node.js >= 20.19 is required (https://nodejs.org)"
  node -e 'const [a,b]=process.versions.node.split(".").map(Number); process.exit(a>20||(a===20&&b>=19)?0:1)' \
    || die "Node.js >= 20.19 is required, found $(node --version)"
}

ensure_pnpm() {
  if ! command -v pnpm >/dev/null; then
    log "installing pnpm 10 (npm install -g pnpm@10)"
    npm install -g pnpm@10 >/dev/null 2>&1 || as_root npm install -g pnpm@10 >/dev/null \
      || die "could not install pnpm; install pnpm 10 and retry"
  fi
}

apt_install() {
  command -v apt-get >/dev/null || return 1
  log "installing $* from Debian packages"
  as_root apt-get update -qq >/dev/null && as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

ensure_nats_server() {
  if ! command -v nats-server >/dev/null; then
    apt_install nats-server || die "nats-server is required: install it (Debian/Ubuntu: apt-get install nats-server; elsewhere see https://docs.nats.io) and retry"
  fi
}

install_deps() {
  log "installing dependencies (pnpm install --frozen-lockfile)"
  pnpm install --frozen-lockfile --reporter=silent
}
