//! A fresh, empty database of either backend for one test, removed when the
//! test ends (even when it fails).

use baat_chit::store::{self, Store};
use sqlx::migrate::Migrator;
use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{Connection, PgConnection, PgPool, SqlitePool};
use std::str::FromStr;
use std::sync::Arc;
use tempfile::TempDir;

/// Where the machine's PostgreSQL is (trust auth), overridable for other
/// machines with `BAATCHIT_TEST_POSTGRES`.
const POSTGRES: &str = "postgres://postgres@127.0.0.1:5432";

fn postgres_server() -> String {
    std::env::var("BAATCHIT_TEST_POSTGRES").unwrap_or_else(|_| POSTGRES.to_owned())
}

#[derive(Debug, Clone, Copy)]
pub enum Backend {
    Sqlite,
    Postgres,
}

pub struct TestDatabase {
    url: String,
    backend: Backend,
    _cleanup: Cleanup,
}

enum Cleanup {
    /// The SQLite file's folder, removed when dropped.
    Folder {
        _dir: TempDir,
    },
    Postgres {
        server: String,
        name: String,
    },
}

impl TestDatabase {
    pub async fn new(backend: Backend) -> Self {
        match backend {
            Backend::Sqlite => {
                let dir = tempfile::tempdir().expect("a temporary folder");
                let url = format!("sqlite://{}", dir.path().join("store.db").display());
                Self { url, backend, _cleanup: Cleanup::Folder { _dir: dir } }
            }
            Backend::Postgres => {
                let server = postgres_server();
                let name = format!("baatchit_test_{:016x}", rand::random::<u64>());
                let mut admin = admin_connection(&server).await;
                sqlx::query(&format!("CREATE DATABASE {name}"))
                    .execute(&mut admin)
                    .await
                    .expect("a fresh test database");
                let url = format!("{server}/{name}");
                Self { url, backend, _cleanup: Cleanup::Postgres { server, name } }
            }
        }
    }

    /// A store on this database with a pool of its own, as another process
    /// would have: several of them write to the same database.
    pub async fn open(&self) -> Arc<dyn Store> {
        store::open(&self.url).await.expect("the store opens")
    }

    /// Runs the backend's migrations up to number `last` only, as an older
    /// server would have left the database.
    pub async fn migrate_to(&self, last: u32) {
        let folder = match self.backend {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        };
        let source =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations").join(folder);
        let older = tempfile::tempdir().expect("a temporary folder");
        for entry in std::fs::read_dir(source).expect("the migrations") {
            let path = entry.expect("an entry").path();
            let name = path.file_name().and_then(|n| n.to_str()).unwrap_or_default().to_owned();
            if name.get(..4).and_then(|n| n.parse::<u32>().ok()).is_some_and(|n| n <= last) {
                std::fs::copy(&path, older.path().join(name)).expect("copied");
            }
        }
        let migrator = Migrator::new(older.path()).await.expect("the older migrations");
        match self.backend {
            Backend::Sqlite => {
                let options = SqliteConnectOptions::from_str(&self.url)
                    .expect("a URL")
                    .create_if_missing(true);
                let pool = SqlitePool::connect_with(options).await.expect("opened");
                migrator.run(&pool).await.expect("migrated");
            }
            Backend::Postgres => {
                let pool = PgPool::connect(&self.url).await.expect("opened");
                migrator.run(&pool).await.expect("migrated");
            }
        }
    }

    /// Runs `sql` (several statements) straight on the database.
    pub async fn execute(&self, sql: &str) {
        match self.backend {
            Backend::Sqlite => {
                let options = SqliteConnectOptions::from_str(&self.url).expect("a URL");
                let pool = SqlitePool::connect_with(options).await.expect("opened");
                sqlx::raw_sql(sql).execute(&pool).await.expect("executed");
            }
            Backend::Postgres => {
                let pool = PgPool::connect(&self.url).await.expect("opened");
                sqlx::raw_sql(sql).execute(&pool).await.expect("executed");
            }
        }
    }

    /// `text` as an SQL literal of the messages' text column, NUL included.
    pub fn text_literal(&self, text: &str) -> String {
        let hex: String = text.bytes().map(|b| format!("{b:02x}")).collect();
        match self.backend {
            Backend::Sqlite => format!("CAST(X'{hex}' AS TEXT)"),
            Backend::Postgres => format!("decode('{hex}', 'hex')"),
        }
    }
}

async fn admin_connection(server: &str) -> PgConnection {
    match PgConnection::connect(&format!("{server}/postgres")).await {
        Ok(connection) => connection,
        Err(error) => panic!(
            "PostgreSQL not reachable at {server} ({error}): start it with \
             `pg_ctlcluster --skip-systemctl-redirect 15 main start`"
        ),
    }
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        let Cleanup::Postgres { server, name } = self else { return };
        let (server, database) = (server.clone(), name.clone());
        // Drop cannot await, and the test's runtime may be shutting down:
        // drop the database from a runtime of its own.
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
            runtime.block_on(async {
                let mut admin = PgConnection::connect(&format!("{server}/postgres")).await?;
                sqlx::query(&format!("DROP DATABASE IF EXISTS {database} WITH (FORCE)"))
                    .execute(&mut admin)
                    .await?;
                Ok::<_, Box<dyn std::error::Error + Send + Sync>>(())
            })
        })
        .join();
        if !matches!(dropped, Ok(Ok(()))) {
            eprintln!("could not drop test database {name}: {dropped:?}");
        }
    }
}
