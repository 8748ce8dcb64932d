//! Fuzzes what a client's bytes go through before a handler acts on them:
//! the Socket.IO packet parser (`42["join",{...}]`), the event's arguments
//! as JSON, each event's payload type (`src/realtime/payload.rs`) and the
//! domain types it is parsed into. Nothing may panic, and whatever parses
//! must be within the contract's limits.
#![no_main]

use baat_chit::domain::{ClientId, DisplayName, MessageText, RoomName};
use baat_chit::realtime::payload::{
    self, HistoryRequest, JoinRequest, MessageRequest, RoomRequest, RoomsRequest, TypingRequest,
};
use libfuzzer_sys::fuzz_target;
use serde_json::Value;
use socketioxide_core::Str;
use socketioxide_core::packet::PacketData;
use socketioxide_core::parser::{Parse, ParseConfig, ParserError, ParserState};
use socketioxide_parser_common::CommonParser;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    // The bytes as a whole packet off the wire...
    if let Some(arguments) = event_arguments(text) {
        every_event(&arguments);
    }
    // ...and as the payload itself.
    every_event(&serde_json::from_str(text).map_err(ParserError::new));
});

/// What `TryData<serde_json::Value>` hands a handler for this packet.
fn event_arguments(text: &str) -> Option<Result<Value, ParserError>> {
    let parser = CommonParser;
    let state = ParserState::default();
    let packet = parser.decode_str(&ParseConfig::default(), &state, Str::from(text.to_owned()));
    let (PacketData::Event(mut value, _) | PacketData::BinaryEvent(mut value, _)) =
        packet.ok()?.inner
    else {
        return None;
    };
    parser.read_event(&value).ok()?;
    Some(parser.decode_value(&mut value, true))
}

fn every_event(raw: &Result<Value, ParserError>) {
    let raw = || raw.as_ref().map(Clone::clone).map_err(|e| ParserError::new(Fails(e.to_string())));
    if let Ok(join) = payload::parse::<JoinRequest>(raw(), "join") {
        room(&join.room);
        if let Ok(name) = DisplayName::parse(&join.name) {
            within(name.as_str(), DisplayName::MAX_CHARS);
        }
        join.since.map(payload::seq);
    }
    if let Ok(message) = payload::parse::<MessageRequest>(raw(), "message") {
        room(&message.room);
        if let Ok(text) = MessageText::parse(message.text) {
            within(text.as_str(), MessageText::MAX_CHARS);
            assert!(!text.as_str().trim().is_empty(), "blank text accepted");
        }
        if let Ok(Some(id)) = payload::client_id(message.client_id) {
            within(id.as_str(), ClientId::MAX_CHARS);
        }
    }
    if let Ok(typing) = payload::parse::<TypingRequest>(raw(), "typing") {
        room(&typing.room);
    }
    if let Ok(history) = payload::parse::<HistoryRequest>(raw(), "history") {
        room(&history.room);
        [history.before, history.after].into_iter().flatten().for_each(|s| {
            assert!(payload::seq(s) >= 0, "a seq from a client turned negative");
        });
    }
    if let Ok(leave) = payload::parse::<RoomRequest>(raw(), "leave") {
        room(&leave.room);
    }
    let _ = payload::parse::<RoomsRequest>(raw(), "rooms");
}

/// A room name that parses is 1 to 48 characters with no control characters.
fn room(raw: &str) {
    if let Ok(room) = RoomName::parse(raw) {
        within(room.as_str(), RoomName::MAX_CHARS);
        assert!(!room.as_str().chars().any(char::is_control), "control character in {room:?}");
    }
}

fn within(text: &str, max_chars: usize) {
    let chars = text.chars().count();
    assert!((1..=max_chars).contains(&chars), "{chars} characters accepted: {text:?}");
}

/// A parse failure, passed on to each payload type in turn.
#[derive(Debug)]
struct Fails(String);

impl std::fmt::Display for Fails {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Fails {}
