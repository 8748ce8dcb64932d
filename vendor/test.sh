#!/usr/bin/env bash
# Runs the vendored crates' own unit tests (with our patches applied).
#
# They are not members of our workspace (they are `[patch.crates-io]` path
# crates), and cargo tests only members: their dev-dependencies are not in
# our lockfile. So each is tested from a copy that is a workspace of its
# own, starting from our lockfile (the versions we ship) plus its
# dev-dependencies, from the crates.io registry. socketioxide's copy uses
# the vendored engineioxide, as we do.
set -euo pipefail
# The cargo `make test` runs with (its CARGO), or the one on the PATH.
cargo=${CARGO:-cargo}
cd "$(dirname "$0")/.."
root=$(pwd)
work="$root/target/vendored-tests"
mkdir -p "$work"
export CARGO_TARGET_DIR="$work/target"

copy() { # crate -> path of its copy
  rm -rf "$work/$1"
  cp -r "$root/vendor/$1" "$work/$1"
  cp "$root/Cargo.lock" "$work/$1/Cargo.lock"
  printf '\n[workspace]\n' >>"$work/$1/Cargo.toml"
}

copy engineioxide
(cd "$work/engineioxide" && "$cargo" test --lib)

copy socketioxide
printf '\n[patch.crates-io]\nengineioxide = { path = "%s" }\n' "$root/vendor/engineioxide" \
  >>"$work/socketioxide/Cargo.toml"
# The crate's tests build dummy sockets through this (test-only) feature.
(cd "$work/socketioxide" && "$cargo" test --lib --features __test_harness)
