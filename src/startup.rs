//! Wiring: open the store, build the Socket.IO and HTTP services, bind.

use crate::config::Config;
use crate::http::{HttpState, router, sticky};
use crate::identity::Keyring;
use crate::metrics::Metrics;
use crate::realtime;
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
            .ws_read_buffer_size(WS_READ_BUFFER);
        let (layer, io, presence) =
            realtime::build(builder, Arc::clone(&store), keyring, Arc::clone(&metrics), &config);
        let mut router = router(HttpState { store, metrics, presence }).layer(layer);
        if let Some(node) = &config.node_name {
            router = sticky::layer(router, node);
        }
        let listener = TcpListener::bind(config.listen)
            .await
            .with_context(|| format!("cannot listen on {}", config.listen))?;
        let address = listener.local_addr()?;
        Ok(Self { listener, router, address, io })
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
        let io = self.io;
        let stopping = async move {
            shutdown.await;
            io.close().await;
        };
        axum::serve(listener, self.router).with_graceful_shutdown(stopping).await?;
        Ok(())
    }
}
