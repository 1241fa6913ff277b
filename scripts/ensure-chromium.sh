#!/usr/bin/env bash
# Prints the path of a headless-capable Chromium for the browser tests,
# installing Debian's `chromium` package the first time (skipped when present).
#   scripts/ensure-chromium.sh   -> /usr/bin/chromium
set -euo pipefail
log() { echo "ensure-chromium: $*" >&2; }

if [ -n "${CHROMIUM:-}" ] && [ -x "$CHROMIUM" ]; then
  echo "$CHROMIUM"; exit 0
fi
bin="$(command -v chromium || true)"
if [ -z "$bin" ]; then
  log "installing Debian's chromium (one time)"
  sudo_=""
  if [ "$(id -u)" != 0 ]; then sudo_="sudo"; fi
  # One installer at a time (tests may start in parallel).
  exec 9>/tmp/omnicase-ensure-chromium.lock
  flock 9
  if ! command -v chromium >/dev/null 2>&1; then
    $sudo_ env DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2 || true
    $sudo_ env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium >&2
  fi
  bin="$(command -v chromium)"
fi
echo "$bin"
