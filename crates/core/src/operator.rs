//! What an operator does from the command line on the server itself: no
//! signed-in user, the machine's own authority (like [`crate::shops::Creator::Cli`]).

use pitwall_domain::ShopId;
use pitwall_store::sea_orm::{ConnectionTrait, Statement};
use pitwall_store::{Page, PageRequest, shops};

use crate::{App, Result};

/// Every shop, a page at a time, for `pitwall admin list-shops`.
pub async fn list_shops(app: &App, page: PageRequest) -> Result<Page<shops::Shop>> {
    Ok(shops::list(&app.db, None, page).await?)
}

/// A shop by id or by slug, as operators type either.
pub async fn find_shop(app: &App, id_or_slug: &str) -> Result<Option<shops::Shop>> {
    Ok(match id_or_slug.parse::<ShopId>() {
        Ok(id) => shops::get(&app.db, id).await?,
        Err(_) => shops::find_by_slug(&app.db, id_or_slug).await?,
    })
}

/// E-mails written but not yet handed to the mail server: the CLI waits for
/// none before it exits, so an invitation it made is really sent.
pub async fn emails_pending(app: &App) -> Result<i64> {
    let row = app
        .db
        .query_one_raw(Statement::from_string(
            app.db.get_database_backend(),
            "SELECT COUNT(*) AS n FROM emails WHERE status IN ('queued', 'sending', 'retrying')",
        ))
        .await?;
    Ok(row
        .and_then(|r| r.try_get::<i64>("", "n").ok())
        .unwrap_or(0))
}
