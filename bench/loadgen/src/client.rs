//! One simulated client: a lean Socket.IO v5 / Engine.IO v4 client over a
//! websocket. It speaks only what the bench needs: the websocket transport,
//! the default namespace, text packets, acks, `auth: { token }`, and
//! answering the server's pings. `message` events are not parsed as JSON:
//! the send stamp (and, when tracked, the `seq`) is read straight out of
//! the text, so the load generator does little work per delivery.

use std::collections::{BTreeSet, HashMap};
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, LazyLock, Mutex, RwLock};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use memchr::memmem::Finder;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use tokio::net::{TcpSocket, TcpStream};
use tokio::sync::{mpsc, oneshot};
use tokio::task::AbortHandle;
use tokio_tungstenite::tungstenite::Message as Frame;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::{WebSocketStream, client_async_with_config};

use crate::stats::{SendTally, Tally, Window, now_ms};

/// Where a sender puts its timestamp in the text: `@T<epoch ms>@`.
pub const STAMP: &str = "@T";

// The keys looked for in every frame, each searcher built once: `str::find`
// with a string pattern builds a Two-Way searcher at every call, which was
// a seventh of the load generator's own CPU in S1 (perf, 2026-11-28).
static STAMP_KEY: LazyLock<Finder<'static>> = LazyLock::new(|| Finder::new(STAMP));
static SEQ_KEY: LazyLock<Finder<'static>> = LazyLock::new(|| Finder::new("\"seq\":"));
static COUNT_KEY: LazyLock<Finder<'static>> = LazyLock::new(|| Finder::new("\"count\":"));
static CODE_KEY: LazyLock<Finder<'static>> = LazyLock::new(|| Finder::new("\"code\":\""));
const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);
const ANSWER_TIMEOUT: Duration = Duration::from_secs(60);

/// What every client of this process shares.
#[derive(Default)]
pub struct Shared {
    pub window: RwLock<Option<Arc<Window>>>,
    /// The plain `measure` period (run.mjs's older scenarios): every
    /// delivery and send while it is on, whatever its stamp.
    pub measure: RwLock<Option<Arc<Window>>>,
    /// Counts changes to `window` and `measure`: a connection reads them
    /// again only when it moved, instead of taking both read locks (two
    /// writes to lines every thread shares) at every delivery.
    windows_changed: AtomicU64,
    /// The join storm's watcher: when its presence `count` reached `target`.
    pub watch: Mutex<Option<Watch>>,
    /// Connections the server closed (not us), by reason.
    pub disconnects: Tally,
}

impl Shared {
    /// Says `window` or `measure` changed; call after changing it.
    pub fn windows_changed(&self) {
        self.windows_changed.fetch_add(1, Ordering::Release);
    }
}

/// A connection's copy of the shared windows, as of `version`.
struct Windows {
    version: u64,
    window: Option<Arc<Window>>,
    measure: Option<Arc<Window>>,
}

impl Windows {
    const STALE: Self = Self { version: u64::MAX, window: None, measure: None };

    /// Brings the copy up to date when the shared windows changed.
    fn refresh(&mut self, shared: &Shared) {
        let version = shared.windows_changed.load(Ordering::Acquire);
        if version != self.version {
            self.window = shared.window.read().unwrap_or_else(|e| e.into_inner()).clone();
            self.measure = shared.measure.read().unwrap_or_else(|e| e.into_inner()).clone();
            self.version = version;
        }
    }
}

pub struct Watch {
    pub target: u64,
    pub reached_at: Option<f64>,
}

/// The room's seqs a client has seen, live (`message` events and its own
/// acks) and in join histories, for the reconnect storm's check. Doubled
/// means the server sent a seq twice where the contract says it must not:
/// the same seq twice live, twice in one history, or a history entry at or
/// below the `since` the client asked with. A re-join's history may overlap
/// the live messages that arrive while the join is answered (the ack comes
/// after the join enters the room; clients merge the two by seq, as
/// docs/protocol.md says), so that overlap is not doubling.
#[derive(Default)]
pub struct SeqLog {
    /// The highest seq before this client first joined (not expected).
    pub base: u64,
    /// Every seq seen, however it came.
    pub seen: BTreeSet<u64>,
    live: BTreeSet<u64>,
    pub doubled: u64,
}

