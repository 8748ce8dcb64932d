//! The benchmark's "plain socketioxide" server: what socketioxide itself
//! costs, without Baat-Chit's logic. The same events and ack shapes as the
//! contract for what the load generator uses (`session`, `join`, `message`,
//! `presence`), rooms and seqs in memory, nothing stored, every join and
//! leave broadcast at once; socketioxide's own `to(room).emit` does the
//! fan-out. Same socketioxide (patched, via the workspace) as Baat-Chit,
//! with the same engine settings (packet queue, websocket read buffer,
//! TCP_NODELAY). Like socketioxide itself, it drops a packet for a
//! connection whose queue is full (Baat-Chit closes such a connection).
//!
//!   plain-socketioxide [--listen 127.0.0.1:0]
//!
//! Prints `plain-socketioxide listening on http://HOST:PORT` once ready.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use axum::serve::ListenerExt;
use serde::Deserialize;
use serde_json::{Value, json};
use socketioxide::SocketIo;
use socketioxide::extract::{AckSender, Data, SocketRef, State};
use socketioxide::handler::ConnectHandler;
use socketioxide::socket::Sid;
use tokio::sync::Mutex;

/// Rooms and who is in them. One async lock, held across each join's and
/// message's broadcast too: otherwise two joins could broadcast their
/// counts out of order (a client would end with a stale count) and two
/// messages their seqs. Node's single thread gives the baseline the same
/// order for free.
#[derive(Clone, Default)]
struct Rooms(Arc<Mutex<Inner>>);

#[derive(Default)]
struct Inner {
    rooms: HashMap<String, Room>,
    /// For each connection, the rooms it joined and the user it is there.
    joined: HashMap<Sid, Vec<(String, Value)>>,
    next_id: u64,
}

#[derive(Default)]
struct Room {
    count: u64,
    seq: u64,
}

#[derive(Deserialize)]
struct Join {
    room: String,
    name: String,
}

#[derive(Deserialize)]
struct Message {
    room: String,
    text: String,
}

static USERS: AtomicU64 = AtomicU64::new(1);

// The same allocator as Baat-Chit, so the comparison is of the servers.
#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let listen = listen_arg();
    // The engine settings Baat-Chit uses (src/startup.rs), so the comparison
    // is of the logic, not of buffer sizes.
    let (layer, io) = SocketIo::builder()
        .max_payload(16_384)
        .max_buffer_size(1024)
        .ws_read_buffer_size(1024)
        .with_state(Rooms::default())
        .build_layer();
    io.ns("/", on_connect.with(register));
    let app = axum::Router::new().layer(layer);
    let listener = tokio::net::TcpListener::bind(&listen).await?;
    println!("plain-socketioxide listening on http://{}", listener.local_addr()?);
    // As Baat-Chit does: without TCP_NODELAY small messages wait for ACKs.
    let listener = listener.tap_io(|tcp| {
        let _ = tcp.set_nodelay(true);
    });
    axum::serve(listener, app).with_graceful_shutdown(terminated()).await
}

/// Registers the handlers as a middleware, as Baat-Chit does: it runs
/// before the connect packet goes out. The connect handler runs after, so
/// a client quick to join could find no handler there (no answer, ever).
async fn register(socket: SocketRef) -> Result<(), std::convert::Infallible> {
    socket.on("join", on_join);
    socket.on("message", on_message);
    socket.on_disconnect(on_disconnect);
    Ok(())
}

async fn on_connect(socket: SocketRef) {
    let user = USERS.fetch_add(1, Ordering::Relaxed);
    let _ = socket
        .emit("session", &json!({ "userId": format!("u{user}"), "token": format!("t{user}") }));
}

async fn on_join(
    socket: SocketRef,
    Data(join): Data<Join>,
    ack: AckSender,
    State(rooms): State<Rooms>,
) {
    let key = join.room.trim().to_lowercase();
    let you = json!({ "id": socket.id.to_string(), "name": join.name });
    let mut inner = rooms.0.lock().await;
    let joined = inner.joined.entry(socket.id).or_default();
    let first = !joined.iter().any(|(room, _)| *room == key);
    if first {
        joined.push((key.clone(), you.clone()));
    }
    let room = inner.rooms.entry(key.clone()).or_default();
    room.count += u64::from(first);
    let count = room.count;
    // Plain socketioxide, as it comes (the root clippy.toml is Baat-Chit's rule).
    #[allow(clippy::disallowed_methods)]
    socket.join(key.clone());
    if first {
        let presence = json!({ "room": key, "joined": [you], "left": [], "count": count });
        let _ = socket.to(key.clone()).emit("presence", &presence).await;
    }
    drop(inner);
    let reply = json!({ "ok": true, "room": key, "you": you, "users": [], "count": count, "history": [], "hasMore": false });
    let _ = ack.send(&reply);
}

async fn on_message(
    socket: SocketRef,
    Data(message): Data<Message>,
    ack: AckSender,
    State(rooms): State<Rooms>,
) {
    let key = message.room.trim().to_lowercase();
    let mut inner = rooms.0.lock().await;
    let user = inner
        .joined
        .get(&socket.id)
        .and_then(|j| j.iter().find(|(r, _)| *r == key))
        .map(|(_, u)| u.clone());
    inner.next_id += 1;
    let id = inner.next_id;
    let stamped = user.zip(inner.rooms.get_mut(&key)).map(|(user, room)| {
        room.seq += 1;
        json!({ "id": id, "room": key, "seq": room.seq, "user": user, "text": message.text, "ts": now_ms() })
    });
    let Some(stamped) = stamped else {
        drop(inner);
        let _ = ack.send(&json!({ "ok": false, "error": { "code": "not_in_room", "message": "join the room first" } }));
        return;
    };
    let _ = socket.to(key).emit("message", &stamped).await;
    drop(inner);
    let _ = ack.send(&json!({ "ok": true, "message": stamped }));
}

async fn on_disconnect(socket: SocketRef, State(rooms): State<Rooms>) {
    let mut inner = rooms.0.lock().await;
    let joined = inner.joined.remove(&socket.id).unwrap_or_default();
    for (key, user) in joined {
        let Some(room) = inner.rooms.get_mut(&key) else { continue };
        room.count = room.count.saturating_sub(1);
        let presence = json!({ "room": key, "joined": [], "left": [user], "count": room.count });
        let _ = socket.to(key).emit("presence", &presence).await;
    }
}

fn now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64)
}

/// `--listen HOST:PORT`, default 127.0.0.1:0.
fn listen_arg() -> String {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == "--listen")
        .and_then(|i| args.get(i + 1).cloned())
        .unwrap_or("127.0.0.1:0".into())
}

async fn terminated() {
    if let Ok(mut term) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
    {
        term.recv().await;
    }
}
