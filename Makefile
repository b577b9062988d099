# Portcullis. The two commands: `make run` and `make test`. Both install what is missing first.
SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := run

export PATH := $(CURDIR)/node_modules/.bin:$(HOME)/.cargo/bin:$(PATH)

# CI builds once: incremental caches would only take disk (they were most of target/).
ifdef CI
export CARGO_INCREMENTAL := 0
endif

.PHONY: run test lint release demo tools test-tools site server unit e2e api-fuzz clean

## run: build and start the console at http://127.0.0.1:3000 (SQLite in ./data)
run: tools site server
	mkdir -p data
	./target/debug/portcullis

## test: style and lints first, then every test: unit, integration (real HTTP), Playwright end-to-end in Chromium, the API fuzzer
test: test-tools lint site unit e2e api-fuzz

## lint: rustfmt, clippy with warnings as errors on every crate, no import cycles between modules
# Clippy per package and target, as the builds: the browser crate only for wasm32.
lint:
	cargo fmt --all --check
	cargo clippy -p portcullis-types -p portcullis-domain -p okta-sim -p portcullis-bench --all-targets -- -D warnings
	cargo clippy -p portcullis-app -p portcullis-server --features portcullis-app/ssr --all-targets -- -D warnings
	cargo clippy -p portcullis-frontend -p portcullis-types --target wasm32-unknown-unknown --all-features -- -D warnings
	for crate in types domain app server okta-sim frontend; do python3 scripts/check-cycles.py $$crate/src; done

## demo: the Okta simulator's sample org and the console, pointed at each other
demo: tools site
	cargo build -p portcullis-server -p okta-sim
	scripts/demo.sh

## release: the production build: target/release/portcullis + target/site
release: tools site
	cargo build --release -p portcullis-server
	@echo "built target/release/portcullis and target/site (see README: Deploying)"

tools:
	scripts/ensure-tools.sh

test-tools:
	scripts/ensure-tools.sh --test

site:
	scripts/build-site.sh

server:
	cargo build -p portcullis-server

# Per package, never --workspace: the browser crate must not be built with server features.
# The SCIM checkers (scim2-cli, scim-sanity) come from test-tools' virtual environment.
# Then the store's suites (domain) and the server's integration tests again on a PostgreSQL of
# their own (scripts/with-postgres.sh: a fresh cluster on a free port, removed after).
unit:
	SCIM_CHECKERS_BIN=$(CURDIR)/target/scim-venv/bin cargo test -p portcullis-types -p portcullis-domain -p portcullis-app -p portcullis-server -p okta-sim
	SCIM_CHECKERS_BIN=$(CURDIR)/target/scim-venv/bin scripts/with-postgres.sh cargo test -p portcullis-domain -p portcullis-server

# Uses the binaries `cargo test` just built (portcullis, okta-sim).
e2e:
	cd end2end && npx playwright test

# schemathesis against /api/v1's OpenAPI document, on a fresh console (the binary `unit` built).
api-fuzz:
	scripts/api-fuzz.sh

clean:
	cargo clean
	rm -rf node_modules end2end/test-results