impl SeqLog {
    fn saw_live(&mut self, seq: u64) {
        if !self.live.insert(seq) {
            self.doubled += 1;
        }
        self.seen.insert(seq);
    }

    fn saw_history(&mut self, history: &[u64], since: u64) {
        let mut this_one = BTreeSet::new();
        for &seq in history {
            if seq <= since || !this_one.insert(seq) {
                self.doubled += 1;
            }
            self.seen.insert(seq);
        }
    }

    /// What a reconnecting client asks for: everything after the last seq it has.
    pub fn since(&self) -> u64 {
        self.seen.last().copied().unwrap_or(0).max(self.base)
    }
}

pub struct Client {
    pub global: usize,
    addr: SocketAddr,
    source: IpAddr,
    pub room: Mutex<Option<String>>,
    token: Mutex<Option<String>>,
    link: Mutex<Option<Link>>,
    pub open: AtomicBool,
    closing: AtomicBool,
    /// Which connection is the current one: an old one ending late (its
    /// task aborted by a reconnect) must not mark the new one closed.
    generation: AtomicU64,
    next_ack: AtomicU64,
    pub watching: AtomicBool,
    /// The room's user count this client heard last (its join ack, then presence).
    pub count: AtomicU64,
    /// Present once the client tracks its room's seqs.
    pub seqs: Mutex<Option<SeqLog>>,
}

struct Link {
    tx: mpsc::UnboundedSender<Out>,
    task: AbortHandle,
}

/// A packet to write, and what to do with its ack.
struct Out {
    text: String,
    ack: Option<(u64, Pending)>,
}

pub enum Pending {
    Reply(oneshot::Sender<String>),
    Message { tally: Arc<SendTally>, window: Option<Arc<Window>> },
}

impl Pending {
    fn failed(self, reason: &str) {
        if let Pending::Message { tally, window } = self {
            tally.failures.add(reason);
            if let Some(window) = window {
                window.failures.add(reason);
            }
        }
    }
}

impl Client {
    pub fn new(global: usize, addr: SocketAddr, source: IpAddr) -> Self {
        Self {
            global,
            addr,
            source,
            room: Mutex::new(None),
            token: Mutex::new(None),
            link: Mutex::new(None),
            open: AtomicBool::new(false),
            closing: AtomicBool::new(false),
            generation: AtomicU64::new(0),
            next_ack: AtomicU64::new(0),
            watching: AtomicBool::new(false),
            count: AtomicU64::new(0),
            seqs: Mutex::new(None),
        }
    }

