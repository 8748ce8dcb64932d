//! `spawn_app()`: a real server bound to 127.0.0.1:0 over a fresh SQLite
//! file, stopped when the handle is dropped.

use baat_chit::config::Config;
use baat_chit::startup::App;
use baat_chit::store::Store;
use clap::Parser;
use std::sync::Arc;
use tempfile::TempDir;
use tokio::sync::oneshot;

pub struct TestApp {
    pub address: String,
    pub client: reqwest::Client,
    stop: oneshot::Sender<()>,
    _dir: TempDir,
}

impl TestApp {
    /// Tells the server to stop, as SIGTERM does (dropping the handle too).
    pub fn shut_down(self) {
        let _ = self.stop.send(());
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client.get(format!("{}{path}", self.address)).send().await.expect("the server answers")
    }
}

/// A fresh data folder and a config pointing into it, plus extra flags.
pub fn test_config(flags: &[&str]) -> (Config, TempDir) {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let database = format!("sqlite://{}", dir.path().join("test.db").display());
    let base = ["baat-chit", "--listen", "127.0.0.1:0", "--database", &database];
    let config = Config::parse_from(base.iter().chain(flags));
    (config, dir)
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(&[]).await
}

/// Spawns an app started with extra command-line flags.
pub async fn spawn_app_with(flags: &[&str]) -> TestApp {
    let (config, dir) = test_config(flags);
    let app = App::build(config).await.expect("the app builds");
    serve(app, dir)
}

/// Spawns an app on a given store, e.g. one that fails on purpose.
pub async fn spawn_app_with_store(store: Arc<dyn Store>) -> TestApp {
    let (config, dir) = test_config(&[]);
    let app = App::build_with_store(config, store).await.expect("the app builds");
    serve(app, dir)
}

fn serve(app: App, dir: TempDir) -> TestApp {
    let address = format!("http://{}", app.address());
    let (stop, stopped) = oneshot::channel::<()>();
    tokio::spawn(app.run_until_stopped(async move {
        let _ = stopped.await;
    }));
    TestApp { address, client: reqwest::Client::new(), stop, _dir: dir }
}
