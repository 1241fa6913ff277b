# The two commands a newcomer needs: `make run` and `make test`.
CARGO ?= cargo

.PHONY: run test bench build lint fmt clean-db

## Build and serve the API on the embedded default (SQLite file in .omnicase/), with demo data.
run:
	$(CARGO) run -p services --bin omnicase -- serve

## Bring up PostgreSQL if needed, then fmt check, clippy -D warnings and every test.
test:
	scripts/test.sh

## Measure omnicase against the machine's limits (release build; PostgreSQL found or started).
## BENCH_ARGS="--quick" for a short smoke run. Results: target/bench/results.json; see docs/benchmarks.md.
bench:
	$(CARGO) build --release -p services --bin omnicase -p bench --bin omnicase-bench
	target/release/omnicase-bench $(BENCH_ARGS)

build:
	$(CARGO) build --workspace

lint:
	$(CARGO) fmt --all --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

fmt:
	$(CARGO) fmt --all

## Forget the embedded database.
clean-db:
	rm -rf .omnicase