    pub fn room(&self) -> Option<String> {
        self.room.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Connects from this client's source address, with its token if it
    /// has one; resolves once the namespace is connected.
    pub async fn connect(self: &Arc<Self>, shared: &Arc<Shared>) -> Result<(), String> {
        let socket = TcpSocket::new_v4().map_err(|e| format!("socket: {e}"))?;
        socket
            .bind(SocketAddr::new(self.source, 0))
            .map_err(|e| format!("bind {}: {e}", self.source))?;
        let stream = socket.connect(self.addr).await.map_err(|e| format!("connect: {e}"))?;
        stream.set_nodelay(true).map_err(|e| format!("nodelay: {e}"))?;
        let url = format!("ws://{}/socket.io/?EIO=4&transport=websocket", self.addr);
        // Small buffers: this process holds thousands of connections, and
        // tungstenite's defaults (128 KiB each way) would dwarf the server.
        let config = WebSocketConfig::default().read_buffer_size(4096).write_buffer_size(4096);
        let (ws, _) = tokio::time::timeout(
            CONNECT_TIMEOUT,
            client_async_with_config(url, stream, Some(config)),
        )
        .await
        .map_err(|_| "websocket handshake timed out".to_string())?
        .map_err(|e| format!("websocket handshake: {e}"))?;
        let (tx, rx) = mpsc::unbounded_channel();
        let (ready_tx, ready_rx) = oneshot::channel();
        let conn = Conn {
            generation: self.generation.fetch_add(1, Ordering::Relaxed) + 1,
            client: Arc::clone(self),
            shared: Arc::clone(shared),
            pending: HashMap::new(),
            ready: Some(ready_tx),
            windows: Windows::STALE,
        };
        self.closing.store(false, Ordering::Relaxed);
        let task = tokio::spawn(conn.run(ws, rx));
        *self.link.lock().unwrap_or_else(|e| e.into_inner()) =
            Some(Link { tx, task: task.abort_handle() });
        match tokio::time::timeout(CONNECT_TIMEOUT, ready_rx).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(_)) => Err("closed before connecting".into()),
            Err(_) => Err("namespace connect timed out".into()),
        }
    }

    /// Drops the connection without a word (no close frame, no Socket.IO
    /// disconnect): the server sees the transport go, as when a network fails.
    pub fn drop_connection(&self) {
        self.open.store(false, Ordering::Relaxed);
        self.closing.store(true, Ordering::Relaxed);
        if let Some(link) = self.link.lock().unwrap_or_else(|e| e.into_inner()).take() {
            link.task.abort();
        }
    }

    /// Leaves politely: Socket.IO disconnect, then the websocket closes.
    pub fn close(&self) {
        self.closing.store(true, Ordering::Relaxed);
        let _ = self.write("41".into(), None);
        self.open.store(false, Ordering::Relaxed);
        // Dropping the sender ends the connection task, which closes the socket.
        self.link.lock().unwrap_or_else(|e| e.into_inner()).take();
    }

    /// Queues a packet for the connection task; without a connection, hands
    /// back the ack's pending entry (if any) so the caller can count it failed.
    fn write(&self, text: String, ack: Option<(u64, Pending)>) -> Result<(), Option<Pending>> {
        let link = self.link.lock().unwrap_or_else(|e| e.into_inner());
        match link.as_ref() {
            Some(link) => link.tx.send(Out { text, ack }).map_err(|e| e.0.ack.map(|(_, p)| p)),
            None => Err(ack.map(|(_, p)| p)),
        }
    }

    fn packet(&self, event: &str, payload: &Value) -> (u64, String) {
        let id = self.next_ack.fetch_add(1, Ordering::Relaxed);
        (id, format!("42{id}{}", json!([event, payload])))
    }

    /// Emits an event with an ack; resolves with the ack's one argument,
    /// read straight into `T`: fields `T` does not name are skipped, not
    /// built (a join ack in S5 lists up to 2,000 members, and building each
    /// as a JSON tree cost the load generator twice the server's CPU).
    pub async fn request<T: DeserializeOwned>(
        &self,
        event: &str,
        payload: &Value,
    ) -> Result<T, String> {
        if !self.open.load(Ordering::Relaxed) {
            return Err("not connected".into());
        }
        let (id, text) = self.packet(event, payload);
        let (tx, rx) = oneshot::channel();
        self.write(text, Some((id, Pending::Reply(tx))))
            .map_err(|_| "not connected".to_string())?;
        let answer = match tokio::time::timeout(ANSWER_TIMEOUT, rx).await {
            Ok(Ok(answer)) => answer,
            Ok(Err(_)) => return Err("closed".into()),
            Err(_) => return Err(format!("no answer to {event} within 60 s")),
        };
        first_arg(&answer)
    }

    /// Sends one `message` of `size` text bytes carrying the send stamp;
    /// its ack is counted in `tally` (and the window, if the stamp is in it).
    pub fn send_message(&self, size: usize, tally: &Arc<SendTally>, shared: &Shared) {
        let stamp = stamp_now();
        let window = shared
            .window
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
            .filter(|w| w.covers(stamp));
        tally.sent.fetch_add(1, Ordering::Relaxed);
        if let Some(measure) = shared.measure.read().unwrap_or_else(|e| e.into_inner()).as_ref() {
            measure.sent.fetch_add(1, Ordering::Relaxed);
        }
        if let Some(window) = &window {
            window.sent.fetch_add(1, Ordering::Relaxed);
        }
        let pending = Pending::Message { tally: Arc::clone(tally), window };
        let Some(room) = self.room().filter(|_| self.open.load(Ordering::Relaxed)) else {
            return pending.failed("not connected");
        };
        let mut text = stamp_text(stamp, self.global);
        while text.len() < size {
            text.push('x');
        }
        let (id, packet) = self.packet("message", &json!({ "room": room, "text": text }));
        if let Err(Some(pending)) = self.write(packet, Some((id, pending))) {
            pending.failed("not connected");
        }
    }

    pub fn token(&self) -> Option<String> {
        self.token.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Starts tracking seqs: `base` is the highest seq the first join saw.
    pub fn track(&self, history: &[u64], since: Option<u64>) {
        let mut seqs = self.seqs.lock().unwrap_or_else(|e| e.into_inner());
        match (seqs.as_mut(), since) {
            (Some(log), Some(since)) => log.saw_history(history, since),
            _ => {
                *seqs = Some(SeqLog {
                    base: history.iter().copied().max().unwrap_or(0),
                    ..SeqLog::default()
                });
            }
        }
    }

    fn saw_seq(&self, seq: u64) {
        if let Some(log) = self.seqs.lock().unwrap_or_else(|e| e.into_inner()).as_mut() {
            log.saw_live(seq);
        }
    }
}

