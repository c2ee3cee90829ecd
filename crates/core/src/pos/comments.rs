use pitwall_domain::tickets::ActorKind;
use pitwall_domain::{TicketId, values};
use pitwall_store::{activity, tickets};

use super::{PosCtx, external_id, require_writable};
use crate::timeline::Author;
use crate::{App, Error, Problems, Result};

pub struct CommentInput {
    /// The POS's id for the comment; a repeat with the same id is one comment.
    pub external_id: Option<String>,
    pub author: String,
    pub body: String,
}

pub async fn add_comment(
    app: &App,
    pos: &PosCtx,
    ticket_external_id: &str,
    input: &CommentInput,
) -> Result<activity::Comment> {
    let ext = external_id("external_id", ticket_external_id)?;
    require_writable(pos)?;
    let mut p = Problems::default();
    let body = p.check("body", values::required_text(&input.body, 4000));
    let author = p.check("author", values::required_text(&input.author, 120));
    let comment_ext = match &input.external_id {
        Some(raw) => match external_id("external_id", raw) {
            Ok(e) => Some(e),
            Err(_) => {
                p.add("external_id", "must be 1 to 100 characters");
                None
            }
        },
        None => None,
    };
    p.into_result()?;
    let (body, author) = (body.unwrap_or_default(), author.unwrap_or_default());
    let shop = pos.shop_id();
    let txn = pitwall_store::begin_write(&app.db).await?;
    let ticket = tickets::by_external_id(&txn, shop, &ext)
        .await?
        .ok_or(Error::NotFound("ticket"))?;
    let tid = TicketId::from_uuid(ticket.id);
    if let Some(ce) = &comment_ext
        && let Some(existing) = activity::comment_by_external_id(&txn, shop, tid, ce).await?
    {
        txn.commit().await?;
        return Ok(existing);
    }
    let (comment, live) = crate::timeline::add_comment(
        &txn,
        shop,
        activity::NewComment {
            ticket: tid,
            source: "pos",
            external_id: comment_ext.as_deref(),
            author_user_id: None,
            author_name: &author,
            body: &body,
        },
        Author {
            kind: ActorKind::Pos,
            id: Some(pos.key.id),
        },
        None,
    )
    .await?;
    let announced = app.live.announce(vec![live]);
    txn.commit().await?;
    app.live.after_commit(announced);
    Ok(comment)
}

pub async fn comments(
    app: &App,
    pos: &PosCtx,
    ticket_external_id: &str,
    page: pitwall_store::PageRequest,
) -> Result<pitwall_store::Page<activity::Comment>> {
    let ext = external_id("external_id", ticket_external_id)?;
    let ticket = tickets::by_external_id(&app.db, pos.shop_id(), &ext)
        .await?
        .ok_or(Error::NotFound("ticket"))?;
    Ok(activity::comments(&app.db, pos.shop_id(), TicketId::from_uuid(ticket.id), page).await?)
}
