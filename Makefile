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

# Every test: formatting, lints, strict TypeScript, Rust unit and
# integration tests, the contract suite and the browser suite.
test: web check
	$(CARGO) test
	$(CARGO) build
	npm run test:contract
	npm run test:browser

check: node_modules/.package-lock.json
	$(CARGO) fmt --check
	$(CARGO) clippy --all-targets -- -D warnings
	npm run typecheck
