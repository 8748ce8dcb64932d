# The two commands of the README: `make run` and `make test`.
.PHONY: run test web check contract browser

CARGO ?= cargo

node_modules/.package-lock.json: package.json package-lock.json
	npm ci

web: node_modules/.package-lock.json
	npm run build

# Runs the app as users get it: http://localhost:3000, history in ./baat-chit.db.
run: web
	$(CARGO) run --release

# Every test: formatting, lints (the bench crates too), strict TypeScript, Rust unit and
# integration tests (the store's against SQLite and PostgreSQL), the load
# generator's unit tests (what it reads out of the server's frames), the vendored
# socketioxide and engineioxide's own unit tests (vendor/test.sh), a smoke of
# the benchmark suite (S1 to S6, tiny, on the debug builds: bench/Makefile's
# test-smoke, which also builds the load generator and the bench servers
# and installs bench/node_modules), the contract suite (on one process,
# then on a cluster of three), the browser suite and the cluster suite. The
# cluster runs need PostgreSQL and Redis on this machine, and nginx (see
# README.md).
test: web check
	$(CARGO) test
	$(CARGO) test -p baat-chit-loadgen
	CARGO="$(CARGO)" vendor/test.sh
	$(CARGO) build
	$(MAKE) -C bench test-smoke CARGO="$(CARGO)"
	npm run test:contract
	npm run test:contract:cluster
	npm run test:browser
	npm run test:cluster

check: node_modules/.package-lock.json
	$(CARGO) fmt --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings
	npm run typecheck
