//! Connecting and disconnecting: who a connection is (its session token)
//! and what leaving looks like to the rooms it was in.

use super::dispatch::Dispatch;
use super::presence::Departure;
use super::{Conn, Hub, direct, events, groups};
use crate::domain::UserId;
use serde_json::json;
use socketioxide::adapter::Adapter;
use socketioxide::extract::{SocketRef, State, TryData};
use socketioxide::socket::DisconnectReason;
use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;

/// Runs before the connection is accepted, so every handler is in place
/// before the client can send its first event. A missing or bad token is
/// not an error: the connection simply becomes a new user.
pub async fn identify<A: Adapter>(
    s: SocketRef<A>,
    State(hub): State<Hub<A>>,
    TryData(auth): TryData<serde_json::Value>,
) -> Result<(), Infallible> {
    let auth = auth.ok();
    let known = auth
        .as_ref()
        .and_then(|auth| auth.get("token")?.as_str().map(str::to_owned))
        .and_then(|token| hub.keyring.verify(&token));
    let user = known.unwrap_or_else(UserId::random);
    let protocol = protocol(auth.as_ref());
    s.extensions.insert(Arc::new(Conn::new(user, protocol, &hub.limits)));
    // One handler for every contract event, not one each (see `dispatch`).
    s.on_fallback(Dispatch);
    s.on_disconnect(on_disconnect::<A>);
    Ok(())
}

/// The contract version `auth.protocol` asks for: 2 if it says 2 (or
/// more), otherwise 1, so clients that know nothing of versions keep
/// today's events.
fn protocol(auth: Option<&serde_json::Value>) -> u8 {
    let asked = auth.and_then(|auth| auth.get("protocol")?.as_u64()).unwrap_or(1);
    if asked >= 2 { 2 } else { 1 }
}

/// Tells the connection who it is; the token goes to its owner only.
pub async fn on_connect<A: Adapter>(s: SocketRef<A>, State(hub): State<Hub<A>>) {
    hub.metrics.connections.fetch_add(1, Relaxed);
    let Some(conn) = s.extensions.get::<Arc<Conn>>() else {
        return;
    };
    if conn.v2() {
        // Where `conversation` and `read` events reach this user's connections.
        groups::join(&s, direct::user_group(conn.user));
    }
    let session = json!({ "userId": conn.user, "token": hub.keyring.issue(conn.user) });
    if let Err(error) = s.emit(events::SESSION, &session) {
        tracing::debug!(%error, "session not sent");
    }
}

/// A client that said goodbye leaves at once; a connection that merely
/// dropped keeps its user present for the grace period.
async fn on_disconnect<A: Adapter>(
    s: SocketRef<A>,
    State(hub): State<Hub<A>>,
    reason: DisconnectReason,
) {
    hub.metrics.connections.fetch_sub(1, Relaxed);
    // socketioxide takes it out of its groups once this handler is done;
    // the stream lets go of it now.
    groups::changed();
    hub.streams.departed();
    // Removed, so the connection's share of its user's allowance goes with
    // it (a user with no connection left keeps no bucket).
    let Some(conn) = s.extensions.remove::<Arc<Conn>>() else {
        return;
    };
    let how = match reason {
        DisconnectReason::ClientNSDisconnect => Departure::Now,
        _ => Departure::AfterGrace,
    };
    for room in conn.take_rooms() {
        hub.presence.leave(&room, conn.user, s.id, how);
    }
}
