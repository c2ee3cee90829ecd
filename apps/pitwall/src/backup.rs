//! `pitwall backup` and `pitwall restore` for the embedded SQLite database.
//!
//! A backup is SQLite's own `VACUUM INTO`: one read transaction, so the
//! copy is the database as it stood at one instant, while Pitwall keeps
//! serving and writing (WAL mode lets writers go on). It is written beside
//! its destination and renamed into place, so a half-written file never
//! carries the backup's name. Restoring checks the file (SQLite's
//! integrity check, Pitwall's migrations table) before it replaces the
//! database, and removes the old write-ahead log with it. PostgreSQL is
//! backed up with its own tools (`pg_dump`, point-in-time recovery; see
//! ops/README.md). Photos and uploaded invoices live in the media store,
//! not in the database: copy `PITWALL_MEDIA_STORE` alongside.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use pitwall_store::sea_orm::{ConnectionTrait, DbBackend, Statement};

use crate::Config;

/// The database file a `sqlite:` URL names.
pub fn sqlite_path(database_url: &str) -> anyhow::Result<PathBuf> {
    let rest = database_url
        .strip_prefix("sqlite://")
        .or_else(|| database_url.strip_prefix("sqlite:"))
        .context("DATABASE_URL is not a SQLite URL")?;
    let path = rest.split('?').next().unwrap_or_default();
    if path.is_empty() || path == ":memory:" {
        bail!("DATABASE_URL names no database file");
    }
    Ok(PathBuf::from(path))
}

fn sqlite_only(config: &Config, what: &str) -> anyhow::Result<()> {
    if !config.is_sqlite() {
        bail!(
            "`pitwall {what}` is for the embedded SQLite database; back PostgreSQL up with pg_dump or point-in-time recovery (ops/README.md)"
        );
    }
    Ok(())
}

/// What a backup wrote.
#[derive(Debug)]
pub struct Written {
    pub path: PathBuf,
    pub bytes: u64,
}

/// Copies the live database to `to` (which must not exist yet).
pub async fn backup(config: &Config, to: &Path) -> anyhow::Result<Written> {
    sqlite_only(config, "backup")?;
    if to.exists() {
        bail!("{} exists already: choose a new file", to.display());
    }
    let partial = partial_name(to);
    let _ = std::fs::remove_file(&partial);
    let db = pitwall_store::connect(&config.database_url)
        .await
        .context("opening the database")?;
    let target = partial
        .to_str()
        .context("the backup's path is not UTF-8")?
        .to_owned();
    db.execute_raw(Statement::from_sql_and_values(
        DbBackend::Sqlite,
        "VACUUM INTO ?",
        [target.into()],
    ))
    .await
    .context("copying the database")?;
    db.close().await.ok();
    std::fs::rename(&partial, to)
        .with_context(|| format!("moving the backup to {}", to.display()))?;
    let bytes = std::fs::metadata(to)?.len();
    Ok(Written {
        path: to.to_owned(),
        bytes,
    })
}

fn partial_name(to: &Path) -> PathBuf {
    let mut name = to.file_name().unwrap_or_default().to_os_string();
    name.push(".partial");
    to.with_file_name(name)
}

/// Replaces the database with the backup at `from`, after checking it.
/// Pitwall must not be running on this database meanwhile.
pub async fn restore(config: &Config, from: &Path) -> anyhow::Result<()> {
    sqlite_only(config, "restore")?;
    let target = sqlite_path(&config.database_url)?;
    if !from.is_file() {
        bail!("{} is not a file", from.display());
    }
    if let Some(dir) = target.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    // Checked as a copy beside the database (the backup itself is left
    // as it is), then moved into place.
    let incoming = partial_name(&target);
    remove_with_logs(&incoming)?;
    std::fs::copy(from, &incoming).with_context(|| format!("copying {}", from.display()))?;
    if let Err(e) = check(&incoming).await {
        remove_with_logs(&incoming)?;
        return Err(e.context(format!("{} was not restored", from.display())));
    }
    // The old database's log must not be replayed over the restored file.
    remove_with_logs(&target)?;
    std::fs::rename(&incoming, &target)
        .with_context(|| format!("putting the backup in place at {}", target.display()))?;
    Ok(())
}

/// Removes a database file and its write-ahead log; missing ones are fine.
fn remove_with_logs(db: &Path) -> anyhow::Result<()> {
    for suffix in ["", "-wal", "-shm"] {
        let mut file = db.to_owned().into_os_string();
        file.push(suffix);
        match std::fs::remove_file(&file) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e).with_context(|| format!("removing {file:?}")),
        }
    }
    Ok(())
}

/// A file is restorable when SQLite finds it intact and it holds Pitwall's
/// migrations.
async fn check(file: &Path) -> anyhow::Result<()> {
    let url = format!("sqlite://{}", file.display());
    let db = pitwall_store::connect(&url)
        .await
        .with_context(|| format!("{} is not a SQLite database", file.display()))?;
    let ok = db
        .query_one_raw(Statement::from_string(
            DbBackend::Sqlite,
            "PRAGMA integrity_check",
        ))
        .await
        .context("checking the backup")?
        .and_then(|r| r.try_get_by_index::<String>(0).ok());
    if ok.as_deref() != Some("ok") {
        bail!(
            "{} is damaged (integrity check: {})",
            file.display(),
            ok.unwrap_or_default()
        );
    }
    let migrated = db
        .query_one_raw(Statement::from_string(
            DbBackend::Sqlite,
            "SELECT count(*) FROM seaql_migrations",
        ))
        .await
        .ok()
        .flatten()
        .and_then(|r| r.try_get_by_index::<i64>(0).ok())
        .unwrap_or(0);
    // Everything in the file itself before it moves.
    db.execute_unprepared("PRAGMA wal_checkpoint(TRUNCATE)")
        .await
        .context("settling the restored copy")?;
    db.close().await.ok();
    if migrated == 0 {
        bail!("{} is not a Pitwall database", file.display());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_database_file_is_read_off_the_url() {
        assert_eq!(
            sqlite_path("sqlite://data/pitwall.db?mode=rwc").unwrap(),
            PathBuf::from("data/pitwall.db")
        );
        assert_eq!(
            sqlite_path("sqlite:///var/lib/pitwall/p.db").unwrap(),
            PathBuf::from("/var/lib/pitwall/p.db")
        );
        assert!(sqlite_path("sqlite::memory:").is_err());
        assert!(sqlite_path("postgres://x/y").is_err());
    }
}