/// The connection task's state: the websocket belongs to it alone.
struct Conn {
    generation: u64,
    client: Arc<Client>,
    shared: Arc<Shared>,
    pending: HashMap<u64, Pending>,
    ready: Option<oneshot::Sender<()>>,
    windows: Windows,
}

impl Drop for Conn {
    /// Whatever way the connection ends (even aborted), its unanswered
    /// messages count as failed.
    fn drop(&mut self) {
        if self.client.generation.load(Ordering::Relaxed) == self.generation {
            self.client.open.store(false, Ordering::Relaxed);
        }
        for (_, pending) in self.pending.drain() {
            pending.failed("connection closed before the ack");
        }
    }
}

impl Conn {
    async fn run(
        mut self,
        mut ws: WebSocketStream<TcpStream>,
        mut rx: mpsc::UnboundedReceiver<Out>,
    ) {
        let mut replies: Vec<String> = Vec::new();
        let reason = loop {
            tokio::select! {
                frame = ws.next() => match frame {
                    Some(Ok(Frame::Text(text))) => {
                        if let Err(reason) = self.receive(text.as_str(), &mut replies) {
                            break reason;
                        }
                    }
                    Some(Ok(Frame::Close(_))) | None => break "websocket closed".to_string(),
                    Some(Err(e)) => break format!("websocket error: {e}"),
                    Some(Ok(_)) => {}
                },
                out = rx.recv() => {
                    let Some(out) = out else { break String::new() };
                    replies.push(self.register(out));
                    // Coalesce whatever else is ready into one flush.
                    while let Ok(more) = rx.try_recv() {
                        replies.push(self.register(more));
                    }
                }
            }
            if !replies.is_empty() && !self.flush(&mut ws, &mut replies).await {
                break "write failed".to_string();
            }
        };
        let _ = ws.close(None).await;
        if !self.client.closing.load(Ordering::Relaxed) && !reason.is_empty() {
            self.shared.disconnects.add(reason);
        }
    }

    fn register(&mut self, out: Out) -> String {
        if let Some((id, pending)) = out.ack {
            self.pending.insert(id, pending);
        }
        out.text
    }

