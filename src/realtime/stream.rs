//! Each room's ordered stream: the one place that delivers a room's log
//! (new messages and changes to them) to this process's connections,
//! strictly in `seq` order with no gap. Entries come from this process's
//! writer and, in a cluster, from
//! the other processes over Redis, in whatever order they arrive: one that
//! arrives early is held, and a gap that does not fill within
//! [`GAP_WAIT`] is read from the database. Seqs are assigned under a
//! per-room row lock, so a visible seq N means N-1 is committed and the
//! read always fills the gap. Joins pass through here too, so a joining
//! connection's history ends exactly where its live messages begin.
//!
//! Every entry of the log takes the room's next seq, whether it is a new
//! message, an edit, a delete or a reaction, so the log has no gaps even
//! though message seqs do.

use super::Refusal;
use super::fanout::{self, Encodings, Forms, Skip};
use super::followed::{Budget, Followed};
use super::groups::{self, Recipients};
use super::tail::{Attached, TAIL_LEN, Tail};
use super::writer::{Reply, Stored};
use crate::domain::{Entry, RoomName, Seq};
use crate::metrics::Metrics;
use crate::store::{Slice, Store};
use socketioxide::SocketIo;
use socketioxide::adapter::Adapter;
use socketioxide::extract::SocketRef;
use socketioxide::socket::Sid;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, oneshot};

/// How long a message may wait for an earlier one before the gap is read
/// from the database. Pub/sub between processes is fast; this only bites
/// when a publish was lost.
pub const GAP_WAIT: Duration = Duration::from_millis(150);

/// Most messages one gap read fetches (more are read on the next round).
const GAP_READ: u32 = 500;

/// Most inputs handled before what they made deliverable is sent. Inputs
/// queue up only when the stream falls behind; sending their entries
/// together then costs each connection one lookup and one wake-up for the
/// lot (bench S1), and the bound keeps joins waiting behind them short.
const DRAIN: usize = 64;

/// A log entry to deliver, with what is known of where it came from.
#[derive(Debug)]
pub struct Delivery {
    pub entry: Entry,
    /// The connection that sent it, when it is on this process.
    pub sender: Option<Sid>,
    pub received: Option<Instant>,
    /// The sender's ack, answered once this process has delivered it, so
    /// an ack means "stored, and sent to everyone here".
    pub ack: Option<Reply>,
}

impl Delivery {
    fn read(entry: Entry) -> Self {
        Self { entry, sender: None, received: None, ack: None }
    }

    /// Answers the sender, with the payloads its entry was sent in here.
    fn acknowledge(&mut self, encodings: Encodings) {
        if let Some(ack) = self.ack.take() {
            ack.send(Ok(Stored { entry: self.entry.clone(), encodings }));
        }
    }
}

pub enum Input<A: Adapter> {
    /// Committed by this process, in commit order.
    Committed(Vec<Delivery>),
    /// Committed by another process.
    Remote(Box<Entry>),
    Attach {
        socket: SocketRef<A>,
        room: RoomName,
        since: Option<Seq>,
        reply: oneshot::Sender<Result<Attached, Refusal>>,
    },
    /// Another process committed up to this seq but could not publish it.
    Hint { room: RoomName, seq: Seq },
    /// Messages may have been missed (the bus reconnected): read every
    /// followed room's newest messages from the database.
    Resync,
    /// A connection disconnected: let go of the recipient lists that hold
    /// it, or its socket (and its address's place, `http::per_ip`) would
    /// live until the next delivery.
    Departed,
}

impl<A: Adapter> Input<A> {
    /// Whether this is handled in the batch of deliveries in progress rather
    /// than after it is sent: entries to deliver, and departures. A departure
    /// changes no room's order: it only drops the kept recipients, so the
    /// batch is not split for it.
    fn joins_the_batch(&self) -> bool {
        matches!(self, Input::Committed(_) | Input::Remote(_) | Input::Departed)
    }
}

