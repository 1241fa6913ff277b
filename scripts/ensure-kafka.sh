#!/usr/bin/env bash
# Starts a Kafka-protocol broker for the tests on 127.0.0.1 and prints its
# address (host:port). The broker is nisshi (DESIGN §7), installed from
# crates.io the first time (12-16 min on 2 cores), skipped when present.
#   scripts/ensure-kafka.sh         -> prints 127.0.0.1:PORT, writes target/kafka/broker.pid
#   scripts/ensure-kafka.sh stop    -> stops the broker started here
#   scripts/ensure-kafka.sh bin     -> installs if needed, prints the nisshi binary (tests that
#                                      kill and restart a broker of their own)
set -euo pipefail
cd "$(dirname "$0")/.."

VERSION="0.7.0-pre.2"
dir="$PWD/target/kafka"
mkdir -p "$dir"
log() { echo "ensure-kafka: $*" >&2; }

# One caller at a time (test processes may start in parallel).
exec 9>"$dir/lock"
flock 9

if [ "${1:-}" = "stop" ]; then
  if [ -f "$dir/broker.pid" ]; then
    kill "$(cat "$dir/broker.pid")" 2>/dev/null || true
  fi
  rm -f "$dir/broker.pid" "$dir/broker.addr"
  exit 0
fi

bin="$(command -v nisshi || true)"
if [ -z "$bin" ] || ! "$bin" --version 2>/dev/null | grep -q "$VERSION"; then
  log "installing nisshi $VERSION from crates.io (one time, 12-16 minutes)"
  cargo install "nisshi@$VERSION" --locked --features dynostore >&2
  bin="$(command -v nisshi || echo "$HOME/.cargo/bin/nisshi")"
fi

if [ "${1:-}" = "bin" ]; then
  echo "$bin"; exit 0
fi

# A running broker from an earlier call is reused.
if [ -f "$dir/broker.pid" ] && kill -0 "$(cat "$dir/broker.pid")" 2>/dev/null && [ -f "$dir/broker.addr" ]; then
  cat "$dir/broker.addr"; exit 0
fi

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')
run="$dir/run"
rm -rf "$run" && mkdir -p "$run"
# nisshi reads ./.env: start it from an empty folder.
(cd "$run" && exec 9>&- && exec "$bin" broker \
  --listener-url "tcp://127.0.0.1:$port" \
  --advertised-listener-url "tcp://127.0.0.1:$port" \
  --storage-engine "memory://nisshi/" > "$dir/broker.log" 2>&1 < /dev/null) &
echo $! > "$dir/broker.pid"
for _ in $(seq 1 100); do
  if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
    echo "127.0.0.1:$port" > "$dir/broker.addr"
    cat "$dir/broker.addr"; exit 0
  fi
  sleep 0.1
done
log "broker did not come up; see $dir/broker.log"
exit 1
