//! The ws transport module is responsible for handling websocket connections
//! The only public function is [`new_req`] which is used to upgrade a http request to a websocket connection
//!
//! Other functions are used internally to handle the websocket connection through tasks and channels
//! and to handle upgrade from polling to ws

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt, TryStreamExt};
use http::{HeaderValue, Request, Response, StatusCode, request::Parts};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_tungstenite::{
    WebSocketStream,
    tungstenite::{
        self, Message,
        handshake::derive_accept_key,
        protocol::{Role, WebSocketConfig},
    },
};
use tokio_util::future::FutureExt as _;

use engineioxide_core::{Packet, ProtocolVersion, Sid, Str, TransportType};

use crate::{
    DisconnectReason, Socket, body::ResponseBody, config::EngineIoConfig, engine::EngineIo,
    errors::Error,
    handler::EngineIoHandler,
    queue::{self, Item, Next, Taken},
    transport::{
        joined::ReaderEnded,
        make_open_packet,
        wire::{self, Batch, ReaderIo, Wire},
    },
};

/// Create a response for websocket upgrade
fn ws_response<B>(ws_key: &HeaderValue) -> Response<ResponseBody<B>> {
    let derived = derive_accept_key(ws_key.as_bytes());
    let sec = derived.parse::<HeaderValue>().unwrap();
    Response::builder()
        .status(StatusCode::SWITCHING_PROTOCOLS)
        .header(http::header::UPGRADE, HeaderValue::from_static("websocket"))
        .header(
            http::header::CONNECTION,
            HeaderValue::from_static("Upgrade"),
        )
        .header(http::header::SEC_WEBSOCKET_ACCEPT, sec)
        .body(ResponseBody::empty_response())
        .unwrap() // we are only using constants
}

/// Upgrade a websocket request to create a websocket connection.
///
/// If a sid is provided in the query it means that is is upgraded from an existing HTTP polling request.
/// In this case the http polling request is closed and the SID is kept for the websocket
pub fn new_req<R: Send + 'static, B, H: EngineIoHandler>(
    engine: Arc<EngineIo<H>>,
    protocol: ProtocolVersion,
    sid: Option<Sid>,
    req: Request<R>,
) -> Result<Response<ResponseBody<B>>, Error> {
    let (mut parts, body) = req.into_parts();

    // The session keeps the request's parts for its whole life: not what only the handshake
    // needs. The key is answered here; hyper's `OnUpgrade` (its shared state) goes to the
    // upgrade alone, with the body, rather than in a clone of the parts (~0.2 KB per socket).
    let ws_key = parts
        .headers
        .remove(http::header::SEC_WEBSOCKET_KEY)
        .ok_or(Error::InvalidWebSocketKey)?;
    if parts.headers.is_empty() {
        parts.headers = http::HeaderMap::new();
    }
    let mut req = Request::new(body);
    if let Some(on_upgrade) = parts.extensions.remove::<hyper::upgrade::OnUpgrade>() {
        req.extensions_mut().insert(on_upgrade);
    }

    // The upgrade and the session's setup run in a boxed future that owns the request: the
    // spawned future keeps only its pointer, and is sized by the connection's loop alone,
    // for as long as the connection lives (it kept the request and its copies: ~2.4 KB).
    let open = Box::pin(async move {
        let conn = match hyper::upgrade::on(req).await {
            Ok(conn) => hyper_util::rt::TokioIo::new(conn),
            Err(_e) => {
                #[cfg(feature = "tracing")]
                tracing::debug!("ws upgrade error: {}", _e);
                return None;
            }
        };
        match setup::<H, _>(engine.clone(), conn, protocol, sid, parts).await {
            Ok(session) => Some(session),
            Err(Error::MultipleWebsocketRequests) => None,
            Err(_e) => {
                #[cfg(feature = "tracing")]
                tracing::debug!(?sid, "ws closed with error: {_e}");
                if let Some(sid) = sid {
                    engine.close_session(sid, DisconnectReason::TransportError);
                }
                None
            }
        }
    });
    tokio::spawn(async move {
        if let Some(session) = open.await {
            run(session).await;
            #[cfg(feature = "tracing")]
            tracing::debug!(?sid, "ws closed")
        }
    });

    Ok(ws_response(&ws_key))
}

