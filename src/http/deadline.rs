//! A request body with a deadline for all of it, not for each piece: a
//! client that announces a small body and then sends nothing, or a byte
//! now and then, would otherwise hold its request (and for polling, its
//! session's one POST) open forever.

use axum::body::{Body, Bytes, HttpBody};
use http_body::{Frame, SizeHint};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::time::Sleep;

/// Wraps a body so that reading it fails once `limit` has passed; the
/// flag tells the caller afterwards whether that is why it ended.
pub struct Deadline {
    body: Body,
    timer: Pin<Box<Sleep>>,
    expired: Arc<AtomicBool>,
}

impl Deadline {
    pub fn wrap(body: Body, limit: Duration) -> (Body, Arc<AtomicBool>) {
        let expired = Arc::new(AtomicBool::new(false));
        let timer = Box::pin(tokio::time::sleep(limit));
        let deadline = Self { body, timer, expired: Arc::clone(&expired) };
        (Body::new(deadline), expired)
    }
}

impl HttpBody for Deadline {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        let this = &mut *self;
        if let Poll::Ready(frame) = Pin::new(&mut this.body).poll_frame(cx) {
            return Poll::Ready(frame);
        }
        if this.timer.as_mut().poll(cx).is_ready() {
            this.expired.store(true, Ordering::Relaxed);
            return Poll::Ready(Some(Err(axum::Error::new("request body not received in time"))));
        }
        Poll::Pending
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_body_that_stops_arriving_fails_at_the_deadline() {
        let (sender, receiver) = tokio::sync::mpsc::channel::<Result<Bytes, axum::Error>>(1);
        let stream = futures_util::stream::unfold(receiver, |mut receiver| async move {
            receiver.recv().await.map(|chunk| (chunk, receiver))
        });
        let (body, expired) = Deadline::wrap(Body::from_stream(stream), Duration::from_secs(10));
        sender.send(Ok(Bytes::from_static(b"4"))).await.expect("the body is read");
        let read = axum::body::to_bytes(body, 100).await;
        assert!(read.is_err(), "a body that never ends was read: {read:?}");
        assert!(expired.load(Ordering::Relaxed));
        drop(sender);
    }

    #[tokio::test(start_paused = true)]
    async fn a_body_that_arrives_in_time_is_read_whole() {
        let (body, expired) = Deadline::wrap(Body::from("4hello"), Duration::from_secs(10));
        let read = axum::body::to_bytes(body, 100).await.expect("the body");
        assert_eq!(&read[..], b"4hello");
        assert!(!expired.load(Ordering::Relaxed));
    }
}
