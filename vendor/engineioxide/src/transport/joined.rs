//! A websocket's writer and reader run as one future of its task (patch 10), each polled
//! only when something it waits for woke the task (patch 20).
//!
//! `futures_util::future::join` polls both halves at every wake-up of the task. A connection
//! is woken for its writer once per packet sent to it (a room's broadcast wakes every member)
//! and for its reader once per packet it receives, so most wake-ups polled the reader for
//! nothing: its cancellation token, its heartbeat timer, its split-stream lock and a read that
//! would block. The reader now gets a waker of its own that notes it was woken before waking
//! the task. The writer is polled at every wake-up, as it is cheap to poll when idle.
//!
//! The reader ends when the session closes (it watches the session's cancellation, or closes
//! the session itself), and the writer learns of it here ([`ReaderEnded`], patch 21) rather
//! than from the cancellation token: polled at every wake-up, the token cost the writer two
//! mutex locks on a cache line of its own per packet sent (its `is_cancelled` and its
//! `Notified`), 3-4% of the server's time in bench S2.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll, Wake, Waker};

use futures_util::task::AtomicWaker;
use pin_project_lite::pin_project;

/// Wakes the task, noting that the reader was woken.
struct ReaderWake {
    woken: AtomicBool,
    task: AtomicWaker,
    /// Set once the reader has ended.
    ended: AtomicBool,
}

/// Tells the writer whether the reader has ended, that is whether the session is closing.
/// Only a future run by [`joined`] may watch it: the writer is polled again once it is set.
pub(crate) struct ReaderEnded(Arc<ReaderWake>);

impl ReaderEnded {
    pub(crate) fn is_set(&self) -> bool {
        self.0.ended.load(Ordering::Acquire)
    }
}

impl Wake for ReaderWake {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.woken.store(true, Ordering::Release);
        self.task.wake();
    }
}

pin_project! {
    /// Runs `writer` and `reader` until both are done.
    pub(crate) struct Joined<W, R> {
        #[pin]
        writer: W,
        #[pin]
        reader: R,
        writer_done: bool,
        reader_done: bool,
        wake: Arc<ReaderWake>,
        reader_waker: Waker,
    }
}

/// Runs the writer `writer(ended)` makes and `reader` until both are done; `ended` is set
/// once the reader is.
pub(crate) fn joined<W, R>(writer: impl FnOnce(ReaderEnded) -> W, reader: R) -> Joined<W, R>
where
    W: Future<Output = ()>,
    R: Future<Output = ()>,
{
    // Woken at first, so the reader's first poll registers what it waits for.
    let wake = Arc::new(ReaderWake {
        woken: AtomicBool::new(true),
        task: AtomicWaker::new(),
        ended: AtomicBool::new(false),
    });
    let reader_waker = Waker::from(wake.clone());
    Joined {
        writer: writer(ReaderEnded(wake.clone())),
        reader,
        writer_done: false,
        reader_done: false,
        wake,
        reader_waker,
    }
}

impl<W, R> Future for Joined<W, R>
where
    W: Future<Output = ()>,
    R: Future<Output = ()>,
{
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let mut this = self.project();
        if !*this.writer_done && this.writer.as_mut().poll(cx).is_ready() {
            *this.writer_done = true;
        }
        if !*this.reader_done {
            // Registered before the flag is read: a wake-up from here on polls again.
            this.wake.task.register(cx.waker());
            if this.wake.woken.swap(false, Ordering::AcqRel) {
                let mut reader_cx = Context::from_waker(this.reader_waker);
                if this.reader.poll(&mut reader_cx).is_ready() {
                    *this.reader_done = true;
                    this.wake.ended.store(true, Ordering::Release);
                    // The writer sees it now: nothing else may wake the task.
                    if !*this.writer_done && this.writer.poll(cx).is_ready() {
                        *this.writer_done = true;
                    }
                }
            }
        }
        if *this.writer_done && *this.reader_done {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;
    use std::sync::atomic::AtomicUsize;

    /// A future that counts its polls and ends once told to, waking its task then.
    #[derive(Default)]
    struct Probe {
        polls: AtomicUsize,
        done: AtomicBool,
        waker: Mutex<Option<Waker>>,
    }

    impl Probe {
        fn run(&self) -> impl Future<Output = ()> + '_ {
            std::future::poll_fn(|cx| {
                self.polls.fetch_add(1, Ordering::Relaxed);
                if self.done.load(Ordering::Relaxed) {
                    return Poll::Ready(());
                }
                *self.waker.lock().unwrap() = Some(cx.waker().clone());
                Poll::Pending
            })
        }

        fn wake(&self) {
            if let Some(waker) = self.waker.lock().unwrap().take() {
                waker.wake();
            }
        }

        fn polls(&self) -> usize {
            self.polls.load(Ordering::Relaxed)
        }
    }

    /// Polls once; the probes' wake-ups go through the reader's waker or nowhere.
    fn poll<F: Future>(future: Pin<&mut F>) -> Poll<F::Output> {
        future.poll(&mut Context::from_waker(Waker::noop()))
    }

    #[test]
    fn the_reader_is_polled_only_when_it_was_woken() {
        let (writer, reader) = (Probe::default(), Probe::default());
        let mut both = std::pin::pin!(joined(|_| writer.run(), reader.run()));
        assert!(poll(both.as_mut()).is_pending());
        for _ in 0..3 {
            writer.wake();
            assert!(poll(both.as_mut()).is_pending());
        }
        assert_eq!((writer.polls(), reader.polls()), (4, 1));
        reader.wake();
        assert!(poll(both.as_mut()).is_pending());
        assert_eq!(reader.polls(), 2);
    }

    #[derive(Default)]
    struct Wakes(AtomicUsize);

    impl Wake for Wakes {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::Relaxed);
        }
    }

    #[test]
    fn every_wake_up_of_the_reader_wakes_the_task_not_only_the_first() {
        let (writer, reader) = (Probe::default(), Probe::default());
        let wakes = Arc::new(Wakes::default());
        let task = Waker::from(wakes.clone());
        let mut both = std::pin::pin!(joined(|_| writer.run(), reader.run()));
        for round in 1..=3 {
            assert!(both.as_mut().poll(&mut Context::from_waker(&task)).is_pending());
            reader.wake();
            assert_eq!(wakes.0.load(Ordering::Relaxed), round);
        }
        assert_eq!(reader.polls(), 3);
    }

    #[test]
    fn the_writer_learns_in_the_same_poll_that_the_reader_has_ended() {
        let reader = Probe::default();
        let writer = |ended: ReaderEnded| {
            std::future::poll_fn(move |_| match ended.is_set() {
                true => Poll::Ready(()),
                false => Poll::Pending,
            })
        };
        let mut both = std::pin::pin!(joined(writer, reader.run()));
        assert!(poll(both.as_mut()).is_pending());
        assert!(poll(both.as_mut()).is_pending(), "the reader has not ended");
        reader.done.store(true, Ordering::Relaxed);
        reader.wake();
        assert!(poll(both.as_mut()).is_ready(), "the writer should have stopped too");
    }

    #[test]
    fn it_ends_once_both_have_ended() {
        let (writer, reader) = (Probe::default(), Probe::default());
        let mut both = std::pin::pin!(joined(|_| writer.run(), reader.run()));
        assert!(poll(both.as_mut()).is_pending());
        reader.done.store(true, Ordering::Relaxed);
        reader.wake();
        assert!(poll(both.as_mut()).is_pending(), "the writer is still running");
        writer.done.store(true, Ordering::Relaxed);
        writer.wake();
        assert!(poll(both.as_mut()).is_ready());
    }
}