/// Handle a websocket connection upgrade
///
/// Sends an open packet if it is not an upgrade from a polling request
///
/// Read packets from the websocket and handle them, it will block until the connection is closed
pub fn on_init<H: EngineIoHandler, S>(
    engine: Arc<EngineIo<H>>,
    conn: S,
    protocol: ProtocolVersion,
    sid: Option<Sid>,
    req_data: Parts,
) -> impl Future<Output = Result<(), Error>> + Send + 'static
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    // Boxed, with the arguments moved into it: the setup's state (the stream before it is
    // split, the request, the upgrade's timers) would otherwise size the future that runs for
    // as long as the connection lives.
    let setup = Box::pin(setup::<H, S>(engine, conn, protocol, sid, req_data));
    async move {
        run(setup.await?).await;
        Ok(())
    }
}

/// An open websocket session, its stream split, ready to [`run`]: the writer writes frames
/// to the stream itself, tungstenite reads them (patch 22, [`wire`]).
struct WsSession<H: EngineIoHandler, S> {
    engine: Arc<EngineIo<H>>,
    socket: Arc<Socket<H::Data>>,
    tx: Wire<S>,
    /// Boxed: the reading futures that own it in turn would each keep room for it, for as
    /// long as the connection lives (bench S4: 0.7 KiB more per idle connection unboxed).
    rx: Box<WebSocketStream<ReaderIo<S>>>,
    /// The heartbeat's interval and timeout, when this websocket runs it.
    heartbeat: Option<(Duration, Duration)>,
}

/// One task per connection: the writer (internal socket channel to websocket), the reader
/// (websocket to handler) and, for a session this websocket opened, the heartbeat run as
/// futures of this one (each task of its own cost ~1.3-2.7 KB per idle connection).
/// The reader stops when the session is cancelled, the writer then flushes and closes.
fn run<H: EngineIoHandler, S>(session: WsSession<H, S>) -> impl Future<Output = ()> + Send
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let WsSession {
        engine,
        socket,
        tx,
        rx,
        heartbeat,
    } = session;
    let w = |ended| forward_to_socket::<H, S>(socket.clone(), tx, ended);
    let r = read(engine, rx, socket.clone(), heartbeat);
    super::joined::joined(w, r)
}

/// Reads the websocket until it closes or the session is cancelled, running the session's
/// heartbeat alongside when `heartbeat` (interval, timeout) is given.
async fn read<H: EngineIoHandler, S>(
    engine: Arc<EngineIo<H>>,
    rx: Box<WebSocketStream<ReaderIo<S>>>,
    socket: Arc<Socket<H::Data>>,
    heartbeat: Option<(Duration, Duration)>,
) where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (engine, socket) = (&engine, &socket);
    let reading = async {
        let Some((interval, timeout)) = heartbeat else {
            return Some(forward_to_handler(engine, rx, socket).await);
        };
        tokio::select! {
            res = forward_to_handler(engine, rx, socket) => Some(res),
            // It has closed the socket (HeartbeatTimeout), the session is being cancelled.
            () = socket.heartbeat(interval, timeout) => None,
        }
    };
    match reading
        .with_cancellation_token(&socket.cancellation_token)
        .await
        .flatten()
    {
        Some(Err(ref e)) => {
            let reason =
                Option::<DisconnectReason>::from(e).unwrap_or(DisconnectReason::TransportError);

            #[cfg(feature = "tracing")]
            tracing::debug!("error when handling packet: {:?}", e);
            engine.close_session(socket.id, reason);
        }
        Some(Ok(())) => {
            #[cfg(feature = "tracing")]
            tracing::debug!(sid = %socket.id, "ws transport was closed");
            engine.close_session(socket.id, DisconnectReason::TransportClose);
        }
        None => {
            #[cfg(feature = "tracing")]
            tracing::debug!(sid = %socket.id, "socket is closing");
        }
    }
}

