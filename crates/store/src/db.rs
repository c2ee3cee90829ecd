//! Connecting: one `DATABASE_URL` picks SQLite or PostgreSQL.

use std::time::Duration;

use pitwall_migrations::{Migrator, MigratorTrait};
use sea_orm::sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous};
use sea_orm::{ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DbBackend, DbErr};

pub type Db = DatabaseConnection;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn of(db: &impl ConnectionTrait) -> Self {
        match db.get_database_backend() {
            DbBackend::Postgres => Backend::Postgres,
            _ => Backend::Sqlite,
        }
    }
}

/// Opens a pool. SQLite gets WAL, a busy timeout and several connections so
/// that readers do not queue behind every writer; every pool gives up on a
/// dead database within seconds, so requests answer 503 instead of hanging.
pub async fn connect(url: &str) -> Result<Db, DbErr> {
    let mut opts = ConnectOptions::new(url.to_owned());
    opts.sqlx_logging(false)
        .connect_timeout(Duration::from_secs(3))
        .acquire_timeout(Duration::from_secs(3))
        .idle_timeout(Duration::from_secs(300))
        .test_before_acquire(false);
    if url.starts_with("sqlite:") {
        opts.max_connections(8)
            .min_connections(1)
            .map_sqlx_sqlite_opts(|o| {
                o.journal_mode(SqliteJournalMode::Wal)
                    .synchronous(SqliteSynchronous::Normal)
                    .busy_timeout(Duration::from_secs(5))
                    .foreign_keys(true)
                    .create_if_missing(true)
            });
    } else {
        opts.max_connections(20).min_connections(0);
    }
    Database::connect(opts).await
}

/// Applies every pending migration.
pub async fn migrate_up(db: &Db) -> Result<(), DbErr> {
    Migrator::up(db, None).await
}

/// Whether every migration this binary knows has been applied.
///
/// Read-only: it reads `seaql_migrations` and issues no DDL (sea-orm's
/// pending-migration check creates the table if missing). Migrations the
/// binary does not know are fine: during an upgrade the new migrations land
/// first, and the old pods must stay ready until they are replaced.
pub async fn migrations_current(db: &Db) -> Result<bool, DbErr> {
    use sea_orm::{ConnectionTrait, Statement};
    let rows = match db
        .query_all_raw(Statement::from_string(
            db.get_database_backend(),
            "SELECT version FROM seaql_migrations",
        ))
        .await
    {
        Ok(rows) => rows,
        // No migration table yet: nothing is applied. Any other error
        // (unreachable database) is the caller's to report.
        Err(e) if e.to_string().contains("seaql_migrations") => return Ok(false),
        Err(e) => return Err(e),
    };
    let applied: std::collections::HashSet<String> = rows
        .iter()
        .filter_map(|r| r.try_get::<String>("", "version").ok())
        .collect();
    Ok(Migrator::migrations()
        .iter()
        .all(|m| applied.contains(m.name())))
}

/// Begins a transaction that only reads, for a use case that reads one
/// page in several statements: every statement sees the same snapshot
/// (PostgreSQL: `REPEATABLE READ READ ONLY`; SQLite's transactions always
/// do), and the page holds one pooled connection throughout instead of
/// taking and giving back one per statement (sqlx checks each connection
/// it is given back with a round trip of its own).
pub async fn begin_read(db: &Db) -> Result<sea_orm::DatabaseTransaction, DbErr> {
    use sea_orm::{AccessMode, IsolationLevel, TransactionTrait};
    match Backend::of(db) {
        Backend::Postgres => {
            db.begin_with_config(
                Some(IsolationLevel::RepeatableRead),
                Some(AccessMode::ReadOnly),
            )
            .await
        }
        Backend::Sqlite => db.begin().await,
    }
}

/// Begins a transaction that will write. On SQLite it takes the write lock
/// at once (`BEGIN IMMEDIATE`): a deferred transaction that reads first and
/// writes later fails with "database is locked" when another writer got in
/// between, instead of waiting its turn. PostgreSQL ignores the mode.
pub async fn begin_write(db: &Db) -> Result<sea_orm::DatabaseTransaction, DbErr> {
    use sea_orm::{SqliteTransactionMode, TransactionOptions, TransactionTrait};
    db.begin_with_options(TransactionOptions {
        sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
        ..Default::default()
    })
    .await
}
