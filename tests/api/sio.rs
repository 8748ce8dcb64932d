//! A raw Engine.IO / Socket.IO client for tests that send what the official
//! client never would: any packet text, any frame, any HTTP request.

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::timeout;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream, connect_async};

/// How long the server may take to answer before a test calls it stalled.
pub const ANSWER_WITHIN: Duration = Duration::from_secs(5);

/// What came back for a packet.
#[derive(Debug)]
pub enum Reply {
    /// The first argument of the ack.
    Ack(Value),
    /// The server closed the connection.
    Closed,
    /// Nothing within [`ANSWER_WITHIN`].
    Silent,
}

/// One websocket session, spoken packet by packet.
pub struct RawSocket {
    ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
    next_ack: u64,
    /// The session token the server gave, once connected.
    pub token: Option<String>,
}

impl RawSocket {
    /// Opens an Engine.IO session over a websocket, without joining a
    /// namespace yet.
    pub async fn open(address: &str) -> Self {
        let url = format!("{}/socket.io/?EIO=4&transport=websocket", address.replace("http", "ws"));
        let (ws, _) = connect_async(url).await.expect("the websocket handshake succeeds");
        let mut socket = Self { ws, next_ack: 0, token: None };
        let open = socket.next_packet().await.expect("an open packet");
        assert!(open.starts_with('0'), "expected an Engine.IO open packet, got {open}");
        socket
    }

    /// Opens a session and connects to the default namespace as a new
    /// user; returns once the server's `session` event has arrived.
    pub async fn connect(address: &str) -> Self {
        Self::connect_as(address, None).await
    }

    /// Connects with a session token (`None`: as a new user).
    pub async fn connect_as(address: &str, token: Option<&str>) -> Self {
        let mut socket = Self::open(address).await;
        match token {
            Some(token) => socket.send(&format!("40{}", json!({ "token": token }))).await,
            None => socket.send("40").await,
        };
        loop {
            let packet = socket.next_packet().await.expect("the namespace connects");
            if let Some(session) = packet.strip_prefix("42") {
                let session: Value = serde_json::from_str(session).expect("events are JSON");
                if session[0] == "session" {
                    socket.token = session[1]["token"].as_str().map(str::to_owned);
                    return socket;
                }
            }
        }
    }

    /// Sends one text frame; false if the connection is gone.
    pub async fn send(&mut self, packet: &str) -> bool {
        self.ws.send(Message::text(packet)).await.is_ok()
    }

    /// Sends one websocket message of any kind (raw frames included).
    pub async fn send_message(&mut self, message: Message) -> bool {
        self.ws.send(message).await.is_ok()
    }

    /// Emits `event` with these arguments and an ack id; waits for its ack.
    pub async fn emit(&mut self, event: &str, args: &[Value]) -> Reply {
        let mut array = vec![json!(event)];
        array.extend_from_slice(args);
        let id = self.next_ack_id();
        let packet = format!("42{id}{}", Value::Array(array));
        self.request(&packet, id).await
    }

    /// A fresh ack id for a hand-written packet.
    pub fn next_ack_id(&mut self) -> u64 {
        self.next_ack += 1;
        self.next_ack
    }

    /// Sends a hand-written packet that carries ack id `id`; waits for it.
    pub async fn request(&mut self, packet: &str, id: u64) -> Reply {
        if !self.send(packet).await {
            return Reply::Closed;
        }
        self.ack(id).await
    }

    /// Waits for the ack with id `id`, skipping other packets.
    pub async fn ack(&mut self, id: u64) -> Reply {
        let prefix = format!("43{id}[");
        loop {
            match timeout(ANSWER_WITHIN, self.next_packet()).await {
                Err(_) => return Reply::Silent,
                Ok(None) => return Reply::Closed,
                Ok(Some(packet)) => {
                    if let Some(rest) = packet.strip_prefix(&prefix) {
                        let args: Value = serde_json::from_str(&format!("[{rest}"))
                            .expect("an ack is a JSON array");
                        return Reply::Ack(args[0].clone());
                    }
                }
            }
        }
    }

    /// True if the server closes the connection within [`ANSWER_WITHIN`].
    pub async fn closes(&mut self) -> bool {
        self.packets_until_closed().await.is_some()
    }

