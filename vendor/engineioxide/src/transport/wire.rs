//! A websocket's stream, shared by its reader and its writer (patch 22).
//!
//! tungstenite reads the frames, and answers a ping or a close by itself. The writer frames
//! its packets itself and writes each batch straight to the stream. Through tungstenite's
//! sink, every packet was copied into tungstenite's buffer behind the split stream's lock,
//! with waker proxies registered for each write and a flush through three more layers: some
//! 3% of the server's time in bench S2, besides the sends themselves.
//!
//! tungstenite still writes to the stream during the handshake (the open packet, the
//! upgrade's probe). Once the session is set up, what it writes (a pong, the reply to a
//! close) is held here instead, and the writer writes it between two batches of its own, so
//! frames never interleave, even when a write is left half done by a full socket.

use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// The frame opcodes a server writes.
pub(crate) const TEXT: u8 = 0x1;
pub(crate) const BINARY: u8 = 0x2;
pub(crate) const CLOSE: u8 = 0x8;

/// Splits `io` into the writer's side and tungstenite's (see the module).
pub(crate) fn split<S>(io: S) -> (Wire<S>, ReaderIo<S>) {
    let shared = Arc::new(Shared {
        state: Mutex::new(State {
            io,
            held: Vec::new(),
            close_held: false,
        }),
        holding: AtomicBool::new(false),
        held: AtomicBool::new(false),
    });
    (Wire(shared.clone()), ReaderIo(shared))
}

struct Shared<S> {
    state: Mutex<State<S>>,
    /// Set once the handshake is done: tungstenite's writes are held from then on.
    holding: AtomicBool,
    /// Bytes are held: read by the writer at each poll without taking the lock.
    held: AtomicBool,
}

struct State<S> {
    io: S,
    /// Whole frames tungstenite wrote, waiting for the writer.
    held: Vec<u8>,
    /// A close frame is among them (or was): the writer must not send one of its own.
    close_held: bool,
}

impl<S> Shared<S> {
    fn lock(&self) -> MutexGuard<'_, State<S>> {
        // Nothing panics while holding it; a poisoned lock still guards whole frames.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The writer's side: writes whole batches of frames.
pub(crate) struct Wire<S>(Arc<Shared<S>>);

/// A batch of frames being written; `at` is how much of it the stream has taken.
#[derive(Default)]
pub(crate) struct Batch {
    pub(crate) out: Vec<u8>,
    at: usize,
}

impl Batch {
    pub(crate) fn is_done(&self) -> bool {
        self.at >= self.out.len()
    }

    /// Empties the batch, keeping its buffer for the next one.
    pub(crate) fn clear(&mut self) {
        self.out.clear();
        self.at = 0;
    }
}

impl<S: AsyncWrite + Unpin> Wire<S> {
    /// From now on tungstenite's writes are held for the writer. Called once the handshake's
    /// own writes are flushed, before the writer starts.
    pub(crate) fn hold(&self) {
        self.0.holding.store(true, Ordering::Release);
    }

    /// Whether tungstenite has written something the writer has not.
    pub(crate) fn has_held(&self) -> bool {
        self.0.held.load(Ordering::Acquire)
    }

    /// Appends what tungstenite wrote to `out`. Called for every batch: the lock is taken
    /// only when something is held.
    pub(crate) fn take_held(&self, out: &mut Vec<u8>) {
        if !self.has_held() {
            return;
        }
        let mut state = self.0.lock();
        self.0.held.store(false, Ordering::Release);
        out.append(&mut state.held);
    }

    /// Whether tungstenite wrote a close frame (the reply to the peer's): the writer then
    /// sends none of its own.
    pub(crate) fn close_held(&self) -> bool {
        self.0.lock().close_held
    }

