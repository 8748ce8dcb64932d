//! The `baat-chit` binary: configure, build, serve until Ctrl-C or SIGTERM.

use baat_chit::{config::Config, startup::App, telemetry};
use std::process::ExitCode;

// Every broadcast allocates on the thread that sends it and frees on the
// connections' writer threads; glibc's malloc serialises that on its arena
// locks (bench S1's profile: malloc, free and their futex waits were a
// quarter of the server's time). jemalloc's thread caches do not, and its
// idle footprint is the same (S4: 15.1 KiB per connection either way).
#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

#[tokio::main]
async fn main() -> ExitCode {
    telemetry::init();
    let config = Config::load();
    let app = match App::build(config).await {
        Ok(app) => app,
        Err(error) => {
            eprintln!("baat-chit: {error:#}");
            return ExitCode::FAILURE;
        }
    };
    // Tests and scripts wait for this line to learn the bound port.
    println!("baat-chit listening on http://{}", app.address());
    match app.run_until_stopped(shutdown_signal()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("baat-chit: {error:#}");
            ExitCode::FAILURE
        }
    }
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            tokio::select! { _ = ctrl_c => {}, _ = term.recv() => {} }
            return;
        }
    }
    let _ = ctrl_c.await;
}
