//! Cluster mode (`--redis`): several processes as one chat. PostgreSQL
//! holds history and assigns each room's seqs; Redis carries the bus
//! between processes and holds presence. `docs/cluster.md` has the design:
//! what goes where, how order, presence and failures work.
//!
//! - [`bus`]: publishes this process's messages and typing, and hands the
//!   others' to the socket layer (which orders messages by seq itself).
//! - [`directory`]: presence in Redis, changed by atomic Lua calls.
//! - [`heartbeat`]: this process's liveness, and removal of dead ones'
//!   users.

mod bus;
mod directory;
mod heartbeat;

pub use directory::RedisDirectory;

use crate::metrics::Metrics;
use crate::realtime::peers::{FromPeers, Peers};
use crate::realtime::presence::{ChangeSink, Directory};
use rand::RngCore;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{Client, Script, ScriptInvocation};
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;

/// How long a Redis request may take before it counts as failed, so that
/// an outage answers `unavailable` quickly instead of hanging.
const REDIS_TIMEOUT: Duration = Duration::from_secs(2);

#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    #[error("cannot use Redis at {url}: {source}")]
    Connect {
        url: String,
        #[source]
        source: redis::RedisError,
    },
}

/// What every part of the cluster shares: the Redis link, the key prefix
/// and this process's node id.
pub struct Link {
    client: Client,
    redis: ConnectionManager,
    prefix: String,
    /// Random per start: a restarted process is a new node, so a reaper
    /// never confuses it with the one that died.
    node: String,
    lua: Script,
    metrics: Arc<Metrics>,
}

impl Link {
    fn key(&self, name: &str) -> String {
        format!("{}:{name}", self.prefix)
    }

    /// An invocation of the presence script for `op`.
    fn script(&self, op: &str) -> ScriptInvocation<'_> {
        let mut invocation = self.lua.prepare_invoke();
        invocation.arg(&self.prefix).arg(op);
        invocation
    }
}

/// This process's membership of the cluster.
pub struct Cluster {
    link: Arc<Link>,
    directory: Arc<RedisDirectory>,
    peers: Arc<bus::Publisher>,
}

impl Cluster {
    /// Connects to Redis; fails at once if it does not answer.
    pub async fn connect(
        url: &str,
        prefix: &str,
        metrics: Arc<Metrics>,
    ) -> Result<Self, ClusterError> {
        let failed = |source| ClusterError::Connect { url: url.to_owned(), source };
        let client = Client::open(url).map_err(failed)?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(REDIS_TIMEOUT))
            .set_response_timeout(Some(REDIS_TIMEOUT))
            .set_number_of_retries(1)
            .set_max_delay(Duration::from_millis(500));
        let redis = client.get_connection_manager_with_config(config).await.map_err(failed)?;
        let mut bytes = [0u8; 8];
        rand::thread_rng().fill_bytes(&mut bytes);
        let node = bytes.iter().map(|b| format!("{b:02x}")).collect();
        metrics.cluster.enabled.store(true, Relaxed);
        metrics.cluster.redis_connected.store(true, Relaxed);
        let lua = Script::new(include_str!("presence.lua"));
        let link = Arc::new(Link { client, redis, prefix: prefix.to_owned(), node, lua, metrics });
        tracing::info!(node = %link.node, prefix, "cluster mode");
        let directory = RedisDirectory::spawn(Arc::clone(&link));
        let peers = bus::Publisher::spawn(Arc::clone(&link));
        Ok(Self { link, directory, peers })
    }

    pub fn directory(&self) -> Arc<dyn Directory> {
        self.directory.clone()
    }

    pub fn peers(&self) -> Arc<dyn Peers> {
        self.peers.clone()
    }

    /// Starts listening to the other processes and heartbeating.
    pub fn start(&self, from_peers: Arc<dyn FromPeers>, changes: ChangeSink) {
        bus::subscribe(Arc::clone(&self.link), Arc::clone(&from_peers), changes);
        heartbeat::spawn(Arc::clone(&self.link), from_peers);
    }

    /// A clean shutdown: this process's users leave every room at once
    /// rather than when the others notice it is gone.
    pub async fn leave(&self) {
        if let Err(error) = heartbeat::reap_self(&self.link).await {
            tracing::warn!(%error, "could not remove this process's users from Redis");
        }
    }
}