/// Where the writer, the joins and the cluster bus hand work to the stream.
pub struct Handle<A: Adapter>(mpsc::UnboundedSender<Input<A>>);

impl<A: Adapter> Clone for Handle<A> {
    fn clone(&self) -> Self {
        Self(self.0.clone())
    }
}

impl<A: Adapter> Handle<A> {
    pub fn committed(&self, deliveries: Vec<Delivery>) {
        let _ = self.0.send(Input::Committed(deliveries));
    }

    pub fn remote(&self, entry: Entry) {
        let _ = self.0.send(Input::Remote(Box::new(entry)));
    }

    pub fn hint(&self, room: RoomName, seq: Seq) {
        let _ = self.0.send(Input::Hint { room, seq });
    }

    pub fn resync(&self) {
        let _ = self.0.send(Input::Resync);
    }

    pub fn departed(&self) {
        let _ = self.0.send(Input::Departed);
    }

    /// Puts the socket in the room's broadcast group; returns the last seq
    /// it will not receive live (its history must end there) and the
    /// room's newest messages as of that seq, or with `since` the log
    /// entries after it if the tail holds them.
    pub async fn attach(
        &self,
        socket: SocketRef<A>,
        room: RoomName,
        since: Option<Seq>,
    ) -> Result<Attached, Refusal> {
        let (reply, attached) = oneshot::channel();
        let input = Input::Attach { socket, room, since, reply };
        self.0.send(input).map_err(|_| Refusal::Unavailable)?;
        attached.await.map_err(|_| Refusal::Unavailable)?
    }
}

struct Streams<A: Adapter> {
    io: SocketIo<A>,
    store: Arc<dyn Store>,
    metrics: Arc<Metrics>,
    rooms: Followed,
    /// Rooms with a gap, checked every tick.
    gaps: HashSet<RoomName>,
    /// Other processes write to the same rooms (cluster mode).
    shared: bool,
    /// Entries in order, in the tails already, not yet sent ([`Self::flush`]).
    outbox: Vec<Delivery>,
    recipients: Recipients<A>,
}

pub type Inputs<A> = mpsc::UnboundedReceiver<Input<A>>;

pub fn channel<A: Adapter>() -> (Handle<A>, Inputs<A>) {
    let (tx, rx) = mpsc::unbounded_channel();
    (Handle(tx), rx)
}

pub fn spawn<A: Adapter>(
    io: SocketIo<A>,
    store: Arc<dyn Store>,
    metrics: Arc<Metrics>,
    shared: bool,
    mut inputs: Inputs<A>,
) {
    let rooms = Followed::new(Budget::default());
    let mut streams = Streams {
        io,
        store,
        metrics,
        rooms,
        gaps: HashSet::new(),
        shared,
        outbox: Vec::new(),
        recipients: Recipients::default(),
    };
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(GAP_WAIT / 3);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                input = inputs.recv() => match input {
                    Some(input) => {
                        streams.handle(input).await;
                        for _ in 1..DRAIN {
                            let Ok(input) = inputs.try_recv() else { break };
                            streams.handle(input).await;
                        }
                    }
                    None => break,
                },
                _ = ticks.tick(), if !streams.gaps.is_empty() => streams.fill_overdue().await,
            }
            streams.flush();
        }
    });
}

impl<A: Adapter> Streams<A> {
    async fn handle(&mut self, input: Input<A>) {
        if !input.joins_the_batch() {
            // Whatever comes next (a join above all) sees the rooms as sent.
            self.flush();
        }
        match input {
            Input::Committed(deliveries) => deliveries.into_iter().for_each(|d| self.accept(d)),
            Input::Remote(entry) => self.accept(Delivery::read(*entry)),
            Input::Attach { socket, room, since, reply } => {
                let _ = reply.send(self.attach(&socket, room, since).await);
            }
            Input::Hint { room, seq } => {
                let behind = self.rooms.get(&room).is_some_and(|s| s.last() < seq);
                if behind {
                    self.metrics.gap_reads.fetch_add(1, Relaxed);
                    self.catch_up(&room).await;
                }
            }
            Input::Resync => self.resync().await,
            Input::Departed => self.recipients.refresh(),
        }
    }

