//! A socket's outgoing packets, waiting for its transport (patch 18).
//!
//! A bounded queue in place of tokio's bounded channel. A broadcast to a
//! thousand sockets pushes into a thousand queues, and every socket's writer
//! pops what was pushed: with the channel each packet was a boxed entry, a
//! semaphore permit, a slot in a linked block and a wake-up, and each of
//! those moved a cache line between the pushing and the popping core. Here a
//! push is one uncontended lock around a `VecDeque`; the writer takes
//! everything queued in one lock; and only a push into an empty queue whose
//! reader waits wakes it. An empty queue holds no allocation, and the whole
//! queue is ~100 B where the channel's shared state was ~0.6 KB. A text
//! message waits inline in 32 B ([`Item`]): with a [`PacketBuf`] inline
//! (168 B) each push, each pop and each growth of the queue copied that.
//!
//! Same contract as the channel it replaces: at most `capacity` packets wait
//! (counting reserved places), a full queue refuses with
//! [`TrySendError::Full`], a closed one with [`TrySendError::Closed`], and a
//! reader still drains what was queued before the close.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::sync::{Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};

use engineioxide_core::{Packet, PacketBuf, Str};
use smallvec::smallvec;
use tokio::sync::Notify;
use tokio::sync::mpsc::error::TrySendError;

thread_local! {
    /// Readers to wake when the [`batch_wakes`] running on this thread ends.
    static DEFERRED: RefCell<Option<Vec<Waker>>> = const { RefCell::new(None) };
}

/// Runs `f`; the readers of the queues it pushes into are woken when it
/// returns rather than at each first push.
///
/// For a broadcast to many sockets: woken at once, each socket's writer
/// would start on another core while the broadcast still fills the queues,
/// take the first packet alone and write it in a syscall of its own (bench
/// S1: about 11 deliveries per `sendto`). Woken at the end, each takes all
/// the broadcast queued for it, and writes it at once. Nested calls join
/// the outermost.
pub fn batch_wakes<R>(f: impl FnOnce() -> R) -> R {
    let outermost = DEFERRED.with(|d| {
        let mut deferred = d.borrow_mut();
        deferred.is_none().then(|| *deferred = Some(Vec::new())).is_some()
    });
    if !outermost {
        return f();
    }
    /// Wakes the deferred readers even if `f` panics.
    struct WakeAll;
    impl Drop for WakeAll {
        fn drop(&mut self) {
            let woken = DEFERRED.with(|d| d.borrow_mut().take()).unwrap_or_default();
            woken.into_iter().for_each(Waker::wake);
        }
    }
    let _wake_all = WakeAll;
    f()
}

/// Wakes `reader` now, or when the [`batch_wakes`] running here ends.
fn wake(reader: Waker) {
    let reader = DEFERRED.with(|d| match d.borrow_mut().as_mut() {
        Some(deferred) => {
            deferred.push(reader);
            None
        }
        None => Some(reader),
    });
    if let Some(reader) = reader {
        reader.wake();
    }
}

/// Places a queue makes room for at its first push: most bursts fit, so it
/// seldom grows (each growth copies it), and 8 × 32 B is freed with the burst.
const FIRST_ROOM: usize = 8;

/// One entry of a [`Queue`]: a text message (nearly every packet a socket
/// is sent) inline, anything else boxed, with packets that must go out
/// together in one entry.
#[derive(Debug, PartialEq)]
pub(crate) enum Item {
    Message(Str),
    /// A message packet already written with its type (`4…`), as a broadcast
    /// encodes it once for every recipient: a websocket sends these bytes as
    /// they are, where a `Message` is copied behind a `4` for each socket.
    Framed(Str),
    Packets(Box<PacketBuf>),
}

/// What comes off a queue next.
#[derive(Debug, PartialEq)]
pub(crate) enum Next {
    Packet(Packet),
    /// A whole Engine.IO text packet (see [`Item::Framed`]).
    Framed(Str),
}

impl Item {
    pub(crate) fn packet(packet: Packet) -> Self {
        match packet {
            Packet::Message(msg) => Self::Message(msg),
            packet => Self::Packets(Box::new(smallvec![packet])),
        }
    }

    /// Packets to send one after the other, with nothing between them.
    pub(crate) fn packets(mut packets: PacketBuf) -> Self {
        match packets.len() {
            1 => Self::packet(packets.remove(0)),
            _ => Self::Packets(Box::new(packets)),
        }
    }

    pub(crate) fn into_packets(self) -> PacketBuf {
        match self {
            Self::Message(msg) => smallvec![Packet::Message(msg)],
            Self::Framed(packet) => smallvec![Packet::Message(packet.slice(1..))],
            Self::Packets(packets) => *packets,
        }
    }