    async fn flush(
        &mut self,
        ws: &mut WebSocketStream<TcpStream>,
        replies: &mut Vec<String>,
    ) -> bool {
        for text in replies.drain(..) {
            if ws.feed(Frame::text(text)).await.is_err() {
                return false;
            }
        }
        ws.flush().await.is_ok()
    }

    /// Handles one Engine.IO packet; an error ends the connection.
    fn receive(&mut self, packet: &str, replies: &mut Vec<String>) -> Result<(), String> {
        match packet.as_bytes().first() {
            Some(b'0') => replies.push(match self.client.token() {
                Some(token) => format!("40{}", json!({ "token": token })),
                None => "40".into(),
            }),
            Some(b'2') => replies.push("3".into()),
            Some(b'4') => return self.socketio(&packet[1..]),
            Some(b'1') => return Err("engine.io close".into()),
            _ => {}
        }
        Ok(())
    }

    fn socketio(&mut self, packet: &str) -> Result<(), String> {
        match packet.as_bytes().first() {
            Some(b'2') => self.event(&packet[1..]),
            Some(b'3') => self.ack(&packet[1..]),
            Some(b'0') => {
                self.client.open.store(true, Ordering::Relaxed);
                if let Some(ready) = self.ready.take() {
                    let _ = ready.send(());
                }
            }
            Some(b'1') => return Err("io server disconnect".into()),
            Some(b'4') => return Err(format!("connect error: {packet}")),
            _ => {}
        }
        Ok(())
    }

    fn event(&mut self, event: &str) {
        if event.starts_with("[\"message\"") {
            // The hot path: one stamp, maybe one seq, no JSON parsing.
            if let Some(stamp) =
                field_between(event, &STAMP_KEY, b'@').and_then(|s| s.parse::<f64>().ok())
            {
                self.windows.refresh(&self.shared);
                if let Some(window) = self.windows.window.as_ref().filter(|w| w.covers(stamp)) {
                    window.delivered(stamp, self.client.global);
                }
                if let Some(measure) = &self.windows.measure {
                    measure.delivered(stamp, self.client.global);
                }
            }
            if let Some(seq) = number_after(event, &SEQ_KEY) {
                self.client.saw_seq(seq);
            }
        } else if event.starts_with("[\"presence\"") {
            let count = number_after(event, &COUNT_KEY).unwrap_or(0);
            self.client.count.store(count, Ordering::Relaxed);
            if self.client.watching.load(Ordering::Relaxed) {
                let mut watch = self.shared.watch.lock().unwrap_or_else(|e| e.into_inner());
                if let Some(watch) =
                    watch.as_mut().filter(|w| w.reached_at.is_none() && count >= w.target)
                {
                    watch.reached_at = Some(now_ms());
                }
            }
        } else if event.starts_with("[\"session\"") {
            let token = serde_json::from_str::<Value>(event)
                .ok()
                .and_then(|v| v.get(1)?.get("token")?.as_str().map(str::to_owned));
            if let Some(token) = token {
                *self.client.token.lock().unwrap_or_else(|e| e.into_inner()) = Some(token);
            }
        }
    }

    /// `43<id>[payload]`: resolves a request, or counts a message's ack.
    fn ack(&mut self, packet: &str) {
        let digits = packet.bytes().take_while(u8::is_ascii_digit).count();
        let Some(id) = packet[..digits].parse::<u64>().ok() else { return };
        let args = &packet[digits..];
        match self.pending.remove(&id) {
            Some(Pending::Reply(reply)) => {
                let _ = reply.send(args.to_owned());
            }
            Some(Pending::Message { tally, window }) => {
                if args.starts_with("[{\"ok\":true") || args.contains("\"ok\":true") {
                    tally.acked.fetch_add(1, Ordering::Relaxed);
                    if let Some(window) = window {
                        window.acked.fetch_add(1, Ordering::Relaxed);
                    }
                    if let Some(seq) = number_after(args, &SEQ_KEY) {
                        self.client.saw_seq(seq);
                    }
                } else {
                    let code = field_between(args, &CODE_KEY, b'"').unwrap_or("no code");
                    Pending::Message { tally, window }.failed(&format!("refused: {code}"));
                }
            }
            None => {}
        }
    }
}