    /// Delivers in order, holds what is early, drops what is known.
    fn accept(&mut self, mut delivery: Delivery) {
        let room = delivery.entry.room().clone();
        // A room nobody here follows: a later join reads it from the database.
        let Some(stream) = self.rooms.get_mut(&room) else {
            delivery.acknowledge(Encodings::default());
            return;
        };
        let seq = delivery.entry.seq();
        if seq <= stream.last() {
            delivery.acknowledge(Encodings::default()); // already delivered from a database read
            return;
        }
        if seq > stream.last() + 1 {
            stream.early.insert(seq, delivery);
            stream.gap_since.get_or_insert_with(Instant::now);
            self.gaps.insert(room);
            return;
        }
        self.deliver(delivery);
        self.release_early(&room);
    }

    /// Delivers held messages that are now next in line.
    fn release_early(&mut self, room: &RoomName) {
        loop {
            let Some(stream) = self.rooms.get_mut(room) else {
                return;
            };
            let next = stream.last() + 1;
            while stream.early.first_key_value().is_some_and(|(seq, _)| *seq < next) {
                stream.early.pop_first();
            }
            match stream.early.remove(&next) {
                Some(delivery) => self.deliver(delivery),
                None => {
                    if stream.early.is_empty() {
                        stream.gap_since = None;
                        self.gaps.remove(room);
                    }
                    return;
                }
            }
        }
    }

    /// Puts the next entry of a room in its tail and in the outbox.
    fn deliver(&mut self, delivery: Delivery) {
        self.rooms.push(&delivery.entry);
        self.outbox.push(delivery);
    }

    /// Sends the outbox, each room's run of entries together and in order,
    /// then acks them: an ack means "stored, and sent to everyone here".
    fn flush(&mut self) {
        if self.outbox.is_empty() {
            return;
        }
        // Each connection's writer starts once everything it is sent here is
        // queued, and writes it at once (one syscall, not one per entry).
        engineioxide::batch_wakes(|| {
            let encodings = self.deliver_runs();
            for (mut delivery, encodings) in self.outbox.drain(..).zip(encodings) {
                delivery.acknowledge(encodings);
                if let Some(received) = delivery.received {
                    self.metrics.delivery_lag(received.elapsed());
                }
            }
        });
        self.note_memory();
    }

    /// Sends each room's run of the outbox, in order; returns what each
    /// entry was encoded into (aligned with the outbox), for its ack.
    fn deliver_runs(&mut self) -> Vec<Encodings> {
        let mut runs: HashMap<&RoomName, Vec<usize>> = HashMap::new();
        for (at, delivery) in self.outbox.iter().enumerate() {
            runs.entry(delivery.entry.room()).or_default().push(at);
        }
        let mut encodings: Vec<Encodings> =
            std::iter::repeat_with(Encodings::default).take(self.outbox.len()).collect();
        for (room, run) in &runs {
            let entries: Vec<(Skip, &Entry)> = run
                .iter()
                .map(|&at| &self.outbox[at])
                .map(|d| (d.sender.map_or(Skip::Nobody, Skip::Conn), &d.entry))
                .collect();
            let mut forms: Vec<Forms> =
                std::iter::repeat_with(Forms::default).take(run.len()).collect();
            // Looked up per run: a connection cut off in an earlier run
            // left every group, and the lists kept with it go.
            let recipients = self.recipients.of(&self.io, room);
            let reached = fanout::deliver_entries(recipients, &entries, &mut forms);
            self.metrics.deliveries.fetch_add(reached as u64, Relaxed);
            for (&at, form) in run.iter().zip(&forms) {
                encodings[at] = form.encodings();
            }
        }
        encodings
    }

