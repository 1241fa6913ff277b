#!/usr/bin/env bash
# `make security`: the security suite, on SQLite and a real PostgreSQL —
# BOLA sweep (another citizen, another tenant: every query, mutation and
# subscription), tenancy at the store and engine level, JWT handling (alg
# none / other algorithms / expired / not yet valid / bad signature /
# tampered / missing or wrong claims / JWKS), GraphQL depth, complexity,
# alias and size limits, masking and audit of case-context reads and
# denials, no personal data in logs, and the lanes of integrators and
# citizens. The same tests run in `make test`.
set -euo pipefail
cd "$(dirname "$0")/.."
TEST_DATABASE_URL=$(scripts/ensure-postgres.sh)
export TEST_DATABASE_URL
exec cargo nextest run --workspace --no-fail-fast -E \
  'test(/bola|never_cross_tenants|masks_until_verified|authentication_and_limits|oversized_requests|personal_data_never|hardening::|auth::tests::|development_secret|dev_tokens/)'