/// Opens the session (or upgrades the polling one) and returns it with its websocket stream,
/// split. A session this websocket opened has its heartbeat run by the websocket's task; an
/// upgraded session keeps its polling one.
async fn setup<H: EngineIoHandler, S>(
    engine: Arc<EngineIo<H>>,
    conn: S,
    protocol: ProtocolVersion,
    sid: Option<Sid>,
    req_data: Parts,
) -> Result<WsSession<H, S>, Error>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let ws_config = WebSocketConfig::default()
        .read_buffer_size(engine.config.ws_read_buffer_size)
        .max_message_size(Some(engine.config.ws_max_message_size))
        .max_frame_size(Some(engine.config.ws_max_frame_size));

    let (wire, conn) = wire::split(conn);
    let ws_init = move || WebSocketStream::from_raw_socket(conn, Role::Server, Some(ws_config));
    let (socket, ws, opened) = if let Some(sid) = sid {
        match engine.get_socket(sid) {
            None => return Err(Error::UnknownSessionID(sid)),
            Some(socket) if socket.is_ws() => return Err(Error::MultipleWebsocketRequests),
            Some(socket) => {
                let mut ws = ws_init().await;

                let upgrade_fut = upgrade_handshake::<H, _>(&socket, &mut ws);
                match tokio::time::timeout(engine.config.upgrade_timeout, upgrade_fut)
                    .with_cancellation_token(&socket.cancellation_token)
                    .await
                {
                    Some(Ok(res)) => res?,
                    Some(Err(_)) => {
                        #[cfg(feature = "tracing")]
                        tracing::debug!(?sid, "ws upgrade timed out, closing session");
                        engine.close_session(socket.id, DisconnectReason::TransportError);
                        return Err(Error::Upgrade);
                    }
                    None => {
                        #[cfg(feature = "tracing")]
                        tracing::debug!(?sid, "socket is being closed");
                        return Err(Error::Upgrade);
                    }
                }
                (socket, ws, false)
            }
        }
    } else {
        let socket = engine.create_session(protocol, TransportType::Websocket, req_data, false);

        #[cfg(feature = "tracing")]
        tracing::debug!("new websocket connection");

        let mut ws = ws_init().await;
        init_handshake(socket.id, &mut ws, &engine.config).await?;
        (socket, ws, true)
    };
    // The handshake's writes are flushed: tungstenite's next ones wait for the writer.
    wire.hold();
    let heartbeat = opened.then_some((engine.config.ping_interval, engine.config.ping_timeout));
    Ok(WsSession {
        engine,
        socket,
        tx: wire,
        rx: Box::new(ws),
        heartbeat,
    })
}

/// Forwards all packets received from a websocket to a EngineIo [`Socket`]
async fn forward_to_handler<H: EngineIoHandler, S>(
    engine: &Arc<EngineIo<H>>,
    mut rx: Box<WebSocketStream<ReaderIo<S>>>,
    socket: &Arc<Socket<H::Data>>,
) -> Result<(), Error>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    while let Some(msg) = rx.try_next().await? {
        match msg {
            Message::Text(msg) => match Packet::parse(socket.protocol, ws_bytes_to_str(msg))? {
                Packet::Close => {
                    #[cfg(feature = "tracing")]
                    tracing::debug!("[sid={}] closing session", socket.id);
                    engine.close_session(socket.id, DisconnectReason::TransportClose);
                    break;
                }
                Packet::Pong | Packet::Ping => {
                    socket.pong_received();
                    Ok::<(), Error>(())
                }
                Packet::Message(msg) => {
                    engine.handler.on_message(msg, socket.clone());
                    Ok(())
                }
                p => return Err(Error::BadPacket(p)),
            },
            Message::Binary(mut data) => {
                if socket.protocol == ProtocolVersion::V3 && !data.is_empty() {
                    // The first byte is the message type, which we don't need.
                    data = data.split_off(1);
                }
                engine.handler.on_binary(data, socket.clone());
                Ok(())
            }
            Message::Close(_) => {
                #[cfg(feature = "tracing")]
                tracing::debug!("websocket closed, closing session");
                // tungstenite has its reply ready: it goes to the writer, which sends it
                // instead of a close of its own.
                rx.flush().await.ok();
                engine.close_session(socket.id, DisconnectReason::TransportClose);
                break;
            }
            _ => {
                #[cfg(feature = "tracing")]
                tracing::debug!(sid = ?socket.id, "unexpected ws message");
                Ok(())
            }
        }?
    }
    Ok(())
}

