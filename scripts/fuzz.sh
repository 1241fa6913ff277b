#!/usr/bin/env bash
# Builds the cargo-fuzz targets (fuzz/) and runs each for a bounded time.
#   scripts/fuzz.sh                 -> every target, FUZZ_SECONDS (default 60) each
#   scripts/fuzz.sh 300 jwt         -> one target for 5 minutes
# Seeds are read from fuzz/seeds/<target>; what the fuzzer learns goes to
# fuzz/corpus/<target> (not committed). A crash stops that target, is saved
# under fuzz/artifacts/<target>/ and makes the script exit 1 after the rest
# have run. Keep a fixed crash as a regression: docs/fuzzing.md.
set -euo pipefail
cd "$(dirname "$0")/.."

VERSION="0.13.2"
seconds="${1:-${FUZZ_SECONDS:-60}}"
shift || true
all=(submission mail_manifest stored_event jwt graphql_body graphql_shape)
if [ "$#" -gt 0 ]; then targets=("$@"); else targets=("${all[@]}"); fi
log() { echo "fuzz: $*" >&2; }

if ! cargo fuzz --version 2>/dev/null | grep -q "$VERSION"; then
  log "installing cargo-fuzz $VERSION from crates.io (one time, about 2 minutes)"
  cargo install "cargo-fuzz@$VERSION" --locked >&2
fi

# cargo-fuzz drives the compiler with unstable flags (sanitizer coverage,
# --cfg fuzzing); the machine's one toolchain is stable, so it runs in
# bootstrap mode here, for this build only. No sanitizer: the project's
# code forbids `unsafe`; the build keeps debug assertions and overflow checks.
export RUSTC_BOOTSTRAP=1
log "building ${#targets[@]} targets (release, debug assertions)"
cargo fuzz build --sanitizer none >&2

failed=()
for t in "${targets[@]}"; do
  mkdir -p "fuzz/corpus/$t" "fuzz/artifacts/$t"
  log "$t: ${seconds}s"
  if ! cargo fuzz run --sanitizer none "$t" "fuzz/corpus/$t" "fuzz/seeds/$t" -- \
      -max_total_time="$seconds" -timeout=20 -rss_limit_mb=4096 -max_len=16384 \
      -print_final_stats=1 >"fuzz/artifacts/$t/last-run.log" 2>&1; then
    failed+=("$t")
    log "$t: FAILED; the input is in fuzz/artifacts/$t/, the run in fuzz/artifacts/$t/last-run.log"
    tail -n 40 "fuzz/artifacts/$t/last-run.log" >&2
  else
    grep -E "^stat::number_of_executed_units|^stat::peak_rss_mb" "fuzz/artifacts/$t/last-run.log" \
      | sed "s/^/fuzz: $t: /" >&2 || true
    log "$t: corpus $(find "fuzz/corpus/$t" -type f | wc -l) inputs, no failure"
  fi
done

if [ "${#failed[@]}" -gt 0 ]; then
  log "targets that broke a promise: ${failed[*]}"
  exit 1
fi
log "all ${#targets[@]} targets ran ${seconds}s each without a failure"
