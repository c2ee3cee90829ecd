//! Counters per bucket (a client address, say) and time window, in the
//! database so that every node of a fleet counts together.

use sea_orm::{ConnectionTrait, Statement};

use crate::StoreError;

/// Counts one hit in `bucket` for `window`; answers the window's count so
/// far, this hit included.
pub async fn hit(db: &impl ConnectionTrait, bucket: &str, window: i64) -> Result<i64, StoreError> {
    let backend = db.get_database_backend();
    let sql = match backend {
        sea_orm::DbBackend::Postgres => {
            "INSERT INTO rate_windows (bucket, window_start, hits) VALUES ($1, $2, 1) \
             ON CONFLICT (bucket, window_start) DO UPDATE SET hits = rate_windows.hits + 1 \
             RETURNING hits"
        }
        _ => {
            "INSERT INTO rate_windows (bucket, window_start, hits) VALUES (?, ?, 1) \
             ON CONFLICT (bucket, window_start) DO UPDATE SET hits = rate_windows.hits + 1 \
             RETURNING hits"
        }
    };
    let row = db
        .query_one_raw(Statement::from_sql_and_values(
            backend,
            sql,
            [bucket.into(), window.into()],
        ))
        .await?
        .ok_or_else(|| StoreError::Corrupt("the counter answered no row".into()))?;
    let hits = row
        .try_get_by_index::<i32>(0)
        .map_err(|e| StoreError::Corrupt(format!("the counter: {e:?}")))?;
    Ok(i64::from(hits))
}

/// Drops the windows before `window`.
pub async fn sweep(db: &impl ConnectionTrait, before: i64) -> Result<(), StoreError> {
    let backend = db.get_database_backend();
    let sql = match backend {
        sea_orm::DbBackend::Postgres => "DELETE FROM rate_windows WHERE window_start < $1",
        _ => "DELETE FROM rate_windows WHERE window_start < ?",
    };
    db.execute_raw(Statement::from_sql_and_values(
        backend,
        sql,
        [before.into()],
    ))
    .await?;
    Ok(())
}
