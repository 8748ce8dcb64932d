//! Hand-written Engine.IO and Socket.IO junk: each piece is answered with
//! an error or a closed connection, never a crash or a stall, and the
//! server serves a newcomer afterwards.

use crate::helpers::{TestApp, spawn_app, spawn_app_with};
use crate::panics;
use crate::sio::{RawSocket, Reply, assert_serving, polling_session, raw_http};
use serde_json::json;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::frame::Frame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::{Data, OpCode};

/// Nesting far past any parser's recursion limit.
const DEEP: usize = 10_000;

fn deep_array() -> String {
    format!("{}{}", "[".repeat(DEEP), "]".repeat(DEEP))
}

/// After junk on a connection: either the server closed it, or it still
/// answers a valid request on it. Silence fails.
async fn closed_or_still_answering(socket: &mut RawSocket, junk: &str) {
    match socket.emit("rooms", &[json!({})]).await {
        Reply::Closed => {}
        Reply::Ack(ack) => assert_eq!(ack["ok"], true, "after {junk:?}: {ack}"),
        Reply::Silent => panic!("after {junk:?} the connection neither answers nor closes"),
    }
}

#[test]
fn malformed_socket_io_packets_close_the_connection_or_are_ignored() {
    panics::run(async {
        let app = spawn_app().await;
        for junk in [
            "4abc",
            "42{}",
            "42",
            "42[]",
            "42[42]",
            "42[\"join\"",
            "4299999999999999999999999[\"rooms\",{}]",
            "4-1[\"rooms\",{}]",
            "47",
            "41/nowhere,",
            "40/nowhere,",
            "4",
            "",
            "9",
            "6",
            "5",
        ] {
            let mut socket = RawSocket::connect(&app.address).await;
            socket.send(junk).await;
            closed_or_still_answering(&mut socket, junk).await;
        }
        assert_serving(&app.address).await;
    });
}

#[test]
fn a_binary_placeholder_without_its_attachment_is_refused_or_closed() {
    panics::run(async {
        let app = spawn_app().await;
        // Announced, never sent: the next text packet cannot complete it.
        let junk = r#"451-["message",{"_placeholder":true,"num":0}]"#;
        let mut socket = RawSocket::connect(&app.address).await;
        socket.send(junk).await;
        closed_or_still_answering(&mut socket, junk).await;

        // Completed by a binary frame: the handler gets bytes where an
        // object belongs, or a placeholder pointing past the attachments.
        for junk in [
            r#"451-7["message",{"_placeholder":true,"num":0}]"#,
            r#"451-7["message",{"room":"general","text":{"_placeholder":true,"num":0}}]"#,
            r#"451-7["join",{"room":"general","name":{"_placeholder":true,"num":9}}]"#,
            r#"452-7["message",{"_placeholder":true,"num":1}]"#,
        ] {
            let mut socket = RawSocket::connect(&app.address).await;
            socket.send(junk).await;
            socket.send_message(Message::binary(vec![0xff, 0x00, 0xfe])).await;
            match socket.ack(7).await {
                Reply::Closed => {}
                Reply::Ack(ack) => assert_eq!(ack["ok"], false, "{junk}: {ack}"),
                Reply::Silent => closed_or_still_answering(&mut socket, junk).await,
            }
        }

        let mut socket = RawSocket::connect(&app.address).await;
        socket.send("4599999999999-[\"rooms\",{}]").await;
        closed_or_still_answering(&mut socket, "too many attachments").await;
        let mut socket = RawSocket::connect(&app.address).await;
        socket.send_message(Message::binary(vec![1, 2, 3])).await;
        closed_or_still_answering(&mut socket, "an attachment nobody announced").await;
        assert_serving(&app.address).await;
    });
}

