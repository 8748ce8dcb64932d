//! Liveness: each process stamps its node in Redis every
//! [`BEAT`]; each process also looks for nodes silent for [`DEAD_AFTER`]
//! and removes their users from every room (with `presence` events to
//! everyone), so a process that died is gone from presence well within
//! 30 s. Removal is one atomic script, so two reapers never double it.

use super::Link;
use crate::realtime::peers::FromPeers;
use redis::RedisError;
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;

const BEAT: Duration = Duration::from_secs(2);
const DEAD_AFTER: Duration = Duration::from_secs(10);

pub fn spawn(link: Arc<Link>, from_peers: Arc<dyn FromPeers>) {
    tokio::spawn(async move {
        let mut redis = link.redis.clone();
        let mut first = true;
        let mut ticks = tokio::time::interval(BEAT);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            let beat: Result<i64, RedisError> =
                link.script("heartbeat").arg(&link.node).invoke_async(&mut redis).await;
            match beat {
                Ok(known) => {
                    link.metrics.cluster.heartbeats.fetch_add(1, Relaxed);
                    // A process stalled past DEAD_AFTER was reaped while
                    // alive: put its users back, announced.
                    if known == 0 && !std::mem::take(&mut first) {
                        tracing::warn!("this process was taken for dead; restoring its users");
                        from_peers.reaped();
                    }
                    first = false;
                }
                Err(error) => {
                    tracing::warn!(%error, "heartbeat failed");
                    continue;
                }
            }
            let dead: Result<Vec<String>, RedisError> = link
                .script("reap_dead")
                .arg(DEAD_AFTER.as_millis() as u64)
                .invoke_async(&mut redis)
                .await;
            match dead {
                Ok(dead) if !dead.is_empty() => {
                    tracing::warn!(?dead, "removed the users of processes that stopped answering");
                    link.metrics.cluster.nodes_reaped.fetch_add(dead.len() as u64, Relaxed);
                }
                Ok(_) => {}
                Err(error) => tracing::warn!(%error, "reaping dead processes failed"),
            }
        }
    });
}

pub async fn reap_self(link: &Link) -> Result<(), RedisError> {
    let mut redis = link.redis.clone();
    let _: i64 = link.script("reap").arg(&link.node).invoke_async(&mut redis).await?;
    Ok(())
}