    /// Writes the rest of `batch`, then flushes; pending while the stream is full.
    pub(crate) fn poll_write(
        &self,
        cx: &mut Context<'_>,
        batch: &mut Batch,
    ) -> Poll<io::Result<()>> {
        let mut state = self.0.lock();
        let io = &mut state.io;
        while !batch.is_done() {
            match Pin::new(&mut *io).poll_write(cx, &batch.out[batch.at..]) {
                Poll::Ready(Ok(0)) => return Poll::Ready(Err(io::ErrorKind::WriteZero.into())),
                Poll::Ready(Ok(n)) => batch.at += n,
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Pending => return Poll::Pending,
            }
        }
        Pin::new(io).poll_flush(cx)
    }
}

/// tungstenite's side: reads the stream; writes go straight to it during the handshake and
/// are held for the writer after it.
pub(crate) struct ReaderIo<S>(Arc<Shared<S>>);

impl<S: AsyncRead + Unpin> AsyncRead for ReaderIo<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0.lock().io).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for ReaderIo<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let mut state = self.0.lock();
        if !self.0.holding.load(Ordering::Acquire) {
            return Pin::new(&mut state.io).poll_write(cx, buf);
        }
        // tungstenite writes its whole buffer from a frame's start, and every byte is taken
        // here, so `buf` holds whole frames.
        state.close_held |= has_close(buf);
        state.held.extend_from_slice(buf);
        self.0.held.store(true, Ordering::Release);
        // tungstenite writes while the reader is polled; the writer is polled at the task's
        // next wake-up (`joined`), which this asks for.
        cx.waker().wake_by_ref();
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if self.0.holding.load(Ordering::Acquire) {
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut self.0.lock().io).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        // The writer ends the stream once the session is set up.
        if self.0.holding.load(Ordering::Acquire) {
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut self.0.lock().io).poll_shutdown(cx)
    }
}

/// Appends the header of a server frame (final, unmasked) of `len` payload bytes.
/// Room for the payload is reserved with it: a batch's buffer starts empty, and most hold
/// one frame.
pub(crate) fn push_header(out: &mut Vec<u8>, opcode: u8, len: usize) {
    out.reserve(10 + len);
    out.push(0x80 | opcode);
    match len {
        0..=125 => out.push(len as u8),
        126..=0xffff => {
            out.push(126);
            out.extend_from_slice(&(len as u16).to_be_bytes());
        }
        _ => {
            out.push(127);
            out.extend_from_slice(&(len as u64).to_be_bytes());
        }
    }
}

/// Appends a server frame holding `payload`.
pub(crate) fn push_frame(out: &mut Vec<u8>, opcode: u8, payload: &[u8]) {
    push_header(out, opcode, payload.len());
    out.extend_from_slice(payload);
}

/// Whether the server frames in `frames` (whole, unmasked) include a close.
fn has_close(mut frames: &[u8]) -> bool {
    while let [b0, b1, rest @ ..] = frames {
        if b0 & 0x0f == CLOSE {
            return true;
        }
        let (len, rest) = match b1 & 0x7f {
            126 if rest.len() >= 2 => (u16::from_be_bytes([rest[0], rest[1]]) as usize, &rest[2..]),
            127 if rest.len() >= 8 => {
                let mut len = [0; 8];
                len.copy_from_slice(&rest[..8]);
                (u64::from_be_bytes(len) as usize, &rest[8..])
            }
            126 | 127 => return false,
            n => (n as usize, rest),
        };
        frames = rest.get(len..).unwrap_or_default();
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(opcode: u8, payload: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        push_frame(&mut out, opcode, payload);
        out
    }

    #[test]
    fn a_frame_header_takes_the_shortest_length_that_fits() {
        assert_eq!(frame(TEXT, b"hi"), [0x81, 2, b'h', b'i']);
        let long = frame(TEXT, &[b'x'; 300]);
        assert_eq!(long[..4], [0x81, 126, 1, 44]);
        assert_eq!(long.len(), 4 + 300);
        let huge = frame(BINARY, &vec![0; 70_000]);
        assert_eq!(huge[..10], [0x82, 127, 0, 0, 0, 0, 0, 1, 0x11, 0x70]);
        assert_eq!(huge.len(), 10 + 70_000);
    }

    #[test]
    fn a_close_is_found_after_other_frames_of_any_length() {
        let mut frames = frame(0xA, b"pong");
        frames.extend(frame(TEXT, &[b'x'; 300]));
        assert!(!has_close(&frames));
        frames.extend(frame(CLOSE, &[3, 232]));
        assert!(has_close(&frames));
    }
}
