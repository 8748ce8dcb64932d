//! No payload crashes, stalls or disconnects: every client event, with any
//! JSON value in any shape and any number of arguments, gets an ack of the
//! contract's shape, and the server serves normally afterwards.

use crate::helpers::spawn_app_with;
use crate::panics;
use crate::sio::{RawSocket, Reply, assert_serving};
use baat_chit::metrics::ERROR_CODES;
use baat_chit::realtime::events::FROM_CLIENT;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use serde_json::{Value, json};
use std::cell::RefCell;

/// Enough to reach every handler's branches many times; a few seconds.
const CASES: u32 = 2000;

/// Packets stay under the 16 KiB limit: a bigger one closes the
/// connection by design (tests/contract/limits.test.mjs).
const MAX_PACKET: usize = 15_000;

/// The contract's field names, so generated objects come close to valid.
const FIELDS: [&str; 9] =
    ["room", "name", "since", "text", "clientId", "typing", "before", "after", "limit"];

#[test]
fn every_event_with_any_payload_gets_an_ack_of_the_contracts_shape() {
    let runtime = panics::runtime();
    let panicked_before = panics::count();
    // Every limit off: the generator is one user sending far faster than a person.
    let limits_off = [
        "--rate-limit",
        "0",
        "--user-rate-limit",
        "0",
        "--join-rate-limit",
        "0",
        "--max-rooms-per-connection",
        "0",
        "--typing-interval-ms",
        "0",
    ];
    let app = runtime.block_on(spawn_app_with(&limits_off));
    let socket = RefCell::new(runtime.block_on(joined(&app.address, None)));
    let mut runner = TestRunner::new(Config {
        cases: CASES,
        failure_persistence: None,
        // A stalled handler costs a timeout per shrinking step.
        max_shrink_iters: 24,
        ..Config::default()
    });
    let outcome = runner.run(&emission(), |(event, args)| {
        let packet_size = Value::Array(args.clone()).to_string().len() + event.len();
        if packet_size > MAX_PACKET {
            return Ok(());
        }
        let reply = runtime.block_on(socket.borrow_mut().emit(event, &args));
        let checked = check_ack(&reply);
        if !matches!(reply, Reply::Ack(_)) {
            // Shrinking goes on from a connection that works.
            let token = socket.borrow().token.clone();
            *socket.borrow_mut() = runtime.block_on(joined(&app.address, token.as_deref()));
        }
        checked.map_err(|why| TestCaseError::fail(format!("{event} {args:?}: {why}")))
    });
    if let Err(failure) = outcome {
        panic!("{failure}");
    }
    let mut socket = socket.into_inner();
    runtime.block_on(async {
        // The connection itself still works, and so does a fresh one.
        let reply = socket.emit("join", &[json!({ "room": "after", "name": "fuzzer" })]).await;
        assert!(matches!(&reply, Reply::Ack(ack) if ack["ok"] == true), "join: {reply:?}");
        let reply = socket.emit("history", &[json!({ "room": "after" })]).await;
        assert!(matches!(&reply, Reply::Ack(ack) if ack["ok"] == true), "history: {reply:?}");
        assert_serving(&app.address).await;
    });
    assert_eq!(
        panics::count(),
        panicked_before,
        "the server panicked (its message is printed above)"
    );
}

/// A connection already in room `general`, so `message`, `typing`,
/// `history` and `leave` get past the membership check.
async fn joined(address: &str, token: Option<&str>) -> RawSocket {
    let mut socket = RawSocket::connect_as(address, token).await;
    let reply = socket.emit("join", &[json!({ "room": "general", "name": "fuzzer" })]).await;
    assert!(matches!(&reply, Reply::Ack(ack) if ack["ok"] == true), "join: {reply:?}");
    socket
}

/// `{ ok: true, ... }`, or `{ ok: false, error: { code, message } }` with a
/// contract code, a readable message and, when rate limited, retryAfterMs.
fn check_ack(reply: &Reply) -> Result<(), String> {
    let ack = match reply {
        Reply::Ack(ack) => ack,
        Reply::Closed => return Err("the server closed the connection".into()),
        Reply::Silent => return Err("no ack (a stalled or panicked handler)".into()),
    };
    match ack["ok"].as_bool() {
        Some(true) => Ok(()),
        Some(false) => {
            let code = ack["error"]["code"].as_str().unwrap_or_default();
            let message = ack["error"]["message"].as_str().unwrap_or_default();
            let retry = ack["error"]["retryAfterMs"].as_u64();
            if !ERROR_CODES.contains(&code) {
                Err(format!("unknown error code in {ack}"))
            } else if message.is_empty() {
                Err(format!("no readable message in {ack}"))
            } else if code == "rate_limited" && retry.is_none() {
                Err(format!("rate_limited without retryAfterMs: {ack}"))
            } else {
                Ok(())
            }
        }
        None => Err(format!("not an ack of the contract's shape: {ack}")),
    }
}

