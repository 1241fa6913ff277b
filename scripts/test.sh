#!/usr/bin/env bash
# `make test`: bring up what the tests need, run the gates and every test.
set -euo pipefail
cd "$(dirname "$0")/.."

TEST_DATABASE_URL=$(scripts/ensure-postgres.sh)
export TEST_DATABASE_URL
echo "tests use PostgreSQL at ${TEST_DATABASE_URL}"

drop_test_databases() {
  psql "$TEST_DATABASE_URL" -tAc \
    "select format('drop database if exists %I with (force);', datname) from pg_database where datname like 'omnicase_t_%'" \
    | psql "$TEST_DATABASE_URL" -q >/dev/null 2>&1 || true
}
drop_test_databases

# The Kafka-protocol broker for the Kafka tests (installed the first time).
KAFKA_TEST_BROKERS=$(scripts/ensure-kafka.sh)
export KAFKA_TEST_BROKERS
echo "tests use a Kafka-protocol broker at ${KAFKA_TEST_BROKERS}"

# Debian's Chromium for the browser test (installed the first time).
CHROMIUM=$(scripts/ensure-chromium.sh)
export CHROMIUM
echo "tests use Chromium at ${CHROMIUM}"

cleanup() {
  drop_test_databases
  scripts/ensure-kafka.sh stop
  OMNICASE_PG_PRIVATE=1 scripts/ensure-postgres.sh stop 2>/dev/null || true
}
trap cleanup EXIT

echo "== cargo fmt --check"
cargo fmt --all --check
echo "== cargo clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings
echo "== cargo deny (licences, bans, sources)"
scripts/deny.sh
echo "== tests"
# insta records every snapshot file a test reads here (the mechanism
# cargo-insta's --unreferenced uses); a committed snapshot that no test
# read is stale and fails the run below.
INSTA_SNAPSHOT_REFERENCES_FILE="$(mktemp)"
export INSTA_SNAPSHOT_REFERENCES_FILE
if cargo nextest --version >/dev/null 2>&1; then
  # nextest does not run doctests; run them first so its summary closes the log.
  cargo test --workspace --locked --doc --quiet
  cargo nextest run --workspace --locked --no-fail-fast
else
  cargo test --workspace --locked --no-fail-fast
fi
unreferenced=$(comm -23 \
  <(find . -name '*.snap' -not -path './target/*' -not -path './fuzz/*' -exec realpath {} + | sort -u) \
  <(xargs -r -d '\n' realpath < "$INSTA_SNAPSHOT_REFERENCES_FILE" | sort -u))
rm -f "$INSTA_SNAPSHOT_REFERENCES_FILE"
unset INSTA_SNAPSHOT_REFERENCES_FILE
if [ -n "$unreferenced" ]; then
  echo "snapshots no test reads (delete them, or the test that should read them is gone):" >&2
  echo "$unreferenced" >&2
  exit 1
fi
echo "every committed snapshot is read by a test"

echo "== bounded fault suite (make faults) and bench smoke run (make bench)"
cargo build --locked -p services --bin omnicase -p bench --bin omnicase-bench
target/debug/omnicase-bench faults --quick
KAFKA_BROKERS="$KAFKA_TEST_BROKERS" target/debug/omnicase-bench --quick --out target/bench/quick.json

echo "== the HTTP intake against its OpenAPI document (schemathesis)"
scripts/api-fuzz.sh "${API_FUZZ_EXAMPLES:-40}"

echo "== bounded fuzzing (make fuzz): every target ${FUZZ_SECONDS:-20}s"
scripts/fuzz.sh "${FUZZ_SECONDS:-20}"