/// Forwards all packets waiting to be sent to the websocket
///
/// Each batch of packets is framed into one buffer and written at once (patch 22).
async fn forward_to_socket<H: EngineIoHandler, S>(
    socket: Arc<Socket<H::Data>>,
    wire: Wire<S>,
    reader_ended: ReaderEnded,
) where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    // A polling request that was in progress during the upgrade may still hold the lock.
    let lock = socket.internal_rx.lock();
    let Some(_reading) = lock
        .with_cancellation_token(&socket.cancellation_token)
        .await
    else {
        #[cfg(feature = "tracing")]
        tracing::debug!(sid = %socket.id, "session closed before starting the ws writer");
        return;
    };
    // Outlives `forward`: a batch it left half written is finished before the close frame.
    let mut batch = Batch::default();
    // The stream failed: what is queued is dropped until the session closes.
    let mut failed = false;
    // Forward queued packets until the queue is closed or the session is closing (the
    // reader, run beside this writer by `joined`, has ended: it watches the session's
    // cancellation). The whole loop observes it: a peer that stopped reading blocks the
    // stream forever, and the session must still close. It is checked after the loop
    // (biased towards it), so a close packet already queued is still written.
    //
    // Everything queued is taken at once (patch 18) and framed into one buffer (at most
    // `BATCH_BYTES` at a time), with whatever tungstenite wrote meanwhile (patch 22), then
    // whatever was queued while it was written. Only the taken queue and the buffer are held
    // while the stream is full, and the buffer is dropped once the queue is drained: this
    // future lives in the connection's task for as long as the connection (patch 10).
    // Volatile packets are noted in the queue (patches 21 and 23), so the writer waits on the
    // queue alone, and tungstenite's writes wake the task.
    let forward = async {
        loop {
            let Some(mut queued) = std::future::poll_fn(|cx| next_batch(&socket, &wire, cx)).await
            else {
                break;
            };
            loop {
                wire.take_held(&mut batch.out);
                frame_packets(&mut queued, socket.protocol, &mut batch.out);
                if batch.out.is_empty() {
                    break;
                }
                if !failed {
                    let written = std::future::poll_fn(|cx| wire.poll_write(cx, &mut batch)).await;
                    failed = written.is_err();
                    #[cfg(feature = "tracing")]
                    if let Err(_e) = written {
                        tracing::debug!("[sid={}] error writing packets: {}", socket.id, _e);
                    }
                }
                batch.clear();
                if queued.is_empty() {
                    queued = socket.queue.try_take_all();
                }
            }
            batch = Batch::default();
        }
    };
    let drained = {
        let mut forward = std::pin::pin!(forward);
        std::future::poll_fn(|cx| match forward.as_mut().poll(cx) {
            std::task::Poll::Ready(()) => std::task::Poll::Ready(true),
            std::task::Poll::Pending if reader_ended.is_set() => std::task::Poll::Ready(false),
            std::task::Poll::Pending => std::task::Poll::Pending,
        })
        .await
    };
    if !drained {
        #[cfg(feature = "tracing")]
        tracing::trace!(sid = %socket.id, "ws writer stopped: the session is closing");
    }
    if failed {
        return;
    }

    // The rest of a half-written batch, what tungstenite wrote since (the reply to a peer's
    // close, if it sent one), and otherwise a close frame of our own.
    // Bounded: a peer that does not read would hold the connection open for as
    // long as it likes. Once this returns the stream is dropped and closed.
    // Boxed: only a closing connection needs the timer's room.
    let close = async {
        let mut last = Batch::default();
        if !batch.is_done() {
            last = batch;
        }
        wire.take_held(&mut last.out);
        if !wire.close_held() {
            wire::push_frame(&mut last.out, wire::CLOSE, &[]);
        }
        std::future::poll_fn(|cx| wire.poll_write(cx, &mut last))
            .await
            .ok();
    };
    if Box::pin(tokio::time::timeout(CLOSE_TIMEOUT, close))
        .await
        .is_err()
    {
        #[cfg(feature = "tracing")]
        tracing::debug!(sid = %socket.id, "peer not reading; dropping the connection");
    }
}