/// The text after the first `start` up to the next `end`.
fn field_between<'a>(text: &'a str, start: &Finder<'_>, end: u8) -> Option<&'a str> {
    let from = start.find(text.as_bytes())? + start.needle().len();
    let len = memchr::memchr(end, text.as_bytes().get(from..)?)?;
    text.get(from..from + len)
}

/// The unsigned number right after the first `key`.
fn number_after(text: &str, key: &Finder<'_>) -> Option<u64> {
    let from = key.find(text.as_bytes())? + key.needle().len();
    let rest = text.get(from..)?;
    let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
    rest[..digits].parse().ok()
}

/// The send stamp, in ms to the µs: exactly what receivers read back from
/// the text. Unrounded, a message sent a fraction of a µs before a window
/// opened was not counted as sent, while its text (rounded) put it inside:
/// every receiver counted it, and the run failed with "999 deliveries more
/// than sent" (bench S1, the raw server's third repetition on 2026-11-28).
fn stamp_now() -> f64 {
    (now_ms() * 1000.0).round() / 1000.0
}

/// An ack's arguments (`[arg]`) read as its one argument.
pub fn first_arg<T: DeserializeOwned>(args: &str) -> Result<T, String> {
    let (first,): (T,) = serde_json::from_str(args).map_err(|e| format!("bad ack: {e}"))?;
    Ok(first)
}

/// The start of a message's text: its stamp and its sender.
fn stamp_text(stamp: f64, sender: usize) -> String {
    format!("{STAMP}{stamp:.3}@ c{sender} ")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The stamp a receiver reads out of a message's text.
    fn read_back(text: &str) -> Option<f64> {
        field_between(text, &STAMP_KEY, b'@').and_then(|s| s.parse().ok())
    }

    #[test]
    fn the_stamp_a_sender_counts_is_the_one_its_receivers_read() {
        for _ in 0..10_000 {
            let stamp = stamp_now();
            let text = stamp_text(stamp, 1);
            assert_eq!(read_back(&text), Some(stamp), "{text}");
        }
    }

    #[test]
    fn a_message_event_yields_its_stamp_and_seq() {
        let event = r#"["message",{"id":7,"room":"r1","seq":42,"user":{"id":"u","name":"c1"},"text":"@T1700000000000.125@ c3 xx","ts":1}]"#;
        assert_eq!(field_between(event, &STAMP_KEY, b'@'), Some("1700000000000.125"));
        assert_eq!(number_after(event, &SEQ_KEY), Some(42));
    }

    #[test]
    fn a_refusal_yields_its_code() {
        let ack = r#"[{"ok":false,"error":{"code":"rate_limited","message":"slow down"}}]"#;
        assert_eq!(field_between(ack, &CODE_KEY, b'"'), Some("rate_limited"));
    }

    #[test]
    fn a_seq_twice_live_is_doubled_and_since_is_the_last_seen() {
        let mut log = SeqLog { base: 3, ..SeqLog::default() };
        assert_eq!(log.since(), 3);
        log.saw_live(4);
        log.saw_live(5);
        log.saw_live(5);
        assert_eq!((log.since(), log.doubled), (5, 1));
    }

    #[test]
    fn a_history_overlapping_live_messages_after_since_is_not_doubled() {
        let mut log = SeqLog::default();
        log.saw_live(1);
        log.saw_live(3); // arrived live while the re-join was answered
        log.saw_history(&[2, 3], 1);
        assert_eq!((log.seen.len(), log.doubled), (3, 0));
    }

    #[test]
    fn a_history_entry_at_or_below_since_is_doubled() {
        let mut log = SeqLog::default();
        log.saw_live(1);
        log.saw_live(2);
        log.saw_history(&[2, 3], 2);
        assert_eq!(log.doubled, 1);
    }
}
