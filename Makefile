# The two commands a newcomer needs: `make run` and `make test`.
CARGO ?= cargo

.PHONY: run test bench faults fuzz security build lint fmt clean-db

## Build and serve the API on the embedded default (SQLite file in .omnicase/), with demo data.
run:
	$(CARGO) run -p services --bin omnicase -- serve --dev

## Bring up PostgreSQL if needed, then fmt check, clippy -D warnings, cargo deny and every test.
test:
	scripts/test.sh

## Measure omnicase against the machine's limits (release build; PostgreSQL found or started).
## BENCH_ARGS="--quick" for a short smoke run. Results: target/bench/results.json; see docs/benchmarks.md.
## Projection lag through Kafka is measured when KAFKA_BROKERS is set, or when the test broker
## (nisshi) is installed: then it is started here.
bench:
	$(CARGO) build --release -p services --bin omnicase -p bench --bin omnicase-bench
	KAFKA_BROKERS="$${KAFKA_BROKERS:-$$(command -v nisshi >/dev/null && scripts/ensure-kafka.sh)}" \
	  target/release/omnicase-bench $(BENCH_ARGS)

## The fault suite: kill -9 under load, PostgreSQL restarted under load, 100 writers on one case
## (on a private PostgreSQL cluster it may restart). FAULTS_ARGS="--quick" is the bounded CI form.
faults:
	$(CARGO) build --release -p services --bin omnicase -p bench --bin omnicase-bench
	target/release/omnicase-bench faults $(FAULTS_ARGS)

## Fuzz every decoder of outside input for FUZZ_SECONDS (default 60) each; see docs/fuzzing.md.
fuzz:
	scripts/fuzz.sh $(FUZZ_SECONDS)

## The security suite alone (it also runs in make test); see scripts/security.sh.
security:
	scripts/security.sh

build:
	$(CARGO) build --workspace

## fmt check, clippy -D warnings, and cargo deny (licences, bans, sources; installed the first time).
lint:
	$(CARGO) fmt --all --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings
	scripts/deny.sh

fmt:
	$(CARGO) fmt --all

## Forget the embedded database.
clean-db:
	rm -rf .omnicase
