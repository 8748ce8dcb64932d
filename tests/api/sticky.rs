//! `--node-name`: the cookie a proxy routes polling clients by.

use crate::helpers::{TestApp, spawn_app, spawn_app_with};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const HANDSHAKE: &str = "/socket.io/?EIO=4&transport=polling";
const COOKIE: &str = "baatchit_node=n2; Path=/; HttpOnly; SameSite=Lax";

/// Every `Set-Cookie` of a response.
fn cookies(response: &reqwest::Response) -> Vec<String> {
    response
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|value| value.to_str().unwrap_or_default().to_owned())
        .collect()
}

/// The polling handshake's session id, from its body `0{"sid":"…",…}`.
async fn handshake(app: &TestApp) -> (Vec<String>, String) {
    let response = app.get(HANDSHAKE).await;
    assert_eq!(response.status(), 200);
    let set = cookies(&response);
    let body = response.text().await.unwrap_or_default();
    let open: serde_json::Value =
        serde_json::from_str(body.trim_start_matches('0')).expect("an Engine.IO open packet");
    (set, open["sid"].as_str().expect("a sid").to_owned())
}

#[tokio::test]
async fn a_named_node_sets_its_cookie_on_every_socket_io_response() {
    let app = spawn_app_with(&["--node-name", "n2"]).await;
    let (set, sid) = handshake(&app).await;
    assert_eq!(set, [COOKIE], "the handshake names the node");

    let poll = format!("{HANDSHAKE}&sid={sid}");
    let connect = app.client.post(format!("{}{poll}", app.address)).body("40").send().await;
    let connect = connect.expect("the server answers");
    assert_eq!(connect.status(), 200);
    assert_eq!(cookies(&connect), [COOKIE], "a polling POST names the node too");
    let answer = app.get(&poll).await;
    assert_eq!(answer.status(), 200);
    assert_eq!(cookies(&answer), [COOKIE], "a polling GET names the node too");
}

#[tokio::test]
async fn the_websocket_upgrade_names_the_node_too() {
    let app = spawn_app_with(&["--node-name", "n2"]).await;
    let head = upgrade_response_head(&app).await;
    assert!(head.starts_with("HTTP/1.1 101"), "not switched to websocket:\n{head}");
    let lower = head.to_ascii_lowercase();
    assert!(lower.contains(&format!("set-cookie: {}", COOKIE.to_ascii_lowercase())), "{head}");
}

#[tokio::test]
async fn other_paths_set_no_cookie() {
    let app = spawn_app_with(&["--node-name", "n2"]).await;
    for path in ["/", "/healthz", "/metrics", "/r/general"] {
        assert_eq!(cookies(&app.get(path).await), Vec::<String>::new(), "{path}");
    }
}

#[tokio::test]
async fn without_a_node_name_no_cookie_is_set() {
    let app = spawn_app().await;
    let (set, _) = handshake(&app).await;
    assert_eq!(set, Vec::<String>::new());
}

/// Sends a websocket upgrade by hand and returns the response's head.
async fn upgrade_response_head(app: &TestApp) -> String {
    let host = app.address.trim_start_matches("http://");
    let mut tcp = TcpStream::connect(host).await.expect("the server accepts");
    let request = format!(
        "GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: {host}\r\n\
         Upgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
    );
    tcp.write_all(request.as_bytes()).await.expect("the request is sent");
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") && head.len() < 8192 {
        if tcp.read(&mut byte).await.expect("the server answers") == 0 {
            break;
        }
        head.push(byte[0]);
    }
    String::from_utf8_lossy(&head).into_owned()
}
