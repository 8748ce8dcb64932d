//! The benchmark's load generator: one process holding thousands of
//! Socket.IO connections (bench/README.md). It obeys bench/run.mjs: one
//! JSON command per line on stdin, `{ "id", "cmd", ...args }`, answered by
//! one JSON line on stdout, `{ "id", ...result }` or `{ "id", "error" }`.
//! Commands run concurrently (a `send` goes on while `window` and
//! `windowResult` come in). Clients are numbered globally so the harness
//! can pick senders, rooms and the presence watcher by number.
//!
//!   baat-chit-loadgen [--threads 2]

mod client;
mod commands;
mod stats;

use std::sync::Arc;

use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::sync::mpsc;

fn main() -> std::io::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let threads = args
        .iter()
        .position(|a| a == "--threads")
        .and_then(|i| args.get(i + 1)?.parse().ok())
        .unwrap_or(2);
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads)
        .enable_all()
        .build()?
        .block_on(serve())
}

async fn serve() -> std::io::Result<()> {
    let generator = Arc::new(commands::Generator::default());
    let (replies, mut outbox) = mpsc::unbounded_channel::<Value>();
    let writer = tokio::spawn(async move {
        let mut stdout = tokio::io::stdout();
        while let Some(reply) = outbox.recv().await {
            let line = format!("{reply}\n");
            if stdout.write_all(line.as_bytes()).await.is_err() || stdout.flush().await.is_err() {
                break;
            }
        }
    });
    let mut lines = BufReader::new(tokio::io::stdin()).lines();
    while let Some(line) = lines.next_line().await? {
        let Ok(command) = serde_json::from_str::<Value>(&line) else { continue };
        let generator = Arc::clone(&generator);
        let replies = replies.clone();
        tokio::spawn(async move {
            let id = command.get("id").cloned().unwrap_or(Value::Null);
            let name = command.get("cmd").and_then(Value::as_str).unwrap_or_default().to_owned();
            let mut reply = match generator.run(&name, &command).await {
                Ok(result) => result,
                Err(error) => json!({ "error": error }),
            };
            if let Some(fields) = reply.as_object_mut() {
                fields.insert("id".into(), id);
            }
            let _ = replies.send(reply);
            if name == "close" {
                tokio::time::sleep(std::time::Duration::from_millis(200)).await;
                std::process::exit(0);
            }
        });
    }
    // The harness went away: leave.
    drop(replies);
    let _ = writer.await;
    Ok(())
}