/// What the writer sends next: everything queued, else the volatile packets, else nothing
/// but what tungstenite wrote; `None` once the queue is closed and drained. The queue says
/// when volatile packets were sent (patch 23), so the slot is read only then.
fn next_batch<D, S>(
    socket: &Socket<D>,
    wire: &Wire<S>,
    cx: &mut std::task::Context<'_>,
) -> std::task::Poll<Option<VecDeque<Item>>>
where
    D: Default + Send + Sync + 'static,
    S: AsyncWrite + Unpin,
{
    use std::task::Poll;
    match socket.queue.poll_take(cx) {
        Poll::Ready(Some(Taken::Items(items))) => Poll::Ready(Some(items)),
        // None if a polling request took them meanwhile.
        Poll::Ready(Some(Taken::Volatile)) => match socket.volatile.take() {
            Some(packets) => {
                #[cfg(feature = "tracing")]
                tracing::debug!(sid = ?socket.id, "ws volatile flush: {} packets", packets.len());
                Poll::Ready(Some(VecDeque::from([Item::Packets(packets)])))
            }
            None => Poll::Ready(Some(VecDeque::new())),
        },
        Poll::Ready(None) => Poll::Ready(None),
        Poll::Pending if wire.has_held() => Poll::Ready(Some(VecDeque::new())),
        Poll::Pending => Poll::Pending,
    }
}

/// How many bytes of frames one write takes at most; the rest stays queued until it is done.
const BATCH_BYTES: usize = 64 * 1024;

/// Frames `queued` packets into `out`, in order, until it is empty or `out` holds
/// [`BATCH_BYTES`].
fn frame_packets(queued: &mut VecDeque<Item>, protocol: ProtocolVersion, out: &mut Vec<u8>) {
    while out.len() < BATCH_BYTES {
        match queue::pop_next(queued) {
            None => return,
            Some(Next::Packet(packet)) => frame_packet(packet, protocol, out),
            Some(Next::Framed(packet)) => wire::push_frame(out, wire::TEXT, packet.as_bytes()),
        }
    }
}

/// Appends the websocket frame a packet is written as; none for a Noop.
fn frame_packet(packet: Packet, protocol: ProtocolVersion, out: &mut Vec<u8>) {
    match packet {
        Packet::Binary(bin) | Packet::BinaryV3(bin) => {
            if protocol == ProtocolVersion::V3 {
                // v3 protocol requires packet type as the first byte.
                wire::push_header(out, wire::BINARY, bin.len() + 1);
                out.push(0x04);
                out.extend_from_slice(&bin);
            } else {
                wire::push_frame(out, wire::BINARY, &bin);
            }
        }
        // A Noop Packet maybe sent by the server to upgrade from a polling connection
        // In the case that the packet was not poll in time it will remain in the buffer and therefore
        // it should be discarded here
        Packet::Noop => {}
        // The most common one, framed without a copy of its own.
        Packet::Message(msg) => {
            wire::push_header(out, wire::TEXT, msg.len() + 1);
            out.push(b'4');
            out.extend_from_slice(msg.as_bytes());
        }
        packet => wire::push_frame(out, wire::TEXT, String::from(packet).as_bytes()),
    }
}
/// How long a closing websocket may take to flush before it is dropped.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(1);

/// Send a Engine.IO [`OpenPacket`] to initiate a websocket connection
async fn init_handshake<S>(
    sid: Sid,
    ws: &mut WebSocketStream<S>,
    config: &EngineIoConfig,
) -> Result<(), Error>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let packet = Packet::Open(make_open_packet(TransportType::Websocket, sid, config));
    let packet: String = packet.into();
    ws.send(Message::Text(packet.into())).await?;
    Ok(())
}

