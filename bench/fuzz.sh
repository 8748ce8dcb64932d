#!/usr/bin/env bash
# Fuzzes the payload parser (fuzz/fuzz_targets/payload.rs) for 60 s, or
# FUZZ_SECONDS. Stable Rust: cargo-fuzz with `--sanitizer none` (libFuzzer's
# coverage guidance without AddressSanitizer, which needs nightly; the code
# under test is safe Rust, so a sanitizer would add little). Installs
# cargo-fuzz from crates.io when missing. A finding stops the run, leaves
# the input in fuzz/artifacts/payload/ and exits non-zero.
set -euo pipefail
cd "$(dirname "$0")/../fuzz"

if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "installing cargo-fuzz"
  cargo install cargo-fuzz --locked
fi

seconds="${FUZZ_SECONDS:-60}"
mkdir -p corpus/payload # grows from run to run (not committed); seeds/ is
cargo fuzz build --sanitizer none payload
echo "fuzzing the payload parser for ${seconds} s"
cargo fuzz run --sanitizer none payload corpus/payload seeds/payload -- \
  -max_total_time="$seconds" -dict=payload.dict -print_final_stats=1 2>&1 |
  grep -v -e '^"' -e '^###### ' -e 'NEW_FUNC' -e '^#[0-9]*\s*\(NEW\|REDUCE\|pulse\)'
