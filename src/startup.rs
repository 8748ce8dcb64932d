//! Wiring: open the store, build the Socket.IO and HTTP services, bind.

use crate::cluster::Cluster;
use crate::config::Config;
use crate::http::edge::Edge;
use crate::http::serve::{self, Serving};
use crate::http::{HttpState, router, sticky};
use crate::identity::Keyring;
use crate::metrics::Metrics;
use crate::realtime::peers::Alone;
use crate::realtime::presence::LocalDirectory;
use crate::realtime::{self, Backing};
use crate::store::{self, Store};
use anyhow::Context;
use socketioxide::SocketIo;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;

/// Packets a connection may have queued before it counts as too slow.
const MAX_QUEUED_PACKETS: usize = 1024;

/// Each websocket's read buffer. Chat packets are small; 1 KiB instead of
/// the default 4 KiB saves ~3 KiB per idle connection (bench `idle`), and
/// larger packets are still read, in more steps.
const WS_READ_BUFFER: usize = 1024;

/// How long a shutdown may take, from the signal to the exit.
const SHUTDOWN_LIMIT: Duration = Duration::from_secs(9);

/// How long acks may take to reach the wire before transports close.
const ACK_FLUSH: Duration = Duration::from_millis(200);

/// Most bytes one long-polling response carries. Without it a response
/// carries at most `--max-payload` (a bound meant for what clients send),
/// so a polling client in a busy room gets a few messages per round trip,
/// falls behind and is closed as too slow while websocket clients keep up.
const POLL_RESPONSE_LIMIT: u64 = 1024 * 1024;

/// Each connection's kernel send buffer (Linux doubles it for bookkeeping).
const TCP_SEND_BUFFER: usize = 128 * 1024;

/// A built server, bound but not yet serving.
pub struct App {
    listener: TcpListener,
    router: axum::Router,
    address: SocketAddr,
    io: SocketIo,
    cluster: Option<Arc<Cluster>>,
    writer: realtime::writer::Handle,
    metrics: Arc<Metrics>,
    request_timeout: Duration,
}

impl App {
    /// Opens the database and binds the listener, so that errors surface
    /// before anything is served and tests can read the port.
    pub async fn build(config: Config) -> anyhow::Result<Self> {
        let store = store::open(&config.database).await?;
        Self::build_with_store(config, store).await
    }

    /// Builds on a store opened elsewhere (tests use this to fake outages).
    pub async fn build_with_store(config: Config, store: Arc<dyn Store>) -> anyhow::Result<Self> {
        let keyring = Keyring::new(store.secret().await?);
        let metrics = Arc::new(Metrics::default());
        let builder = SocketIo::builder()
            .max_payload(config.max_payload)
            .max_polling_response(POLL_RESPONSE_LIMIT.max(config.max_payload))
            .ws_max_message_size(config.max_payload as usize)
            .ws_max_frame_size(config.max_payload as usize)
            .max_buffer_size(MAX_QUEUED_PACKETS)
            .connect_timeout(config.connect_timeout())
            .ws_read_buffer_size(WS_READ_BUFFER);
        let (changes_tx, changes) = tokio::sync::mpsc::unbounded_channel();
        let cluster = match &config.redis {
            Some(url) => {
                let cluster =
                    Cluster::connect(url, &config.redis_prefix, Arc::clone(&metrics)).await?;
                Some(Arc::new(cluster))
            }
            None => None,
        };
        let backing = match &cluster {
            Some(cluster) => Backing {
                store: Arc::clone(&store),
                directory: cluster.directory(),
                changes,
                peers: cluster.peers(),
                shared: true,
            },
            None => Backing {
                store: Arc::clone(&store),
                directory: LocalDirectory::new(changes_tx.clone()),
                changes,
                peers: Arc::new(Alone),
                shared: false,
            },
        };
        let built = realtime::build(builder, backing, keyring, Arc::clone(&metrics), &config);
        if let Some(cluster) = &cluster {
            cluster.start(built.from_peers, changes_tx);
        }
        let (io, writer) = (built.io, built.writer);
        let edge = Edge::new(&config, Arc::clone(&metrics));
        let state = HttpState { store, metrics: Arc::clone(&metrics), presence: built.presence };
        let mut app = router(state).layer(built.layer);
        if let Some(node) = &config.node_name {
            app = sticky::layer(app, node);
        }
        let router = edge.wrap(app);
        let listener = TcpListener::bind(config.listen)
            .await
            .with_context(|| format!("cannot listen on {}", config.listen))?;
        let address = listener.local_addr()?;
        let request_timeout = config.request_timeout();
        Ok(Self { listener, router, address, io, cluster, writer, metrics, request_timeout })
    }

    pub fn address(&self) -> SocketAddr {
        self.address
    }

    pub fn port(&self) -> u16 {
        self.address.port()
    }

    /// Serves until `shutdown` completes.
    pub async fn run_until_stopped(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let (io, cluster, writer) = (self.io, self.cluster, self.writer);
        // The signal stops accepting at once; the clean exit runs beside
        // the connections still open, and the process waits for it.
        let (signalled, signal) = tokio::sync::oneshot::channel::<()>();
        let clock = Arc::new(tokio::sync::Notify::new());
        let started = Arc::clone(&clock);
        let stopping = async move {
            shutdown.await;
            tracing::info!("shutting down");
            let _ = signalled.send(());
            started.notify_one();
        };
        let cleanup = tokio::spawn(async move {
            if signal.await.is_ok() {
                leave_cleanly(io, cluster, writer).await;
            }
        });
        let serving = Serving {
            router: self.router,
            head_timeout: self.request_timeout,
            metrics: self.metrics,
        };
        let exit = async {
            serve::serve(self.listener, serving, tune, stopping).await;
            let _ = cleanup.await;
        };
        // Whatever a client does, the process is gone within the limit.
        let limit = async {
            clock.notified().await;
            tokio::time::sleep(SHUTDOWN_LIMIT).await;
        };
        tokio::select! {
            () = exit => {}
            () = limit => tracing::warn!("connections still open at the shutdown limit; exiting"),
        }
        Ok(())
    }
}

/// A clean exit: what was sent before the signal is committed and acked,
/// this process's users leave at once (in a cluster), and every transport
/// is closed so clients reconnect, elsewhere if there is an elsewhere.
async fn leave_cleanly(
    io: SocketIo,
    cluster: Option<Arc<Cluster>>,
    writer: realtime::writer::Handle,
) {
    writer.flush().await;
    tokio::time::sleep(ACK_FLUSH).await;
    if let Some(cluster) = cluster {
        cluster.leave().await;
    }
    io.close().await;
}

fn tune(tcp: &tokio::net::TcpStream) {
    // Without TCP_NODELAY each small message waits ~40 ms for an ACK.
    if let Err(error) = tcp.set_nodelay(true) {
        tracing::warn!(%error, "cannot set TCP_NODELAY");
    }
    // A fixed send buffer, instead of one the kernel grows to megabytes: a
    // reader that stalls is noticed (and closed) after a bounded backlog,
    // and kernel memory per connection stays small.
    if let Err(error) = socket2::SockRef::from(tcp).set_send_buffer_size(TCP_SEND_BUFFER) {
        tracing::warn!(%error, "cannot set SO_SNDBUF");
    }
}
