//! Wiring: open the store, build the Socket.IO and HTTP services, bind.

use crate::cluster::Cluster;
use crate::config::Config;
use crate::http::edge::Edge;
use crate::http::{HttpState, router};
use crate::identity::Keyring;
use crate::metrics::Metrics;
use crate::realtime::peers::Alone;
use crate::realtime::presence::LocalDirectory;
use crate::realtime::{self, Backing};
use crate::store::{self, Store};
use anyhow::Context;
use axum::serve::ListenerExt;
use socketioxide::SocketIo;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::net::TcpListener;

/// Packets a connection may have queued before it counts as too slow.
const MAX_QUEUED_PACKETS: usize = 1024;

/// Each websocket's read buffer. Chat packets are small; 1 KiB instead of
/// the default 4 KiB saves ~3 KiB per idle connection (bench `idle`), and
/// larger packets are still read, in more steps.
const WS_READ_BUFFER: usize = 1024;

/// A built server, bound but not yet serving.
pub struct App {
    listener: TcpListener,
    router: axum::Router,
    address: SocketAddr,
    io: SocketIo,
    cluster: Option<Arc<Cluster>>,
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
            },
            None => Backing {
                store: Arc::clone(&store),
                directory: LocalDirectory::new(changes_tx.clone()),
                changes,
                peers: Arc::new(Alone),
            },
        };
        let built = realtime::build(builder, backing, keyring, Arc::clone(&metrics), &config);
        if let Some(cluster) = &cluster {
            cluster.start(built.from_peers, changes_tx);
        }
        let io = built.io;
        let edge = Edge::new(&config, Arc::clone(&metrics));
        let app = router(HttpState { store, metrics, presence: built.presence }).layer(built.layer);
        let router = edge.wrap(app);
        let listener = TcpListener::bind(config.listen)
            .await
            .with_context(|| format!("cannot listen on {}", config.listen))?;
        let address = listener.local_addr()?;
        Ok(Self { listener, router, address, io, cluster })
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
        // Without TCP_NODELAY each small message waits ~40 ms for an ACK.
        let listener = self.listener.tap_io(|tcp| {
            if let Err(error) = tcp.set_nodelay(true) {
                tracing::warn!(%error, "cannot set TCP_NODELAY");
            }
        });
        // Close every socket's transport on the way out: clients treat that
        // as a blip and reconnect, and upgraded websockets are not left open.
        let (io, cluster) = (self.io, self.cluster);
        let stopping = async move {
            shutdown.await;
            if let Some(cluster) = cluster {
                cluster.leave().await;
            }
            io.close().await;
        };
        // The edge counts connections by the peer address.
        let service = self.router.into_make_service_with_connect_info::<SocketAddr>();
        axum::serve(listener, service).with_graceful_shutdown(stopping).await?;
        Ok(())
    }
}