    /// The packets that arrive until the server closes the connection;
    /// `None` if it is still open after [`ANSWER_WITHIN`].
    pub async fn packets_until_closed(&mut self) -> Option<Vec<String>> {
        let mut packets = Vec::new();
        let drained = async {
            while let Some(packet) = self.next_packet().await {
                packets.push(packet);
            }
        };
        timeout(ANSWER_WITHIN, drained).await.ok()?;
        Some(packets)
    }

    /// The next text packet, answering pings on the way; `None` once closed.
    async fn next_packet(&mut self) -> Option<String> {
        loop {
            match self.ws.next().await? {
                Ok(Message::Text(text)) if text.as_str() == "2" => {
                    let _ = self.ws.send(Message::text("3")).await;
                }
                Ok(Message::Text(text)) => return Some(text.to_string()),
                Ok(Message::Close(_)) | Err(_) => return None,
                Ok(_) => {}
            }
        }
    }
}

/// Asserts the server serves a newcomer: it connects, joins and sends.
pub async fn assert_serving(address: &str) {
    let mut socket = RawSocket::connect(address).await;
    let room = format!("still-up-{}", rand::random::<u32>());
    let joined = socket.emit("join", &[json!({ "room": room, "name": "newcomer" })]).await;
    assert!(matches!(&joined, Reply::Ack(ack) if ack["ok"] == true), "join: {joined:?}");
    let sent = socket.emit("message", &[json!({ "room": room, "text": "still here" })]).await;
    assert!(matches!(&sent, Reply::Ack(ack) if ack["ok"] == true), "message: {sent:?}");
}

/// What an HTTP exchange on a raw TCP connection came to.
#[derive(Debug)]
pub struct RawResponse {
    /// The status line's code, if a response arrived.
    pub status: Option<u16>,
    /// The status line and headers.
    pub head: String,
}

/// Writes `request` as is on a new connection and reads the response (or
/// the close) for up to [`ANSWER_WITHIN`]; `None` if the server neither
/// answered nor closed the connection in that time.
pub async fn raw_http(address: &str, request: &[u8]) -> Option<RawResponse> {
    let mut tcp = TcpStream::connect(address.trim_start_matches("http://")).await.ok()?;
    tcp.write_all(request).await.ok()?;
    let mut received = Vec::new();
    let mut buffer = [0u8; 4096];
    let read = async {
        loop {
            match tcp.read(&mut buffer).await {
                Ok(0) | Err(_) => break,
                Ok(n) => received.extend_from_slice(&buffer[..n]),
            }
            if response_complete(&received) || switched_protocols(&received) {
                break;
            }
        }
    };
    timeout(ANSWER_WITHIN, read).await.ok()?;
    let text = String::from_utf8_lossy(&received).to_string();
    let status = text.strip_prefix("HTTP/1.1 ").and_then(|rest| rest.get(..3)?.parse().ok());
    let head = text.split("\r\n\r\n").next().unwrap_or_default().to_string();
    Some(RawResponse { status, head })
}

/// True once a websocket upgrade's answer has arrived (nothing follows).
fn switched_protocols(received: &[u8]) -> bool {
    let text = String::from_utf8_lossy(received);
    text.starts_with("HTTP/1.1 101") && text.contains("\r\n\r\n")
}

/// True once a whole response with a `Content-Length` body has arrived.
fn response_complete(received: &[u8]) -> bool {
    let text = String::from_utf8_lossy(received);
    let Some((head, body)) = text.split_once("\r\n\r\n") else {
        return false;
    };
    let length = head.lines().find_map(|line| {
        line.to_ascii_lowercase().strip_prefix("content-length:")?.trim().parse().ok()
    });
    length.is_some_and(|length: usize| body.len() >= length)
}

/// Opens a polling session; returns its sid.
pub async fn polling_session(address: &str) -> String {
    let open = reqwest::get(format!("{address}/socket.io/?EIO=4&transport=polling"))
        .await
        .and_then(reqwest::Response::error_for_status)
        .expect("a polling handshake")
        .text()
        .await
        .expect("an open packet");
    let open: Value = serde_json::from_str(open.trim_start_matches('0')).expect("open is JSON");
    open["sid"].as_str().expect("a sid").to_string()
}
