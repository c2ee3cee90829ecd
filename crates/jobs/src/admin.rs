//! The admin console's view of the job queue: dead jobs and retrying them.
//! apalis has no board for poem, so this reads its tables directly.

use chrono::{DateTime, Utc};
use pitwall_store::sea_orm::{ConnectionTrait, DbBackend, Statement, Value};
use pitwall_store::{Db, StoreError};

#[derive(Debug, Clone)]
pub struct JobRow {
    pub id: String,
    pub queue: String,
    pub status: String,
    pub attempts: i64,
    pub max_attempts: i64,
    pub last_error: Option<String>,
    pub run_at: Option<DateTime<Utc>>,
    pub done_at: Option<DateTime<Utc>>,
}

/// Which jobs to list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobFilter {
    /// Gave up: killed, or failed with no attempts left.
    Dead,
    /// Waiting or running.
    Active,
    All,
}

impl JobFilter {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "dead" => Some(Self::Dead),
            "active" => Some(Self::Active),
            "all" => Some(Self::All),
            _ => None,
        }
    }
    fn sql(self) -> &'static str {
        match self {
            Self::Dead => "(status = 'Killed' OR (status = 'Failed' AND attempts >= max_attempts))",
            Self::Active => {
                "(status IN ('Pending', 'Queued', 'Running') OR (status = 'Failed' AND attempts < max_attempts))"
            }
            Self::All => "1 = 1",
        }
    }
}

fn table(backend: DbBackend) -> &'static str {
    match backend {
        DbBackend::Postgres => "apalis.jobs",
        _ => "Jobs",
    }
}

fn epoch(v: Option<i64>) -> Option<DateTime<Utc>> {
    v.and_then(|s| DateTime::from_timestamp(s, 0))
}

pub async fn list(db: &Db, filter: JobFilter, limit: u64) -> Result<Vec<JobRow>, StoreError> {
    let backend = db.get_database_backend();
    let (run_at, done_at, last) = match backend {
        DbBackend::Postgres => (
            "CAST(EXTRACT(EPOCH FROM run_at) AS BIGINT)",
            "CAST(EXTRACT(EPOCH FROM done_at) AS BIGINT)",
            "CAST(last_result AS TEXT)",
        ),
        _ => ("run_at", "done_at", "last_result"),
    };
    let sql = format!(
        "SELECT id, job_type, status, CAST(attempts AS BIGINT) AS attempts, \
         CAST(max_attempts AS BIGINT) AS max_attempts, {last} AS last_error, \
         {run_at} AS run_at, {done_at} AS done_at FROM {} WHERE {} \
         ORDER BY run_at DESC LIMIT {}",
        table(backend),
        filter.sql(),
        limit.min(500)
    );
    let rows = db
        .query_all_raw(Statement::from_string(backend, sql))
        .await?;
    rows.into_iter()
        .map(|r| {
            Ok(JobRow {
                id: r.try_get("", "id")?,
                queue: r.try_get("", "job_type")?,
                status: r.try_get("", "status")?,
                attempts: r.try_get("", "attempts")?,
                max_attempts: r.try_get("", "max_attempts")?,
                last_error: r.try_get("", "last_error")?,
                run_at: epoch(r.try_get("", "run_at")?),
                done_at: epoch(r.try_get("", "done_at")?),
            })
        })
        .collect::<Result<_, pitwall_store::sea_orm::DbErr>>()
        .map_err(StoreError::from)
}

/// Puts a dead job back in its queue with fresh attempts. False if there is
/// no such dead job.
pub async fn retry(db: &Db, id: &str) -> Result<bool, StoreError> {
    let backend = db.get_database_backend();
    let now = match backend {
        DbBackend::Postgres => "now()",
        _ => "strftime('%s', 'now')",
    };
    let param = match backend {
        DbBackend::Postgres => "$1",
        _ => "?",
    };
    let sql = format!(
        "UPDATE {} SET status = 'Pending', attempts = 0, run_at = {now}, done_at = NULL, \
         lock_by = NULL, lock_at = NULL WHERE id = {param} AND {}",
        table(backend),
        JobFilter::Dead.sql()
    );
    let res = db
        .execute_raw(Statement::from_sql_and_values(
            backend,
            sql,
            [Value::from(id.to_owned())],
        ))
        .await?;
    Ok(res.rows_affected() == 1)
}

/// Jobs by queue and state (a failed job with tries left is `Retrying`),
/// for /metrics and the job board.
pub async fn counts(db: &Db) -> Result<Vec<(String, String, i64)>, StoreError> {
    let backend = db.get_database_backend();
    let sql = format!(
        "SELECT job_type, CASE WHEN status = 'Failed' AND attempts < max_attempts THEN 'Retrying' \
         ELSE status END AS status, CAST(COUNT(*) AS BIGINT) AS n FROM {} GROUP BY 1, 2",
        table(backend)
    );
    let rows = db
        .query_all_raw(Statement::from_string(backend, sql))
        .await?;
    rows.into_iter()
        .map(|r| {
            Ok((
                r.try_get("", "job_type")?,
                r.try_get("", "status")?,
                r.try_get("", "n")?,
            ))
        })
        .collect::<Result<_, pitwall_store::sea_orm::DbErr>>()
        .map_err(StoreError::from)
}