    /// The first packet (an item refused whole gives back what it was made of).
    pub(crate) fn into_first(self) -> Option<Packet> {
        self.into_packets().into_iter().next()
    }
}

/// Takes the next packet off the front of `items`, if any.
pub(crate) fn pop_next(items: &mut VecDeque<Item>) -> Option<Next> {
    loop {
        match items.front_mut()? {
            Item::Packets(packets) if !packets.is_empty() => {
                let packet = packets.remove(0);
                if packets.is_empty() {
                    items.pop_front();
                }
                return Some(Next::Packet(packet));
            }
            Item::Packets(_) => {
                items.pop_front();
            }
            Item::Message(_) | Item::Framed(_) => {
                return match items.pop_front()? {
                    Item::Message(msg) => Some(Next::Packet(Packet::Message(msg))),
                    Item::Framed(packet) => Some(Next::Framed(packet)),
                    Item::Packets(_) => unreachable!("the front was a single packet"),
                };
            }
        }
    }
}

pub(crate) struct Queue {
    state: Mutex<State>,
    capacity: usize,
    /// Signalled once, when the queue closes.
    closed: Notify,
}

#[derive(Default)]
struct State {
    items: VecDeque<Item>,
    /// Places promised to [`Permit`]s not yet used.
    reserved: usize,
    closed: bool,
    /// Volatile packets wait in the socket's slot since the reader last looked (patch
    /// 23): noted here, where the reader looks anyway, rather than in the slot's flag, a
    /// cache line of its own that the writer read after each of its batches (1.3% of
    /// bench S2's samples, nearly all of it a wait for memory).
    volatile: bool,
    /// The reader, when it found the queue empty.
    reader: Option<Waker>,
}

/// What [`Queue::poll_take`] found.
#[derive(Debug, PartialEq)]
pub(crate) enum Taken {
    /// Everything queued.
    Items(VecDeque<Item>),
    /// Nothing queued, but volatile packets were sent since the last look.
    Volatile,
}

impl State {
    fn has_room(&self, capacity: usize) -> bool {
        self.items.len() + self.reserved < capacity
    }

}

/// A place reserved in a [`Queue`]: sending through it cannot fail.
pub struct Permit<'a> {
    queue: &'a Queue,
}

impl Permit<'_> {
    pub(crate) fn send(self, item: Item) {
        let queue = self.queue;
        std::mem::forget(self);
        let mut state = queue.lock();
        state.reserved -= 1;
        Queue::push(state, item);
    }
}

impl Drop for Permit<'_> {
    fn drop(&mut self) {
        self.queue.lock().reserved -= 1;
    }
}

