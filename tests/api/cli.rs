//! The binary as an operator meets it.

use std::process::Command;

fn baat_chit() -> Command {
    Command::new(env!("CARGO_BIN_EXE_baat-chit"))
}

#[test]
fn help_explains_every_flag() {
    let output = baat_chit().arg("--help").output().expect("the binary runs");
    let help = String::from_utf8_lossy(&output.stdout);
    let flags = [
        "--listen",
        "--database",
        "--presence-grace",
        "--max-payload",
        "--rate-limit",
        "--user-rate-limit",
        "--join-rate-limit",
        "--max-rooms-per-connection",
        "--typing-interval-ms",
    ];
    for flag in flags {
        assert!(help.contains(flag), "{flag} missing from:\n{help}");
    }
    for env in ["BAATCHIT_USER_RATE_LIMIT", "BAATCHIT_MAX_ROOMS_PER_CONNECTION"] {
        assert!(help.contains(env), "{env} missing from:\n{help}");
    }
    assert!(help.contains("BAATCHIT_DATABASE"), "env vars are named:\n{help}");
}

#[test]
fn every_limit_says_how_to_turn_it_off() {
    let output = baat_chit().arg("--help").output().expect("the binary runs");
    let help = String::from_utf8_lossy(&output.stdout);
    let limits = [
        "--rate-limit",
        "--user-rate-limit",
        "--join-rate-limit",
        "--max-rooms-per-connection",
        "--typing-interval-ms",
    ];
    for limit in limits {
        let (_, after) = help.split_once(limit).unwrap_or_default();
        let explained = after.split("\n      --").next().unwrap_or_default();
        assert!(explained.contains("0 = "), "{limit} does not say what 0 does:\n{explained}");
    }
}

#[test]
fn a_database_it_cannot_open_is_a_one_line_error_and_exit_code_1() {
    let output = baat_chit()
        .args(["--listen", "127.0.0.1:0", "--database", "sqlite:///nonexistent-dir/x/chat.db"])
        .output()
        .expect("the binary runs");
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    let lines: Vec<&str> = stderr.lines().filter(|l| l.starts_with("baat-chit:")).collect();
    assert_eq!(lines.len(), 1, "{stderr}");
    assert!(lines[0].contains("cannot open the database"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn an_unsupported_database_url_is_refused_clearly() {
    let output = baat_chit()
        .args(["--listen", "127.0.0.1:0", "--database", "mysql://localhost/db"])
        .output()
        .expect("the binary runs");
    assert_eq!(output.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&output.stderr).contains("unsupported database URL"));
}
