#!/usr/bin/env bash
# `make security`: the security suite, on SQLite and a real PostgreSQL —
# attacks on a real server socket (tests/it/attacks.rs: nesting, fragment
# explosions, bodies before authentication, slow clients, the connection
# cap, WebSocket limits and close codes, expired tokens, subscription
# bounds, unknown tenants, coded refusals), the GraphQL document bounds
# (graphql/src/limits.rs), BOLA sweep (another citizen, another tenant:
# every query, mutation and subscription), tenancy at the store and engine
# level, JWT handling (alg none / other algorithms / expired / not yet
# valid / bad signature / tampered / missing or wrong claims / JWKS),
# GraphQL depth, complexity, alias and size limits, masking and audit of
# case-context reads and denials, no personal data in logs, and the lanes
# of integrators and citizens. The same tests run in `make test`.
#
# Each group is a module (or, for older tests, a name); a group that
# matches no test fails the run, so a rename cannot drop one silently.
set -euo pipefail
cd "$(dirname "$0")/.."
TEST_DATABASE_URL=$(scripts/ensure-postgres.sh)
export TEST_DATABASE_URL
groups=(
  'test(/^attacks::/)'
  'test(/^hardening::/)'
  'package(graphql) & test(/^limits::tests::/)'
  'package(graphql) & test(/^auth::tests::/)'
  'package(graphql) & test(/^rate::tests::/)'
  'package(services) & test(/^openapi::tests::/)'
  'test(/bola/)'
  'test(/never_cross_tenants/)'
  'test(/masks_until_verified/)'
  'test(/authentication_and_limits/)'
  'test(/oversized_requests/)'
  'test(/personal_data_never/)'
  'test(/development_secret/)'
  'test(/dev_tokens/)'
)
expr=""
for g in "${groups[@]}"; do
  n=$(cargo nextest list --workspace --message-format oneline -E "$g" 2>/dev/null | grep -c . || true)
  if [ "$n" -eq 0 ]; then
    echo "security: the group $g matches no test" >&2
    exit 1
  fi
  expr="${expr:+$expr | }($g)"
done
cargo nextest run --workspace --no-fail-fast -E "$expr"
# The HTTP intake against its own OpenAPI document, on a live server.
scripts/api-fuzz.sh