impl Queue {
    pub(crate) fn new(capacity: usize) -> Self {
        Self {
            state: Mutex::new(State::default()),
            capacity,
            closed: Notify::new(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // Nothing panics while holding the lock; recover rather than spread a poison.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Reserves a place for one packet.
    pub(crate) fn try_reserve(&self) -> Result<Permit<'_>, TrySendError<()>> {
        let mut state = self.lock();
        if state.closed {
            return Err(TrySendError::Closed(()));
        }
        if !state.has_room(self.capacity) {
            return Err(TrySendError::Full(()));
        }
        state.reserved += 1;
        Ok(Permit { queue: self })
    }

    /// Queues `item` if there is room.
    pub(crate) fn try_send(&self, item: Item) -> Result<(), TrySendError<Item>> {
        self.send(item, true)
    }

    /// Queues `item` even when the queue is full: for the one packet that
    /// must reach a waiting polling request before an upgrade.
    pub(crate) fn force_send(&self, item: Item) -> Result<(), TrySendError<Item>> {
        self.send(item, false)
    }

    fn send(&self, item: Item, bounded: bool) -> Result<(), TrySendError<Item>> {
        let state = self.lock();
        if state.closed {
            return Err(TrySendError::Closed(item));
        }
        if bounded && !state.has_room(self.capacity) {
            return Err(TrySendError::Full(item));
        }
        Self::push(state, item);
        Ok(())
    }

    /// Queues `item`, lets go of the lock, and wakes the reader if it waits.
    fn push(mut state: MutexGuard<'_, State>, item: Item) {
        if state.items.capacity() == 0 {
            state.items.reserve_exact(FIRST_ROOM);
        }
        state.items.push_back(item);
        let reader = state.reader.take();
        drop(state);
        if let Some(reader) = reader {
            wake(reader);
        }
    }

    /// The next packet; `None` once the queue is closed and drained.
    pub(crate) fn poll_pop(&self, cx: &mut Context<'_>) -> Poll<Option<PacketBuf>> {
        let mut state = self.lock();
        if let Some(item) = state.items.pop_front() {
            if state.items.is_empty() {
                // A burst's buffer is not kept for the socket's idle life.
                state.items = VecDeque::new();
            }
            return Poll::Ready(Some(item.into_packets()));
        }
        Self::wait(&mut state, cx).map(|()| None)
    }

    /// Everything queued, at once; `None` once the queue is closed and drained.
    #[cfg(any(test, feature = "__test_harness"))]
    pub(crate) fn poll_take_all(&self, cx: &mut Context<'_>) -> Poll<Option<VecDeque<Item>>> {
        let mut state = self.lock();
        if !state.items.is_empty() {
            return Poll::Ready(Some(std::mem::take(&mut state.items)));
        }
        Self::wait(&mut state, cx).map(|()| None)
    }

    /// Everything queued, at once; `None` once the queue is closed and drained.
    #[cfg(any(test, feature = "__test_harness"))]
    pub(crate) async fn take_all(&self) -> Option<VecDeque<Item>> {
        std::future::poll_fn(|cx| self.poll_take_all(cx)).await
    }

    /// Everything queued; once the queue is empty, whether volatile packets were noted since
    /// the last look (the queue keeps its priority over them); `None` once the queue is
    /// closed and drained.
    pub(crate) fn poll_take(&self, cx: &mut Context<'_>) -> Poll<Option<Taken>> {
        let mut state = self.lock();
        if !state.items.is_empty() {
            return Poll::Ready(Some(Taken::Items(std::mem::take(&mut state.items))));
        }
        if std::mem::take(&mut state.volatile) {
            return Poll::Ready(Some(Taken::Volatile));
        }
        Self::wait(&mut state, cx).map(|()| None)
    }

    /// Everything queued, without waiting (empty if nothing is).
    pub(crate) fn try_take_all(&self) -> VecDeque<Item> {
        std::mem::take(&mut self.lock().items)
    }

    /// Ready when the (empty) queue is closed; otherwise registers the reader.
    fn wait(state: &mut State, cx: &mut Context<'_>) -> Poll<()> {
        if state.closed {
            return Poll::Ready(());
        }
        match &mut state.reader {
            Some(reader) if reader.will_wake(cx.waker()) => {}
            reader => *reader = Some(cx.waker().clone()),
        }
        Poll::Pending
    }

    /// Notes that volatile packets wait in the socket's slot, and wakes the reader if it
    /// waits (patches 21 and 23).
    pub(crate) fn note_volatile(&self) {
        let mut state = self.lock();
        state.volatile = true;
        let reader = state.reader.take();
        drop(state);
        if let Some(reader) = reader {
            wake(reader);
        }
    }

    /// Refuses every later packet; what is queued can still be read.
    pub(crate) fn close(&self) {
        let mut state = self.lock();
        state.closed = true;
        let reader = state.reader.take();
        drop(state);
        if let Some(reader) = reader {
            reader.wake();
        }
        self.closed.notify_waiters();
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.lock().closed
    }

    /// Resolves once the queue is closed.
    pub(crate) async fn closed(&self) {
        loop {
            let notified = self.closed.notified();
            if self.is_closed() {
                return;
            }
            notified.await;
        }
    }
}

impl std::fmt::Debug for Queue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let state = self.lock();
        f.debug_struct("Queue")
            .field("len", &state.items.len())
            .field("reserved", &state.reserved)
            .field("capacity", &self.capacity)
            .field("closed", &state.closed)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn packet(text: &str) -> Item {
        Item::packet(Packet::Message(text.to_owned().into()))
    }

    #[test]
    fn a_full_queue_refuses_and_counts_reserved_places() {
        let queue = Queue::new(2);
        let permit = queue.try_reserve().unwrap();
        queue.try_send(packet("a")).unwrap();
        assert!(matches!(queue.try_send(packet("b")), Err(TrySendError::Full(_))));
        drop(permit);
        queue.try_send(packet("b")).unwrap();
        assert_eq!(queue.try_take_all().len(), 2);
    }

    #[test]
    fn a_closed_queue_refuses_but_still_drains() {
        let queue = Queue::new(4);
        queue.try_send(packet("a")).unwrap();
        queue.close();
        assert!(matches!(queue.try_send(packet("b")), Err(TrySendError::Closed(_))));
        assert!(matches!(queue.try_reserve(), Err(TrySendError::Closed(()))));
        let waker = futures_util::task::noop_waker();
        let mut cx = Context::from_waker(&waker);
        assert!(matches!(queue.poll_take_all(&mut cx), Poll::Ready(Some(items)) if items.len() == 1));
        assert!(matches!(queue.poll_take_all(&mut cx), Poll::Ready(None)));
    }

    #[tokio::test]
    async fn a_waiting_reader_is_woken_by_a_push_in_order() {
        let queue = std::sync::Arc::new(Queue::new(8));
        let reader = tokio::spawn({
            let queue = queue.clone();
            async move { queue.take_all().await }
        });
        tokio::task::yield_now().await;
        queue.try_reserve().unwrap().send(packet("a"));
        let items = reader.await.unwrap().unwrap();
        assert_eq!(items.len(), 1);
        queue.try_send(packet("b")).unwrap();
        queue.try_send(packet("c")).unwrap();
        let order: Vec<_> = queue.try_take_all().into_iter().collect();
        assert_eq!(order, vec![packet("b"), packet("c")]);
    }

    #[test]
    fn packets_come_off_in_order_whatever_their_items() {
        let mut items = VecDeque::from([
            packet("a"),
            Item::packets(smallvec![Packet::Ping, Packet::Message("b".to_owned().into())]),
            Item::packet(Packet::Noop),
            Item::Packets(Box::default()),
            packet("c"),
        ]);
        items.push_back(Item::Framed("4d".into()));
        let mut order = Vec::new();
        while let Some(next) = pop_next(&mut items) {
            order.push(next);
        }
        let text = |t: &str| Next::Packet(Packet::Message(t.to_owned().into()));
        let expected = [text("a"), Next::Packet(Packet::Ping), text("b"), Next::Packet(Packet::Noop)];
        assert_eq!(order[..4], expected);
        assert_eq!(order[4..], [text("c"), Next::Framed("4d".into())]);
    }

    #[test]
    fn a_framed_message_reaches_polling_as_the_message_it_holds() {
        let packets = Item::Framed("4hello".into()).into_packets();
        assert_eq!(packets.as_slice(), [Packet::Message("hello".into())]);
    }

    #[test]
    fn a_batch_wakes_its_readers_once_it_ends() {
        use std::sync::Arc;
        use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
        struct Count(AtomicUsize);
        impl std::task::Wake for Count {
            fn wake(self: Arc<Self>) {
                self.0.fetch_add(1, SeqCst);
            }
        }
        let count = Arc::new(Count(AtomicUsize::new(0)));
        let waker = Waker::from(count.clone());
        let queue = Queue::new(8);
        // The reader finds the queue empty and waits.
        assert!(queue.poll_take_all(&mut Context::from_waker(&waker)).is_pending());
        batch_wakes(|| {
            queue.try_send(packet("a")).unwrap();
            batch_wakes(|| queue.try_send(packet("b")).unwrap());
            assert_eq!(count.0.load(SeqCst), 0, "woken before the batch ended");
        });
        assert_eq!(count.0.load(SeqCst), 1);
        assert_eq!(queue.try_take_all(), [packet("a"), packet("b")]);
        // Outside a batch, a push wakes at once.
        assert!(queue.poll_take_all(&mut Context::from_waker(&waker)).is_pending());
        queue.try_send(packet("c")).unwrap();
        assert_eq!(count.0.load(SeqCst), 2);
    }

    #[test]
    fn volatile_packets_are_noted_once_the_queue_is_empty_and_only_once() {
        let queue = Queue::new(8);
        let mut cx = Context::from_waker(Waker::noop());
        queue.try_send(packet("a")).unwrap();
        queue.note_volatile();
        assert_eq!(
            queue.poll_take(&mut cx),
            Poll::Ready(Some(Taken::Items([packet("a")].into())))
        );
        assert_eq!(queue.poll_take(&mut cx), Poll::Ready(Some(Taken::Volatile)));
        assert!(queue.poll_take(&mut cx).is_pending());
    }

    #[test]
    fn noting_volatile_packets_wakes_a_waiting_reader() {
        use std::sync::Arc;
        use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
        struct Count(AtomicUsize);
        impl std::task::Wake for Count {
            fn wake(self: Arc<Self>) {
                self.0.fetch_add(1, SeqCst);
            }
        }
        let count = Arc::new(Count(AtomicUsize::new(0)));
        let waker = Waker::from(count.clone());
        let queue = Queue::new(8);
        assert!(queue.poll_take(&mut Context::from_waker(&waker)).is_pending());
        queue.note_volatile();
        assert_eq!(count.0.load(SeqCst), 1);
    }

    #[test]
    fn a_text_message_waits_in_no_more_than_its_own_bytes() {
        assert!(std::mem::size_of::<Item>() <= std::mem::size_of::<Str>() + 8);
    }

    #[tokio::test]
    async fn closed_resolves_when_the_queue_closes() {
        let queue = std::sync::Arc::new(Queue::new(1));
        let waiter = tokio::spawn({
            let queue = queue.clone();
            async move { queue.closed().await }
        });
        tokio::task::yield_now().await;
        queue.close();
        waiter.await.unwrap();
    }
}
