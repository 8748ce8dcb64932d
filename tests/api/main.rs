//! Integration tests: the real server on port 0 with a fresh database.

mod cli;
mod health;
mod helpers;
mod junk;
mod no_panics;
mod panics;
mod protocol;
mod shutdown;
mod sio;
mod sticky;
mod store;
mod timeouts;
mod web;
