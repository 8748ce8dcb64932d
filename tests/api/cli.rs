//! The binary as an operator meets it.

use std::process::Command;

fn baat_chit() -> Command {
    Command::new(env!("CARGO_BIN_EXE_baat-chit"))
}

/// Every flag of `Config`: its environment variable and its default
/// (`None`: off unless given).
const FLAGS: [(&str, &str, Option<&str>); 19] = [
    ("--listen", "BAATCHIT_LISTEN", Some("127.0.0.1:3000")),
    ("--database", "BAATCHIT_DATABASE", Some("sqlite://baat-chit.db")),
    ("--presence-grace", "BAATCHIT_PRESENCE_GRACE", Some("5")),
    ("--max-payload", "BAATCHIT_MAX_PAYLOAD", Some("16384")),
    ("--typing-expiry", "BAATCHIT_TYPING_EXPIRY", Some("6")),
    ("--rate-limit", "BAATCHIT_RATE_LIMIT", Some("20")),
    ("--allowed-origin", "BAATCHIT_ALLOWED_ORIGINS", None),
    ("--max-connections-per-ip", "BAATCHIT_MAX_CONNECTIONS_PER_IP", Some("256")),
    ("--trust-proxy", "BAATCHIT_TRUST_PROXY", None),
    ("--connect-timeout", "BAATCHIT_CONNECT_TIMEOUT", Some("10")),
    ("--request-timeout", "BAATCHIT_REQUEST_TIMEOUT", Some("10")),
    ("--user-rate-limit", "BAATCHIT_USER_RATE_LIMIT", Some("30")),
    ("--join-rate-limit", "BAATCHIT_JOIN_RATE_LIMIT", Some("30")),
    ("--max-rooms-per-connection", "BAATCHIT_MAX_ROOMS_PER_CONNECTION", Some("50")),
    ("--typing-interval-ms", "BAATCHIT_TYPING_INTERVAL_MS", Some("1000")),
    ("--search-rate-limit", "BAATCHIT_SEARCH_RATE_LIMIT", Some("2")),
    ("--redis", "BAATCHIT_REDIS", None),
    ("--redis-prefix", "BAATCHIT_REDIS_PREFIX", Some("baatchit")),
    ("--node-name", "BAATCHIT_NODE_NAME", None),
];

/// The options in `--help`: each long flag with the text explaining it.
fn options(help: &str) -> Vec<(String, String)> {
    let mut options: Vec<(String, String)> = Vec::new();
    for line in help.lines().skip_while(|line| *line != "Options:").skip(1) {
        let words: Vec<&str> = line.split_whitespace().collect();
        let flag = words.iter().take(2).find(|word| word.starts_with("--"));
        match (flag, options.last_mut()) {
            (Some(flag), _) => options.push((flag.to_string(), String::new())),
            (None, Some((_, text))) => {
                text.push(' ');
                text.push_str(line.trim());
            }
            (None, None) => {}
        }
    }
    options
}

#[test]
fn help_explains_every_flag_with_its_variable_and_default() {
    let output = baat_chit().arg("--help").output().expect("the binary runs");
    let help = String::from_utf8_lossy(&output.stdout);
    let options = options(&help);
    for (flag, env, default) in FLAGS {
        let (_, text) = options
            .iter()
            .find(|(name, _)| name == flag)
            .unwrap_or_else(|| panic!("{flag} missing from:\n{help}"));
        let explained = text.split(" [env:").next().unwrap_or_default();
        assert!(explained.len() > 20, "{flag} is not explained: {text}");
        assert!(text.contains(&format!("[env: {env}=]")), "{flag} does not name {env}: {text}");
        match default {
            Some(default) => {
                assert!(text.contains(&format!("[default: {default}]")), "{flag} default: {text}")
            }
            None => assert!(!text.contains("[default:"), "{flag} should have no default: {text}"),
        }
    }
    let names: Vec<&str> = options.iter().map(|(name, _)| name.as_str()).collect();
    let expected: Vec<&str> =
        FLAGS.iter().map(|(flag, _, _)| *flag).chain(["--help", "--version"]).collect();
    assert_eq!(names, expected, "a flag this test does not know:\n{help}");
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
fn every_limit_says_how_to_turn_it_off() {
    let output = baat_chit().arg("--help").output().expect("the binary runs");
    let help = String::from_utf8_lossy(&output.stdout);
    let limits = [
        "--rate-limit",
        "--user-rate-limit",
        "--join-rate-limit",
        "--max-rooms-per-connection",
        "--typing-interval-ms",
        "--search-rate-limit",
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

#[test]
fn an_unreachable_postgres_is_a_one_line_error_within_seconds() {
    let closed_port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free port")
        .port();
    let started = std::time::Instant::now();
    let output = baat_chit()
        .args(["--listen", "127.0.0.1:0", "--database"])
        .arg(format!("postgres://postgres@127.0.0.1:{closed_port}/chat"))
        .output()
        .expect("the binary runs");
    assert!(started.elapsed() < std::time::Duration::from_secs(10), "{:?}", started.elapsed());
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    let lines: Vec<&str> = stderr.lines().filter(|l| l.starts_with("baat-chit:")).collect();
    assert_eq!(lines.len(), 1, "{stderr}");
    assert!(lines[0].contains("cannot open the database"), "{stderr}");
}
