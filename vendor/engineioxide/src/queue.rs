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
//! queue is ~100 B where the channel's shared state was ~0.5 KB.
//!
//! Same contract as the channel it replaces: at most `capacity` packets wait
//! (counting reserved places), a full queue refuses with
//! [`TrySendError::Full`], a closed one with [`TrySendError::Closed`], and a
//! reader still drains what was queued before the close.

use std::collections::VecDeque;
use std::sync::{Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};

use engineioxide_core::PacketBuf;
use tokio::sync::Notify;
use tokio::sync::mpsc::error::TrySendError;

pub(crate) struct Queue {
    state: Mutex<State>,
    capacity: usize,
    /// Signalled once, when the queue closes.
    closed: Notify,
}

#[derive(Default)]
struct State {
    items: VecDeque<PacketBuf>,
    /// Places promised to [`Permit`]s not yet used.
    reserved: usize,
    closed: bool,
    /// The reader, when it found the queue empty.
    reader: Option<Waker>,
}

impl State {
    fn has_room(&self, capacity: usize) -> bool {
        self.items.len() + self.reserved < capacity
    }

    /// Queues `item`; the reader to wake, if it waits.
    fn push(&mut self, item: PacketBuf) -> Option<Waker> {
        self.items.push_back(item);
        self.reader.take()
    }
}

/// A place reserved in a [`Queue`]: sending through it cannot fail.
pub struct Permit<'a> {
    queue: &'a Queue,
}

impl Permit<'_> {
    pub(crate) fn send(self, item: PacketBuf) {
        let queue = self.queue;
        std::mem::forget(self);
        let mut state = queue.lock();
        state.reserved -= 1;
        let reader = state.push(item);
        drop(state);
        if let Some(reader) = reader {
            reader.wake();
        }
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
    pub(crate) fn try_send(&self, item: PacketBuf) -> Result<(), TrySendError<PacketBuf>> {
        let mut state = self.lock();
        if state.closed {
            return Err(TrySendError::Closed(item));
        }
        if !state.has_room(self.capacity) {
            return Err(TrySendError::Full(item));
        }
        let reader = state.push(item);
        drop(state);
        if let Some(reader) = reader {
            reader.wake();
        }
        Ok(())
    }

    /// Queues `item` even when the queue is full: for the one packet that
    /// must reach a waiting polling request before an upgrade.
    pub(crate) fn force_send(&self, item: PacketBuf) -> Result<(), TrySendError<PacketBuf>> {
        let mut state = self.lock();
        if state.closed {
            return Err(TrySendError::Closed(item));
        }
        let reader = state.push(item);
        drop(state);
        if let Some(reader) = reader {
            reader.wake();
        }
        Ok(())
    }

    /// The next packet; `None` once the queue is closed and drained.
    pub(crate) fn poll_pop(&self, cx: &mut Context<'_>) -> Poll<Option<PacketBuf>> {
        let mut state = self.lock();
        if let Some(item) = state.items.pop_front() {
            if state.items.is_empty() {
                // A burst's buffer is not kept for the socket's idle life.
                state.items = VecDeque::new();
            }
            return Poll::Ready(Some(item));
        }
        Self::wait(&mut state, cx).map(|()| None)
    }

    /// Everything queued, at once; `None` once the queue is closed and drained.
    pub(crate) fn poll_take_all(&self, cx: &mut Context<'_>) -> Poll<Option<VecDeque<PacketBuf>>> {
        let mut state = self.lock();
        if !state.items.is_empty() {
            return Poll::Ready(Some(std::mem::take(&mut state.items)));
        }
        Self::wait(&mut state, cx).map(|()| None)
    }

    /// Everything queued, at once; `None` once the queue is closed and drained.
    pub(crate) async fn take_all(&self) -> Option<VecDeque<PacketBuf>> {
        std::future::poll_fn(|cx| self.poll_take_all(cx)).await
    }

    /// Everything queued, without waiting (empty if nothing is).
    pub(crate) fn try_take_all(&self) -> VecDeque<PacketBuf> {
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
    use engineioxide_core::Packet;
    use smallvec::smallvec;

    fn packet(text: &str) -> PacketBuf {
        smallvec![Packet::Message(text.to_owned().into())]
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