    async fn fill_overdue(&mut self) {
        let overdue: Vec<RoomName> = self
            .gaps
            .iter()
            .filter(|room| {
                let since = self.rooms.get(room).and_then(|s| s.gap_since);
                since.is_none_or(|at| at.elapsed() >= GAP_WAIT)
            })
            .cloned()
            .collect();
        for room in overdue {
            self.metrics.gap_reads.fetch_add(1, Relaxed);
            self.catch_up(&room).await;
        }
    }

    /// Reads what the database has after the room's last delivered seq.
    async fn catch_up(&mut self, room: &RoomName) {
        let Some(last) = self.rooms.get(room).map(|s| s.last()) else {
            self.gaps.remove(room);
            return;
        };
        match self.store.log(room, last, GAP_READ).await {
            Ok(page) => page.entries.into_iter().for_each(|e| self.accept(Delivery::read(e))),
            Err(error) => tracing::warn!(%error, %room, "cannot read a gap; retrying"),
        }
        self.release_early(room);
        if let Some(stream) = self.rooms.get_mut(room) {
            if !stream.early.is_empty() {
                stream.gap_since = Some(Instant::now());
            }
        }
    }

    async fn resync(&mut self) {
        let io = self.io.clone();
        self.rooms.retain(|room, _| !io.to(room.to_string()).sockets().is_empty());
        self.note_memory();
        for room in self.rooms.names() {
            self.catch_up(&room).await;
        }
    }

    async fn attach(
        &mut self,
        socket: &SocketRef<A>,
        room: RoomName,
        since: Option<Seq>,
    ) -> Result<Attached, Refusal> {
        if self.shared && self.rooms.get(&room).is_some() {
            // A message acked by another process may not have come over the
            // bus yet; its sender expects a join anywhere to include it.
            self.catch_up(&room).await;
        }
        let attached = match self.rooms.attached(&room, since) {
            Some(attached) => attached,
            None => {
                let tail = self.load(&room).await?;
                // Answered before the budget trims it: it was read anyway.
                let attached = tail.attached(since);
                let io = self.io.clone();
                let idle = move |room: &RoomName| io.to(room.to_string()).sockets().is_empty();
                self.rooms.insert(room.clone(), tail, idle);
                self.note_memory();
                attached
            }
        };
        // What the history above ends with goes out before the socket
        // joins, or it would get those entries twice.
        self.flush();
        // A socket gone meanwhile must not linger in the room's group.
        if !socket.connected() {
            return Err(Refusal::Unavailable);
        }
        groups::join(socket, room.to_string());
        Ok(attached)
    }

    fn note_memory(&self) {
        self.metrics.followed_rooms.store(self.rooms.count() as i64, Relaxed);
        self.metrics.tail_bytes.store(self.rooms.bytes() as i64, Relaxed);
    }

    /// A room's tail from the database. The last seq is read first: the
    /// page read after it may show later changes already (they are
    /// delivered again, replacing a message's state with the same state),
    /// and messages after it are left for the stream to deliver.
    async fn load(&self, room: &RoomName) -> Result<Tail, Refusal> {
        let last = self.store.last_seq(room).await?;
        let page = self.store.read(room, Slice::Before(last + 1), TAIL_LEN as u32).await?;
        Ok(Tail::load(page.messages, page.has_more, last))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use socketioxide::adapter::LocalAdapter;

    #[test]
    fn entries_and_departures_join_the_batch_in_progress() {
        assert!(Input::<LocalAdapter>::Committed(vec![]).joins_the_batch());
        assert!(Input::<LocalAdapter>::Departed.joins_the_batch());
    }

    #[test]
    fn what_reads_or_changes_the_rooms_waits_for_the_batch_to_be_sent() {
        let room = RoomName::parse("lobby").expect("a room name");
        assert!(!Input::<LocalAdapter>::Hint { room, seq: 3 }.joins_the_batch());
        assert!(!Input::<LocalAdapter>::Resync.joins_the_batch());
    }
}
