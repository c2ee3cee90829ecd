use pitwall_domain::tickets::ActorKind;
use pitwall_domain::{Permission, TicketId, values};
use pitwall_store::activity;
use serde_json::json;

use super::ticket_in;
use crate::timeline::Author;
use crate::{App, Error, Result, ShopCtx};

pub async fn add_comment(
    app: &App,
    ctx: &ShopCtx,
    id: TicketId,
    body: &str,
) -> Result<activity::Comment> {
    app.require(ctx, Permission::TicketsComment).await?;
    ctx.require_writable()?;
    let body = values::required_text(body, 4000).map_err(Error::field("body"))?;
    let shop = ctx.shop_id();
    let txn = pitwall_store::begin_write(&app.db).await?;
    ticket_in(&txn, ctx, id).await?;
    let author = ctx.user_name.clone();
    let (comment, live) = crate::timeline::add_comment(
        &txn,
        shop,
        activity::NewComment {
            ticket: id,
            source: "staff",
            external_id: None,
            author_user_id: Some(ctx.user_id),
            author_name: &author,
            body: &body,
        },
        Author {
            kind: ActorKind::Staff,
            id: Some(ctx.user_id.as_uuid()),
        },
        None,
    )
    .await?;
    // The POS lists staff comments and hears of each one.
    activity::notify_pos(
        &txn,
        shop,
        id,
        pitwall_domain::tickets::NotificationKind::Comment.as_str(),
        json!({ "comment_id": comment.id, "author": author, "body": body }),
    )
    .await?;
    let announced = app.live.announce(vec![live]);
    txn.commit().await?;
    app.live.after_commit(announced);
    Ok(comment)
}
