//! The binary as an operator meets it.

use std::process::Command;

fn baat_chit() -> Command {
    Command::new(env!("CARGO_BIN_EXE_baat-chit"))
}

#[test]
fn help_explains_every_flag() {
    let output = baat_chit().arg("--help").output().expect("the binary runs");
    let help = String::from_utf8_lossy(&output.stdout);
    for flag in [
        "--listen",
        "--database",
        "--presence-grace",
        "--max-payload",
        "--allowed-origin",
        "--max-connections-per-ip",
        "--trust-proxy",
        "--connect-timeout",
    ] {
        assert!(help.contains(flag), "{flag} missing from:\n{help}");
    }
    assert!(help.contains("BAATCHIT_DATABASE"), "env vars are named:\n{help}");
}

#[test]
fn an_allowed_origin_that_is_not_an_origin_is_refused_at_startup() {
    let output = baat_chit()
        .args(["--listen", "127.0.0.1:0", "--allowed-origin", "chat.example.com/app"])
        .output()
        .expect("the binary runs");
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("is not an origin like"));
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
