//! The browser's `web/src/protocol.ts` and the server agree on error codes
//! and limits (event names: tests/browser/protocol.test.mjs).

use baat_chit::domain::{DisplayName, MessageText, RoomName};
use baat_chit::metrics::ERROR_CODES;

fn protocol_ts() -> String {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/web/src/protocol.ts");
    std::fs::read_to_string(path).expect("web/src/protocol.ts exists")
}

#[test]
fn the_browser_knows_every_error_code() {
    let source = protocol_ts();
    for code in ERROR_CODES {
        assert!(source.contains(&format!("\"{code}\"")), "error code {code}");
    }
}

#[test]
fn the_browser_checks_the_same_limits_as_the_server() {
    let source = protocol_ts();
    for (field, limit) in [
        ("nameMax", DisplayName::MAX_CHARS),
        ("roomMax", RoomName::MAX_CHARS),
        ("textMax", MessageText::MAX_CHARS),
    ] {
        let expected = format!("{field}: {}", fmt_thousands(limit));
        let plain = format!("{field}: {limit}");
        assert!(source.contains(&expected) || source.contains(&plain), "{field} = {limit}");
    }
}

/// TypeScript may write 2000 as 2_000.
fn fmt_thousands(n: usize) -> String {
    if n >= 1000 { format!("{}_{:03}", n / 1000, n % 1000) } else { n.to_string() }
}
