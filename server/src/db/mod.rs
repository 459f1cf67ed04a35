//! The database: one `AnyPool` over SQLite (embedded default) or PostgreSQL, the
//! migrations for each, and the tables every feature shares (users, sessions, the audit log,
//! sign-in throttling). Each feature keeps its own SQL beside it: plans, slots and
//! purchases in `dca/`, broker keys in `connections.rs`.
//!
//! Through sqlx's Any driver ids are TEXT, instants are BIGINT Unix milliseconds, flags
//! are INTEGER 0/1, and money is exact decimal TEXT. The few statements that differ
//! between the backends sit behind [`Backend`].

pub mod admin;
pub mod audit;
pub mod billing;
pub mod mail;
pub mod notes;
pub mod ops;
pub mod sessions;
pub mod settings;
pub mod throttle;
pub mod users;

use anyhow::Context as _;
use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::migrate::Migrator;
use sqlx::{AnyPool, Executor as _};
use std::str::FromStr as _;
use std::sync::Arc;
use std::time::Duration;

static SQLITE_MIGRATIONS: Migrator = sqlx::migrate!("../migrations/sqlite");
static POSTGRES_MIGRATIONS: Migrator = sqlx::migrate!("../migrations/postgres");

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A handle to the database, cheap to clone.
#[derive(Clone)]
pub struct Db {
    pool: AnyPool,
    backend: Backend,
    /// Kept for connections outside the pool (PostgreSQL `LISTEN`); never printed.
    url: Arc<str>,
}

impl std::fmt::Debug for Db {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Db")
            .field("backend", &self.backend)
            .finish_non_exhaustive()
    }
}

impl Db {
    /// Connects (creating the SQLite file and its directory if needed). Does not migrate.
    pub async fn connect(url: &str) -> anyhow::Result<Self> {
        sqlx::any::install_default_drivers();
        let backend = if url.starts_with("sqlite:") {
            if let Some(dir) = sqlite_parent_dir(url) {
                crate::private_fs::create_dir(std::path::Path::new(&dir))
                    .with_context(|| format!("failed to create the data directory {dir}"))?;
            }
            Backend::Sqlite
        } else {
            Backend::Postgres
        };
        let options = AnyConnectOptions::from_str(url)
            .with_context(|| format!("failed to parse the database URL for {backend:?}"))?;
        let pool = AnyPoolOptions::new()
            // SQLite has one writer at a time, and a connection that finds the write lock
            // taken backs off by sleeping (its busy handler): more connections than work can
            // go on at once left the cores idle while writers slept (`quantshift bench
            // scheduler`, 10,000 users: 8 connections ≈ 700 orders/s, 4 ≈ 950, 2 ≈ 830).
            .max_connections(match backend {
                Backend::Sqlite => 4,
                Backend::Postgres => 16,
            })
            .acquire_timeout(Duration::from_secs(10))
            .after_connect(move |conn, _meta| {
                Box::pin(async move {
                    if backend == Backend::Sqlite {
                        // WAL lets readers run beside the writer; busy_timeout makes a writer
                        // wait for the lock instead of failing at once. Every commit empties
                        // the other connections' page caches, which then read the pages
                        // back with a system call each (a third of the CPU under `quantshift
                        // bench scheduler`): memory-mapped reads (up to 256 MB) avoid that.
                        conn.execute(
                            "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; \
                             PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 5000; \
                             PRAGMA mmap_size = 268435456;",
                        )
                        .await?;
                    }
                    Ok(())
                })
            })
            .connect_with(options)
            .await
            .with_context(|| format!("failed to connect to the {backend:?} database"))?;
        if let Some(file) = sqlite_file(url) {
            // The journal files SQLite creates later take the database file's mode.
            for suffix in ["", "-wal", "-shm"] {
                let path = format!("{file}{suffix}");
                crate::private_fs::restrict_file(std::path::Path::new(&path))
                    .with_context(|| format!("failed to make {path} private"))?;
            }
        }
        Ok(Self {
            pool,
            backend,
            url: url.into(),
        })
    }

    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    pub(crate) fn url(&self) -> &str {
        &self.url
    }

    fn migrator(&self) -> &'static Migrator {
        match self.backend {
            Backend::Sqlite => &SQLITE_MIGRATIONS,
            Backend::Postgres => &POSTGRES_MIGRATIONS,
        }
    }

    /// Applies every pending migration.
    pub async fn migrate(&self) -> anyhow::Result<()> {
        self.migrator()
            .run(&self.pool)
            .await
            .context("failed to apply database migrations")
    }

    /// Whether the database answers and every migration this binary knows is applied.
    pub async fn readiness(&self) -> Readiness {
        let reachable = sqlx::query("SELECT 1").execute(&self.pool).await.is_ok();
        if !reachable {
            return Readiness {
                reachable,
                migrations_applied: false,
            };
        }
        let latest = self.migrator().iter().map(|m| m.version).max().unwrap_or(0);
        let applied: Option<i64> =
            sqlx::query_scalar("SELECT MAX(version) FROM _sqlx_migrations WHERE success = TRUE")
                .fetch_one(&self.pool)
                .await
                .ok()
                .flatten();
        Readiness {
            reachable,
            migrations_applied: applied.is_some_and(|v| v >= latest),
        }
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Readiness {
    pub reachable: bool,
    pub migrations_applied: bool,
}

/// The file of a SQLite URL (none for in-memory databases).
fn sqlite_file(url: &str) -> Option<&str> {
    let path = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))?;
    let path = path.split('?').next()?;
    (!(path.is_empty() || path.starts_with(":memory:") || path.starts_with("file:")))
        .then_some(path)
}

fn sqlite_parent_dir(url: &str) -> Option<String> {
    let path = sqlite_file(url)?;
    let parent = std::path::Path::new(path).parent()?.to_str()?.to_owned();
    (!parent.is_empty()).then_some(parent)
}

/// Whether the error is a unique-constraint violation (the row exists already).
pub(crate) fn is_unique_violation(err: &sqlx::Error) -> bool {
    match err {
        sqlx::Error::Database(db) => db.is_unique_violation(),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::sqlite_parent_dir;

    #[test]
    fn finds_the_sqlite_directory() {
        assert_eq!(
            sqlite_parent_dir("sqlite://data/qs.db?mode=rwc").as_deref(),
            Some("data")
        );
        assert_eq!(
            sqlite_parent_dir("sqlite:/tmp/x/qs.db").as_deref(),
            Some("/tmp/x")
        );
        assert_eq!(sqlite_parent_dir("sqlite://qs.db"), None);
        assert_eq!(sqlite_parent_dir("sqlite::memory:"), None);
    }
}
