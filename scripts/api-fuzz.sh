#!/usr/bin/env bash
# Property-based tests of the HTTP intake against its own OpenAPI document
# (GET /openapi.json), with schemathesis (PyPI) on a live `omnicase serve`
# in production mode (no --dev): every response must conform to the
# document (status, content type, body schema, headers), no 5xx, no hang.
#   scripts/api-fuzz.sh [MAX_EXAMPLES]     (default 40 per operation)
# schemathesis is installed once into target/schemathesis (skipped when
# present). Run by `make test` and `make security`.
#
# Two of its checks do not apply to this contract and are left out:
# positive_data_acceptance (a document of the right shape may still be
# refused with a code by the contract's semantic rules or the domain:
# EMPTY_FILE, BAD_CHECKSUM, CLAIM_NOT_FOUND, ...: 422/404 by design) and
# ensure_resource_availability (a batch whose every entry lacked a usable
# document id recorded nothing, so GET of its id is 404 by design).
set -euo pipefail
cd "$(dirname "$0")/.."

VERSION="4.32.5"
examples="${1:-${API_FUZZ_EXAMPLES:-40}}"
venv="$PWD/target/schemathesis"
log() { echo "api-fuzz: $*" >&2; }

if ! "$venv/bin/st" --version 2>/dev/null | grep -q "$VERSION"; then
  log "installing schemathesis $VERSION from PyPI into target/schemathesis (one time)"
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q "schemathesis==$VERSION"
fi

cargo build --locked -q -p services --bin omnicase
bin="$PWD/target/debug/omnicase"
work="$(mktemp -d)"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')
export DATABASE_URL="sqlite://$work/omnicase.db"
export OMNICASE_AUTH__HS256_SECRET="api-fuzz-secret-$(python3 -c 'import secrets; print(secrets.token_hex(16))')"
# The fuzzer sends thousands of requests with one token.
export OMNICASE_RATE_LIMITS__PER_MINUTE=100000000
export OMNICASE_RATE_LIMITS__ANONYMOUS_PER_MINUTE=100000000
export OMNICASE_LOG=warn
"$bin" --tenant demo seed fixtures/claims >/dev/null
"$bin" serve --listen "127.0.0.1:$port" >"$work/serve.log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null || true; wait $server 2>/dev/null || true; rm -rf "$work"' EXIT
for _ in $(seq 1 100); do
  if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then break; fi
  sleep 0.1
done
token=$("$bin" --tenant demo token --role CASEWORKER --role AGENT)
log "schemathesis against http://127.0.0.1:$port/openapi.json, $examples examples per operation"
status=0
"$venv/bin/st" run "http://127.0.0.1:$port/openapi.json" \
  -H "Authorization: Bearer $token" \
  --checks all \
  --exclude-checks positive_data_acceptance,ensure_resource_availability \
  --max-examples "$examples" \
  --request-timeout 20 \
  --max-response-time 20 \
  --workers 2 \
  --seed 16 \
  --generation-database none \
  --no-color || status=$?
if ! kill -0 "$server" 2>/dev/null; then
  log "the server died during the run:"
  tail -20 "$work/serve.log" >&2
  exit 1
fi
exit $status