/// Upgrade a session from a polling request to a websocket request.
///
/// Before upgrading the session the server should send a NOOP packet to any pending polling request.
///
/// ## Handshake :
/// ```text
/// CLIENT                                                 SERVER
///│                                                      │
///│   GET /engine.io/?EIO=4&transport=websocket&sid=...  │
///│ ───────────────────────────────────────────────────► │
///│  ◄─────────────────────────────────────────────────┘ │
///│            HTTP 101 (WebSocket handshake)            │
///│                                                      │
///│            -----  WebSocket frames -----             │
///│  ─────────────────────────────────────────────────►  │
///│                         2probe                       │ (ping packet)
///│  ◄─────────────────────────────────────────────────  │
///│                         3probe                       │ (pong packet)
///│  ─────────────────────────────────────────────────►  │
///│                         5                            │ (upgrade packet)
///│                                                      │
///│            -----  WebSocket frames -----             │
/// ```
#[cfg_attr(
    feature = "tracing",
    tracing::instrument(level = "trace", skip(socket, ws))
)]
async fn upgrade_handshake<H: EngineIoHandler, S>(
    socket: &Arc<Socket<H::Data>>,
    ws: &mut WebSocketStream<S>,
) -> Result<(), Error>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    #[cfg(feature = "tracing")]
    tracing::debug!("starting websocket connection upgrade");

    // The socket is upgrading, from now on all polling
    // request will return a `Packet::Noop`
    socket.start_upgrade();

    // We send a last Noop request to close a potential waiting polling request.
    // Queued even when the queue is full: it is what frees that request.
    socket
        .queue
        .force_send(Item::packet(Packet::Noop))
        .map_err(|_| Error::Upgrade)?;

    // wait for any current polling connection to finish by waiting for the socket to be unlocked
    // All other polling connection will be immediately closed with a NOOP packet.
    let _lock = socket.internal_rx.lock().await;

    // Fetch the next packet from the ws stream, it should be a PingUpgrade packet
    let msg = match ws.next().await {
        Some(Ok(Message::Text(d))) => d,
        _ => Err(Error::Upgrade)?,
    };
    match Packet::parse(socket.protocol, ws_bytes_to_str(msg))? {
        Packet::PingUpgrade => {
            #[cfg(feature = "tracing")]
            tracing::debug!("received first ping upgrade");
            // Respond with a PongUpgrade packet
            ws.send(Message::Text(String::from(Packet::PongUpgrade).into()))
                .await?;
        }
        p => Err(Error::BadPacket(p))?,
    };

    // Fetch the next packet from the ws stream, it should be an Upgrade packet
    let msg = match ws.next().await {
        Some(Ok(Message::Text(d))) => d,
        Some(Ok(Message::Close(_))) => {
            #[cfg(feature = "tracing")]
            tracing::debug!("ws stream closed before upgrade");
            Err(Error::Upgrade)?
        }
        _ => {
            #[cfg(feature = "tracing")]
            tracing::debug!("unexpected ws message before upgrade");
            Err(Error::Upgrade)?
        }
    };
    match Packet::parse(socket.protocol, ws_bytes_to_str(msg))? {
        Packet::Upgrade => {
            #[cfg(feature = "tracing")]
            tracing::debug!("ws upgraded successfully")
        }
        p => Err(Error::BadPacket(p))?,
    };

    socket.upgrade_to_websocket();
    Ok(())
}

