//! The benchmark's ceiling: a bare websocket broadcast server on tokio. It
//! does the websocket handshake and framing itself and speaks just enough
//! Engine.IO 4 / Socket.IO 5 (open, connect, `session`, `join`, `message`,
//! `presence`, acks) that the load generator cannot tell it from the
//! others. Each broadcast is encoded and framed once; every recipient's
//! writer gets the same shared bytes and writes whatever frames are ready
//! in one go. Rooms and seqs in memory; nothing stored, no pings, no limits.
//!
//!   raw-ws [--listen 127.0.0.1:0]
//!
//! Prints `raw-ws listening on http://HOST:PORT` once ready.

use std::collections::HashMap;
use std::io;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use bytes::{Buf, Bytes, BytesMut};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::net::tcp::OwnedWriteHalf;
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;

const MAX_HEADER: usize = 8192;
const MAX_FRAME: usize = 1 << 20;
/// Frames one write may coalesce.
const BATCH: usize = 64;

#[derive(Default)]
struct Hub {
    rooms: Mutex<HashMap<String, Room>>,
    next_conn: AtomicU64,
    next_message: AtomicU64,
}

#[derive(Default)]
struct Room {
    members: Vec<Member>,
    seq: u64,
}

struct Member {
    conn: u64,
    user: Value,
    tx: mpsc::UnboundedSender<Bytes>,
}

// The same allocator as Baat-Chit, so the comparison is of the servers.
#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

#[tokio::main]
async fn main() -> io::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let listen = args.iter().position(|a| a == "--listen").and_then(|i| args.get(i + 1).cloned());
    let listener =
        tokio::net::TcpListener::bind(listen.as_deref().unwrap_or("127.0.0.1:0")).await?;
    println!("raw-ws listening on http://{}", listener.local_addr()?);
    let hub = Arc::new(Hub::default());
    loop {
        let (stream, _) = listener.accept().await?;
        let hub = Arc::clone(&hub);
        tokio::spawn(async move {
            let conn = hub.next_conn.fetch_add(1, Ordering::Relaxed);
            let _ = Connection::serve(stream, Arc::clone(&hub), conn).await;
            hub.leave_all(conn);
        });
    }
}

/// One server→client text frame: FIN + text, unmasked.
fn frame(text: &str) -> Bytes {
    let len = text.len();
    let mut out = BytesMut::with_capacity(len + 10);
    out.extend_from_slice(&[0x81]);
    match len {
        0..=125 => out.extend_from_slice(&[len as u8]),
        126..=65535 => {
            out.extend_from_slice(&[126]);
            out.extend_from_slice(&(len as u16).to_be_bytes());
        }
        _ => {
            out.extend_from_slice(&[127]);
            out.extend_from_slice(&(len as u64).to_be_bytes());
        }
    }
    out.extend_from_slice(text.as_bytes());
    out.freeze()
}

/// Takes one whole client frame off `buf`: (opcode, unmasked payload).
fn take_frame(buf: &mut BytesMut) -> io::Result<Option<(u8, Vec<u8>)>> {
    let [b0, b1, ..] = buf[..] else { return Ok(None) };
    let (len, mut at) = match b1 & 0x7f {
        126 if buf.len() >= 4 => (usize::from(u16::from_be_bytes([buf[2], buf[3]])), 4),
        127 if buf.len() >= 10 => {
            let mut eight = [0u8; 8];
            eight.copy_from_slice(&buf[2..10]);
            (u64::from_be_bytes(eight) as usize, 10)
        }
        126 | 127 => return Ok(None),
        n => (usize::from(n), 2),
    };
    if len > MAX_FRAME {
        return Err(io::Error::other("frame too large"));
    }
    let masked = b1 & 0x80 != 0;
    let mask_at = at;
    if masked {
        at += 4;
    }
    if buf.len() < at + len {
        return Ok(None);
    }
    let mut payload = buf[at..at + len].to_vec();
    if masked {
        let key = [buf[mask_at], buf[mask_at + 1], buf[mask_at + 2], buf[mask_at + 3]];
        payload.iter_mut().enumerate().for_each(|(i, b)| *b ^= key[i % 4]);
    }
    buf.advance(at + len);
    Ok(Some((b0 & 0x0f, payload)))
}

/// Writes whatever frames are queued, several at a time.
async fn write_frames(mut wr: OwnedWriteHalf, mut rx: mpsc::UnboundedReceiver<Bytes>) {
    let mut out = Vec::with_capacity(4096);
    while let Some(first) = rx.recv().await {
        out.clear();
        out.extend_from_slice(&first);
        for _ in 1..BATCH {
            match rx.try_recv() {
                Ok(more) => out.extend_from_slice(&more),
                Err(_) => break,
            }
        }
        if wr.write_all(&out).await.is_err() {
            return;
        }
    }
    let _ = wr.shutdown().await;
}

struct Connection {
    hub: Arc<Hub>,
    conn: u64,
    tx: mpsc::UnboundedSender<Bytes>,
    rooms: Vec<String>,
}

