# The two commands a newcomer needs: `make run` and `make test`.
CARGO ?= cargo

.PHONY: run test build lint fmt clean-db

## Build and serve the API on the embedded default (SQLite file in .omnicase/), with demo data.
run:
	$(CARGO) run -p services --bin omnicase -- serve

## Bring up PostgreSQL if needed, then fmt check, clippy -D warnings and every test.
test:
	scripts/test.sh

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