#[test]
fn json_nested_ten_thousand_deep_is_refused_or_closed_wherever_it_hides() {
    panics::run(async {
        // Big enough a packet limit that the nesting, not the size, is met.
        let app = spawn_app_with(&["--max-payload", "262144"]).await;
        let deep_object = format!("{}1{}", r#"{"room":"#.repeat(DEEP), "}".repeat(DEEP));
        for (i, payload) in [deep_array(), deep_object].iter().enumerate() {
            let mut socket = RawSocket::connect(&app.address).await;
            let id = socket.next_ack_id();
            match socket.request(&format!("42{id}[\"message\",{payload}]"), id).await {
                Reply::Closed => {}
                Reply::Ack(ack) => assert_eq!(ack["error"]["code"], "bad_request", "{ack}"),
                Reply::Silent => panic!("deep payload {i}: no answer"),
            }
        }
        let mut socket = RawSocket::open(&app.address).await;
        socket.send(&format!("40{{\"token\":{}}}", deep_array())).await;
        closed_or_still_answering(&mut socket, "a deep token").await;

        let sid = polling_session(&app.address).await;
        let body = format!("40\u{1e}420[\"join\",{}]", deep_array());
        let response = post_polling(&app, &sid, body.into_bytes()).await;
        assert!(response.is_some(), "a deep polling body stalls the server");
        assert_serving(&app.address).await;
    });
}

#[test]
fn json_nested_ten_thousand_deep_over_the_packet_limit_closes_the_connection() {
    panics::run(async {
        let app = spawn_app().await;
        let mut socket = RawSocket::connect(&app.address).await;
        socket.send(&format!("420[\"message\",{}]", deep_array())).await;
        assert!(socket.closes().await, "a 20 KB packet over the 16 KiB limit is not cut off");
        assert_serving(&app.address).await;
    });
}

#[test]
fn invalid_utf8_closes_a_websocket_and_is_refused_by_polling() {
    panics::run(async {
        let app = spawn_app().await;
        let mut socket = RawSocket::connect(&app.address).await;
        let text =
            Frame::message(b"42[\"rooms\",\xff\xfe]".to_vec(), OpCode::Data(Data::Text), true);
        socket.send_message(Message::Frame(text)).await;
        assert!(socket.closes().await, "a text frame of invalid UTF-8 is not refused");

        let sid = polling_session(&app.address).await;
        let response = post_polling(&app, &sid, b"40\x1e42[\"rooms\",\"\xff\xfe\"]".to_vec()).await;
        let status = response.and_then(|r| r.status);
        assert!(status.is_none_or(|s| s >= 400), "invalid UTF-8 in a polling body: {status:?}");
        assert_serving(&app.address).await;
    });
}

#[test]
fn lone_surrogates_are_refused_as_bad_requests_or_closed() {
    panics::run(async {
        let app = spawn_app().await;
        for payload in [
            r#"{"room":"\ud800","name":"x"}"#,
            r#"{"room":"general","name":"\udc00"}"#,
            r#"{"room":"general","name":"a\ud800\u0041"}"#,
        ] {
            let mut socket = RawSocket::connect(&app.address).await;
            let id = socket.next_ack_id();
            match socket.request(&format!("42{id}[\"join\",{payload}]"), id).await {
                Reply::Closed => {}
                Reply::Ack(ack) => assert_eq!(ack["error"]["code"], "bad_request", "{ack}"),
                Reply::Silent => panic!("{payload}: no answer"),
            }
        }
        let mut socket = RawSocket::connect(&app.address).await;
        socket.send(r#"421["\ud800",{}]"#).await;
        closed_or_still_answering(&mut socket, "a lone surrogate as the event name").await;

        let sid = polling_session(&app.address).await;
        let body =
            r#"40\u{1e}421["join",{"room":"\udfff","name":"x"}]"#.replace("\\u{1e}", "\u{1e}");
        assert!(post_polling(&app, &sid, body.into_bytes()).await.is_some(), "polling stalls");
        assert_serving(&app.address).await;
    });
}

#[test]
fn bad_handshakes_are_refused_without_a_session() {
    panics::run(async {
        let app = spawn_app().await;
        for query in [
            "EIO=3&transport=polling",
            "EIO=5&transport=polling",
            "EIO=abc&transport=polling",
            "transport=polling",
            "EIO=4&transport=carrier-pigeon",
            "EIO=4",
            "EIO=4&transport=polling&sid=AAAAAAAAAAAAAAAAAAAA",
            "EIO=4&transport=polling&sid=",
            "EIO=4&transport=websocket&sid=AAAAAAAAAAAAAAAAAAAA",
        ] {
            let response = app.get(&format!("/socket.io/?{query}")).await;
            let status = response.status().as_u16();
            let body = response.text().await.unwrap_or_default();
            assert!((400..500).contains(&status), "{query}: {status} {body}");
            assert!(!body.contains("\"sid\""), "{query} opened a session: {body}");
        }
        let unknown =
            format!("{}/socket.io/?EIO=4&transport=polling&sid=AAAAAAAAAAAAAAAA", app.address);
        let posted = app.client.post(unknown).body("40").send().await.expect("an answer");
        assert!(posted.status().is_client_error(), "POST to an unknown sid: {}", posted.status());
        assert_serving(&app.address).await;
    });
}

#[test]
fn a_huge_content_length_is_refused_or_closed_not_waited_for() {
    panics::run(async {
        let app = spawn_app().await;
        let sid = polling_session(&app.address).await;
        let host = app.address.trim_start_matches("http://");
        for length in ["99999999999", "18446744073709551616", "-1", "lots"] {
            let request = format!(
                "POST /socket.io/?EIO=4&transport=polling&sid={sid} HTTP/1.1\r\nHost: {host}\r\n\
                 Content-Type: text/plain;charset=UTF-8\r\nContent-Length: {length}\r\n\r\n40"
            );
            let response = raw_http(&app.address, request.as_bytes()).await;
            let response = response.unwrap_or_else(|| panic!("Content-Length {length}: no answer"));
            assert!(
                response.status.is_none_or(|s| s >= 400),
                "Content-Length {length}: {response:?}"
            );
        }
        let request = format!(
            "GET /socket.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: {host}\r\nContent-Length: 99999999999\r\n\r\n"
        );
        assert!(
            raw_http(&app.address, request.as_bytes()).await.is_some(),
            "a GET with a huge body"
        );
        assert_serving(&app.address).await;
    });
}

#[test]
fn a_websocket_offering_compression_gets_none() {
    panics::run(async {
        let app = spawn_app().await;
        let host = app.address.trim_start_matches("http://");
        let request = format!(
            "GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: {host}\r\n\
             Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\n\
             Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
             Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n\r\n"
        );
        let response = raw_http(&app.address, request.as_bytes()).await.expect("an answer");
        assert_eq!(response.status, Some(101), "{response:?}");
        let head = response.head.to_ascii_lowercase();
        assert!(!head.contains("sec-websocket-extensions"), "compression accepted: {head}");
    });
}

/// POSTs a polling body of raw bytes; `None` if the server neither answered
/// nor closed the connection in time.
async fn post_polling(app: &TestApp, sid: &str, body: Vec<u8>) -> Option<crate::sio::RawResponse> {
    let host = app.address.trim_start_matches("http://");
    let mut request = format!(
        "POST /socket.io/?EIO=4&transport=polling&sid={sid} HTTP/1.1\r\nHost: {host}\r\n\
         Content-Type: text/plain;charset=UTF-8\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    request.extend(body);
    raw_http(&app.address, &request).await
}
