//! Baat-Chit: a self-hosted realtime chat server speaking Socket.IO v4, so
//! the official `socket.io-client` works against it unchanged.
//!
//! # Layout
//!
//! - [`config`]: defaults < `BAATCHIT_*` environment < command-line flags.
//! - [`domain`]: validated values (room names, display names, message text,
//!   emoji) and a room's log: messages and changes to them; raw client
//!   input becomes these once, at the edge.
//! - [`realtime`]: the Socket.IO event contract (versions 1 and 2), one
//!   file per concern; presence, typing, the per-person limits, and the
//!   writer that commits messages and changes for the room streams to
//!   deliver in seq order.
//! - [`store`]: history behind the [`store::Store`] trait: SQLite embedded,
//!   or PostgreSQL shared by several processes; messages in their current
//!   state, their reactions, and the log of changes.
//! - [`cluster`]: several processes as one chat over Redis (`--redis`).
//! - [`identity`]: signed session tokens.
//! - [`http`]: the web app's files, `/healthz`, `/metrics`; the edge guard
//!   in front of everything (origins, connections per address, sizes).
//! - [`metrics`]: counters rendered for Prometheus.
//! - [`startup`]: wires it all and binds; `main.rs` only runs it.

pub mod cluster;
pub mod config;
pub mod domain;
pub mod http;
pub mod identity;
pub mod metrics;
pub mod realtime;
pub mod startup;
pub mod store;
pub mod telemetry;