fn ws_bytes_to_str(bytes: tungstenite::Utf8Bytes) -> Str {
    // SAFETY: the bytes are guaranteed to be valid UTF-8 by the tungstenite parser
    unsafe { Str::from_bytes_unchecked(bytes.into()) }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use bytes::Bytes;
    use futures_util::StreamExt;
    use http::Request;
    use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream};

    use super::*;

    const TIMEOUT: Duration = Duration::from_secs(1);

    #[derive(Debug)]
    struct StubHandler;
    impl EngineIoHandler for StubHandler {
        type Data = ();
        fn on_connect(self: Arc<Self>, _: Arc<Socket<()>>) {}
        fn on_disconnect(&self, _: Arc<Socket<()>>, _: DisconnectReason) {}
        fn on_message(self: &Arc<Self>, _: Str, _: Arc<Socket<()>>) {}
        fn on_binary(self: &Arc<Self>, _: Bytes, _: Arc<Socket<()>>) {}
    }

    fn socket() -> Arc<Socket<()>> {
        Arc::new(Socket::new(
            ProtocolVersion::V4,
            TransportType::Websocket,
            &EngineIoConfig::default(),
            Request::<()>::default().into_parts().0,
            Box::new(|_, _| ()),
            false,
        ))
    }

    /// The server's side as `setup` leaves it (the writer's wire, tungstenite's stream), and
    /// the client's end of the pipe.
    async fn server_pipe() -> (
        Wire<DuplexStream>,
        WebSocketStream<ReaderIo<DuplexStream>>,
        DuplexStream,
    ) {
        let (server, client) = tokio::io::duplex(1024);
        let (wire, server) = wire::split(server);
        let server = WebSocketStream::from_raw_socket(server, Role::Server, None).await;
        wire.hold();
        (wire, server, client)
    }

    async fn ws_pair() -> (Wire<DuplexStream>, WebSocketStream<DuplexStream>) {
        let (wire, _server, client) = server_pipe().await;
        let client = WebSocketStream::from_raw_socket(client, Role::Client, None).await;
        (wire, client)
    }

    /// The writer as `run` runs it, beside a reader that ends with the session, as the
    /// real one does.
    fn writer(
        socket: Arc<Socket<()>>,
        wire: Wire<DuplexStream>,
    ) -> impl Future<Output = ()> + Send {
        let closed = socket.cancellation_token.clone().cancelled_owned();
        let forward = |ended| forward_to_socket::<StubHandler, _>(socket, wire, ended);
        crate::transport::joined::joined(forward, closed)
    }

    /// A whole session, reader and writer, as `new_req` runs it; returns its socket and the
    /// client's end of the pipe, unread.
    async fn session() -> (Arc<Socket<()>>, DuplexStream) {
        let engine = Arc::new(EngineIo::new(
            Arc::new(StubHandler),
            EngineIoConfig::default(),
        ));
        let socket = engine.create_session(
            ProtocolVersion::V4,
            TransportType::Websocket,
            Request::<()>::default().into_parts().0,
            false,
        );
        let (tx, rx, client) = server_pipe().await;
        let session = WsSession {
            engine,
            socket: socket.clone(),
            tx,
            rx: Box::new(rx),
            heartbeat: None,
        };
        tokio::spawn(run(session));
        (socket, client)
    }

    /// One masked client frame.
    fn client_frame(opcode: u8, payload: &[u8]) -> Vec<u8> {
        let mask = [1, 2, 3, 4];
        assert!(payload.len() < 126);
        let mut out = vec![0x80 | opcode, 0x80 | payload.len() as u8];
        out.extend_from_slice(&mask);
        out.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
        out
    }

    /// Everything the server writes until it closes the stream.
    async fn read_to_end(mut client: DuplexStream) -> Vec<u8> {
        let mut all = Vec::new();
        tokio::time::timeout(TIMEOUT + CLOSE_TIMEOUT, client.read_to_end(&mut all))
            .await
            .expect("the server should close the stream")
            .unwrap();
        all
    }

    #[tokio::test]
    async fn a_volatile_packet_reaches_a_waiting_writer() {
        let socket = socket();
        let (wire, mut client) = ws_pair().await;
        let _writer = tokio::spawn(writer(socket.clone(), wire));
        tokio::time::sleep(Duration::from_millis(20)).await;

        socket.emit_volatile("fresh");
        let msg = tokio::time::timeout(TIMEOUT, client.next())
            .await
            .expect("the writer should send the volatile packet")
            .unwrap()
            .unwrap();
        assert_eq!(msg, Message::text("4fresh"));
    }

    #[tokio::test]
    async fn a_writer_blocked_on_a_peer_that_does_not_read_stops_with_the_session() {
        let socket = socket();
        let (wire, _client) = ws_pair().await;
        let writer = tokio::spawn(writer(socket.clone(), wire));
        // Far more than the 1 KiB pipe holds: the stream blocks, the client never reads.
        for _ in 0..100 {
            socket.emit(Str::from("x".repeat(100))).unwrap();
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(
            !writer.is_finished(),
            "the writer should be blocked writing"
        );

        socket.cancellation_token.cancel();
        tokio::time::timeout(TIMEOUT + CLOSE_TIMEOUT, writer)
            .await
            .expect("the writer should stop")
            .unwrap();
    }

    #[tokio::test]
    async fn packets_past_one_write_arrive_whole_and_in_order() {
        let socket = socket();
        let (wire, mut client) = ws_pair().await;
        let _writer = tokio::spawn(writer(socket.clone(), wire));
        // 100 KiB: more than one batch, and many times what the pipe holds.
        let sent: Vec<String> = (0..100)
            .map(|i| format!("{i:04}{}", "y".repeat(1020)))
            .collect();
        for text in &sent {
            socket.emit(Str::from(text.clone())).unwrap();
        }
        for text in &sent {
            let msg = tokio::time::timeout(TIMEOUT, client.next())
                .await
                .expect("the writer should send every packet")
                .unwrap()
                .unwrap();
            assert_eq!(msg, Message::text(format!("4{text}")));
        }
    }

    #[tokio::test]
    async fn a_ping_is_answered_between_the_packets_the_writer_sends() {
        let (socket, client) = session().await;
        let mut client = WebSocketStream::from_raw_socket(client, Role::Client, None).await;
        for i in 0..20 {
            socket
                .emit(Str::from(format!("{i}{}", "z".repeat(200))))
                .unwrap();
        }
        client
            .send(Message::Ping(Bytes::from_static(b"are you there").into()))
            .await
            .unwrap();
        for i in 20..40 {
            socket
                .emit(Str::from(format!("{i}{}", "z".repeat(200))))
                .unwrap();
        }

        let mut texts = Vec::new();
        let mut pongs = Vec::new();
        while texts.len() < 40 || pongs.is_empty() {
            let msg = tokio::time::timeout(TIMEOUT, client.next())
                .await
                .expect("the server should send every packet and the pong")
                .expect("the stream should stay open")
                .expect("every frame should be whole");
            match msg {
                Message::Text(text) => texts.push(text.to_string()),
                Message::Pong(payload) => pongs.push(payload),
                other => panic!("unexpected {other:?}"),
            }
        }
        let expected: Vec<String> = (0..40)
            .map(|i| format!("4{i}{}", "z".repeat(200)))
            .collect();
        assert_eq!(texts, expected);
        assert_eq!(pongs, [Bytes::from_static(b"are you there")]);
    }

    /// Nothing else is sent: the pong goes out only if tungstenite's write wakes the writer.
    #[tokio::test]
    async fn a_ping_on_an_idle_session_is_answered() {
        let (_socket, client) = session().await;
        let mut client = WebSocketStream::from_raw_socket(client, Role::Client, None).await;
        client
            .send(Message::Ping(Bytes::from_static(b"idle?").into()))
            .await
            .unwrap();
        let msg = tokio::time::timeout(TIMEOUT, client.next())
            .await
            .expect("the server should answer the ping")
            .unwrap()
            .unwrap();
        assert_eq!(msg, Message::Pong(Bytes::from_static(b"idle?").into()));
    }

    #[tokio::test]
    async fn a_peers_close_is_answered_by_one_close_frame() {
        let (_socket, mut client) = session().await;
        client
            .write_all(&client_frame(0x8, &[0x03, 0xe8]))
            .await
            .unwrap();

        // The open packet was sent by the handshake, which this session skipped: the reply
        // to the close (echoing its code, 1000) is all the server writes.
        assert_eq!(read_to_end(client).await, [0x88, 2, 0x03, 0xe8]);
    }

    #[tokio::test]
    async fn a_session_the_server_closes_ends_with_one_close_frame() {
        let (socket, client) = session().await;
        socket.emit(Str::from("bye")).unwrap();
        tokio::time::sleep(Duration::from_millis(20)).await;
        socket.close(DisconnectReason::TransportClose);

        // The message, Engine.IO's close packet, then the websocket's close frame.
        let mut expected = vec![0x81, 4];
        expected.extend_from_slice(b"4bye");
        expected.extend_from_slice(&[0x81, 1, b'1', 0x88, 0]);
        assert_eq!(read_to_end(client).await, expected);
    }

    /// A polling request can still hold the lock at the end of an upgrade.
    #[tokio::test]
    async fn writer_waits_for_the_lock_of_a_polling_request() {
        let socket = socket();
        let (wire, mut client) = ws_pair().await;

        let polling = socket.internal_rx.lock().await;
        let writer = tokio::spawn(writer(socket.clone(), wire));
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(!writer.is_finished(), "the writer should wait for the lock");

        drop(polling);
        socket.emit(Str::from("hello")).unwrap();
        let msg = tokio::time::timeout(TIMEOUT, client.next())
            .await
            .expect("the writer should send the packet")
            .unwrap()
            .unwrap();
        assert_eq!(msg, Message::text("4hello"));
    }

    #[tokio::test]
    async fn writer_waiting_for_the_lock_stops_with_the_session() {
        let socket = socket();
        let (wire, _client) = ws_pair().await;

        let _polling = socket.internal_rx.lock().await;
        let writer = tokio::spawn(writer(socket.clone(), wire));
        tokio::time::sleep(Duration::from_millis(20)).await;

        socket.cancellation_token.cancel();
        tokio::time::timeout(TIMEOUT, writer)
            .await
            .expect("the writer should stop")
            .unwrap();
    }
}
