//! Counters per bucket (a client address, say) and time window, in the
//! database so that every node of a fleet counts together.

use sea_orm::ConnectionTrait;
use sea_orm::sea_query::{Alias, Expr, ExprTrait, OnConflict, Query};

use crate::StoreError;

fn table() -> Alias {
    Alias::new("rate_windows")
}

/// Counts one hit in `bucket` for `window`; answers the window's count so
/// far, this hit included. One statement, so concurrent hits from several
/// nodes all count.
pub async fn hit(db: &impl ConnectionTrait, bucket: &str, window: i64) -> Result<i64, StoreError> {
    let (b, w, hits) = (
        Alias::new("bucket"),
        Alias::new("window_start"),
        Alias::new("hits"),
    );
    let insert = Query::insert()
        .into_table(table())
        .columns([b.clone(), w.clone(), hits.clone()])
        .values_panic([bucket.into(), window.into(), 1.into()])
        .on_conflict(
            OnConflict::columns([b, w])
                .value(hits.clone(), Expr::col((table(), hits.clone())).add(1))
                .to_owned(),
        )
        .returning_col(hits)
        .to_owned();
    let row = db
        .query_one_raw(db.get_database_backend().build(&insert))
        .await?
        .ok_or_else(|| StoreError::Corrupt("the counter answered no row".into()))?;
    let hits = row
        .try_get_by_index::<i32>(0)
        .map_err(|e| StoreError::Corrupt(format!("the counter: {e:?}")))?;
    Ok(i64::from(hits))
}

/// Drops the windows before `window`.
pub async fn sweep(db: &impl ConnectionTrait, before: i64) -> Result<(), StoreError> {
    let delete = Query::delete()
        .from_table(table())
        .and_where(Expr::col(Alias::new("window_start")).lt(before))
        .to_owned();
    db.execute_raw(db.get_database_backend().build(&delete))
        .await?;
    Ok(())
}