impl Connection {
    async fn serve(stream: TcpStream, hub: Arc<Hub>, conn: u64) -> io::Result<()> {
        stream.set_nodelay(true)?;
        let (mut rd, mut wr) = stream.into_split();
        let mut buf = BytesMut::with_capacity(1024);
        let key = loop {
            if rd.read_buf(&mut buf).await? == 0 || buf.len() > MAX_HEADER {
                return Ok(());
            }
            if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                let head = String::from_utf8_lossy(&buf[..end]).into_owned();
                buf.advance(end + 4);
                break websocket_key(&head)
                    .ok_or_else(|| io::Error::other("not a websocket upgrade"))?;
            }
        };
        let accept = derive_accept_key(key.as_bytes());
        let response = format!(
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {accept}\r\n\r\n"
        );
        wr.write_all(response.as_bytes()).await?;
        let (tx, rx) = mpsc::unbounded_channel();
        tokio::spawn(write_frames(wr, rx));
        let open = json!({ "sid": format!("c{conn}"), "upgrades": [], "pingInterval": 25000, "pingTimeout": 20000, "maxPayload": 16384 });
        let _ = tx.send(frame(&format!("0{open}")));
        let mut connection = Connection { hub, conn, tx, rooms: Vec::new() };
        loop {
            while let Some((opcode, payload)) = take_frame(&mut buf)? {
                match opcode {
                    0x1 => connection.packet(&String::from_utf8_lossy(&payload))?,
                    0x8 => return Ok(()),
                    _ => {}
                }
            }
            if rd.read_buf(&mut buf).await? == 0 {
                return Ok(());
            }
        }
    }

    fn send(&self, text: &str) {
        let _ = self.tx.send(frame(text));
    }

    /// One Engine.IO packet from the client.
    fn packet(&mut self, packet: &str) -> io::Result<()> {
        if packet.starts_with("40") {
            self.send(&format!("40{}", json!({ "sid": format!("s{}", self.conn) })));
            let session = json!(["session", { "userId": format!("u{}", self.conn), "token": format!("t{}", self.conn) }]);
            self.send(&format!("42{session}"));
        } else if packet.starts_with("41") || packet.starts_with('1') {
            return Err(io::Error::other("client left"));
        } else if let Some(event) = packet.strip_prefix("42") {
            let digits = event.bytes().take_while(u8::is_ascii_digit).count();
            let id = &event[..digits];
            let args: Value = serde_json::from_str(&event[digits..]).unwrap_or(Value::Null);
            let reply = match (args.get(0).and_then(Value::as_str), args.get(1)) {
                (Some("join"), Some(payload)) => self.join(payload),
                (Some("message"), Some(payload)) => self.message(payload),
                _ => refusal("bad_request", "unknown event or payload"),
            };
            if !id.is_empty() {
                self.send(&format!("43{id}[{reply}]"));
            }
        }
        Ok(())
    }

    fn join(&mut self, payload: &Value) -> Value {
        let (Some(room), Some(name)) = (text(payload, "room"), text(payload, "name")) else {
            return refusal("bad_request", "room and name wanted");
        };
        let key = room.trim().to_lowercase();
        let you = json!({ "id": format!("u{}", self.conn), "name": name });
        let mut rooms = self.hub.rooms.lock().unwrap_or_else(|e| e.into_inner());
        let entry = rooms.entry(key.clone()).or_default();
        if !self.rooms.contains(&key) {
            self.rooms.push(key.clone());
            let presence = json!(["presence", { "room": key, "joined": [you], "left": [], "count": entry.members.len() + 1 }]);
            broadcast(entry, self.conn, &frame(&format!("42{presence}")));
            entry.members.push(Member { conn: self.conn, user: you.clone(), tx: self.tx.clone() });
        }
        let count = entry.members.len();
        json!({ "ok": true, "room": key, "you": you, "users": [], "count": count, "history": [], "hasMore": false })
    }

    fn message(&mut self, payload: &Value) -> Value {
        let (Some(room), Some(body)) = (text(payload, "room"), text(payload, "text")) else {
            return refusal("bad_request", "room and text wanted");
        };
        let key = room.trim().to_lowercase();
        let mut rooms = self.hub.rooms.lock().unwrap_or_else(|e| e.into_inner());
        let Some(entry) = rooms.get_mut(&key) else {
            return refusal("not_in_room", "join the room first");
        };
        let Some(user) = entry.members.iter().find(|m| m.conn == self.conn).map(|m| m.user.clone())
        else {
            return refusal("not_in_room", "join the room first");
        };
        entry.seq += 1;
        let id = self.hub.next_message.fetch_add(1, Ordering::Relaxed) + 1;
        let message = json!({ "id": id, "room": key, "seq": entry.seq, "user": user, "text": body, "ts": now_ms() });
        broadcast(entry, self.conn, &frame(&format!("42[\"message\",{message}]")));
        json!({ "ok": true, "message": message })
    }
}

impl Hub {
    /// The connection is gone: out of every room, and the others told.
    fn leave_all(&self, conn: u64) {
        let mut rooms = self.rooms.lock().unwrap_or_else(|e| e.into_inner());
        for (key, room) in rooms.iter_mut() {
            let Some(at) = room.members.iter().position(|m| m.conn == conn) else { continue };
            let gone = room.members.swap_remove(at);
            let presence = json!(["presence", { "room": key, "joined": [], "left": [gone.user], "count": room.members.len() }]);
            broadcast(room, conn, &frame(&format!("42{presence}")));
        }
    }
}

/// Hands every member but `except` the same pre-encoded frame.
fn broadcast(room: &Room, except: u64, frame: &Bytes) {
    for member in room.members.iter().filter(|m| m.conn != except) {
        let _ = member.tx.send(frame.clone());
    }
}

fn refusal(code: &str, message: &str) -> Value {
    json!({ "ok": false, "error": { "code": code, "message": message } })
}

fn text<'a>(payload: &'a Value, key: &str) -> Option<&'a str> {
    payload.get(key).and_then(Value::as_str)
}

fn websocket_key(head: &str) -> Option<String> {
    head.lines().find_map(|line| {
        let (name, value) = line.split_once(':')?;
        name.trim().eq_ignore_ascii_case("sec-websocket-key").then(|| value.trim().to_owned())
    })
}

fn now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64)
}
