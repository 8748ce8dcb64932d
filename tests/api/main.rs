//! Integration tests: the real server on port 0 with a fresh database.

mod cli;
mod health;
mod helpers;
mod protocol;
mod sticky;
mod store;
mod web;