/// One emit: an event of the contract and zero to two arguments.
fn emission() -> impl Strategy<Value = (&'static str, Vec<Value>)> {
    prop::sample::select(FROM_CLIENT.to_vec()).prop_flat_map(|event| {
        let payload = prop_oneof![1 => json_value(), 4 => shaped(event)];
        // Mostly the one argument the contract expects.
        let count = prop_oneof![1 => Just(0..1), 6 => Just(1..2), 1 => Just(2..3)];
        let args = count.prop_flat_map(move |count| prop::collection::vec(payload.clone(), count));
        (Just(event), args)
    })
}

/// What a field of a payload holds when it has the right JSON type.
#[derive(Clone, Copy, Debug)]
enum Kind {
    Room,
    Name,
    Text,
    Seq,
    Flag,
    ClientId,
}

/// The contract's payload of each event: (field, kind, required).
fn fields_of(event: &str) -> &'static [(&'static str, Kind, bool)] {
    use Kind::*;
    match event {
        "join" => &[("room", Room, true), ("name", Name, true), ("since", Seq, false)],
        "leave" => &[("room", Room, true)],
        "message" => &[("room", Room, true), ("text", Text, true), ("clientId", ClientId, false)],
        "typing" => &[("room", Room, true), ("typing", Flag, true)],
        "history" => &[
            ("room", Room, true),
            ("before", Seq, false),
            ("after", Seq, false),
            ("limit", Seq, false),
        ],
        _ => &[],
    }
}

/// The event's own payload, close to valid: its fields mostly of the
/// right type (sometimes anything, optional ones sometimes absent), plus
/// now and then a field nobody asked for.
fn shaped(event: &'static str) -> impl Strategy<Value = Value> {
    let fields: Vec<BoxedStrategy<Option<(String, Value)>>> = fields_of(event)
        .iter()
        .map(|&(name, kind, required)| {
            let value = prop_oneof![5 => typed(kind), 1 => json_value()];
            let value = if required {
                value.prop_map(Some).boxed()
            } else {
                prop::option::weighted(0.6, value).boxed()
            };
            value.prop_map(move |v| v.map(|v| (name.to_owned(), v))).boxed()
        })
        .collect();
    let extra = prop::collection::vec((any::<String>(), json_value()), 0..2);
    (fields, extra).prop_map(|(fields, extra)| {
        Value::Object(fields.into_iter().flatten().chain(extra).collect())
    })
}

fn typed(kind: Kind) -> BoxedStrategy<Value> {
    match kind {
        Kind::Room => {
            prop_oneof![3 => Just("general".to_owned()), 2 => "[a-z]{1,10}", 1 => tricky_string()]
                .prop_map(Value::from)
                .boxed()
        }
        Kind::Name => prop_oneof![3 => Just("fuzzer".to_owned()), 1 => tricky_string()]
            .prop_map(Value::from)
            .boxed(),
        Kind::Text => {
            prop_oneof![3 => "\\PC{1,80}", 1 => tricky_string()].prop_map(Value::from).boxed()
        }
        Kind::Seq => prop_oneof![
            3 => (0..200u64).prop_map(Value::from),
            1 => any::<u64>().prop_map(Value::from),
            1 => leaf(),
        ]
        .boxed(),
        Kind::Flag => prop_oneof![3 => any::<bool>().prop_map(Value::from), 1 => leaf()].boxed(),
        Kind::ClientId => {
            prop_oneof![3 => "[a-z0-9-]{1,64}", 1 => tricky_string(), 1 => Just("c".repeat(65))]
                .prop_map(Value::from)
                .boxed()
        }
    }
}

fn json_value() -> impl Strategy<Value = Value> {
    leaf().prop_recursive(4, 48, 6, |inner| {
        let key = prop_oneof![
            3 => prop::sample::select(FIELDS.to_vec()).prop_map(str::to_owned),
            1 => any::<String>(),
        ];
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::vec((key, inner), 0..6)
                .prop_map(|pairs| Value::Object(pairs.into_iter().collect())),
        ]
    })
}

fn leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from), // not finite: null
        prop::sample::select(vec![json!(0), json!(1), json!(-1), json!(1.5), json!(1e300)]),
        any::<String>().prop_map(Value::from),
        tricky_string().prop_map(Value::from),
    ]
}

/// Strings near the contract's edges: empty, blank, too long, controls,
/// bidi overrides, joiners, astral characters, a valid room name.
fn tricky_string() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(vec![
            String::new(),
            " ".into(),
            "general".into(),
            "GENERAL ".into(),
            "\u{202e}evil".into(),
            "nul\u{0}".into(),
            "a\u{200d}b".into(),
            "x".repeat(49),
            "n".repeat(33),
            "t".repeat(2001),
            "名".repeat(2000),
            "🙂".repeat(40),
        ]),
        "[a-z]{1,8}",
        "\\PC{0,40}",
    ]
}
