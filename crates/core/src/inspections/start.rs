//! Start an inspection on a ticket from one of the shop's sheets; read
//! one; list a ticket's. The inspection keeps its own copy of the sheet, so
//! editing or deleting the sheet later changes nothing here.

use pitwall_domain::findings::InspectionStatus;
use pitwall_domain::{InspectionId, InspectionTemplateId, Permission, TicketId};
use pitwall_store::inspections::{self as store, Inspection, NewInspection};
use pitwall_store::{inspection_templates, tickets};

use super::{InspectionView, assemble, load, may, may_read, with_previous};
use crate::{App, Error, Result, ShopCtx};

/// Starts an inspection (`inspections.edit`): one finding per item of the
/// sheet, each `not_checked`.
pub async fn start(
    app: &App,
    ctx: &ShopCtx,
    ticket: TicketId,
    template: InspectionTemplateId,
) -> Result<InspectionView> {
    may(app, ctx, Permission::InspectionsEdit).await?;
    let shop = ctx.shop_id();
    let txn = pitwall_store::begin_write(&app.db).await?;
    tickets::get(&txn, shop, ticket)
        .await?
        .ok_or(Error::NotFound("ticket"))?;
    let t = inspection_templates::get(&txn, shop, template)
        .await?
        .ok_or_else(|| Error::invalid("template_id", "is not one of the shop's sheets"))?;
    let sheet: pitwall_domain::inspections::Sheet = serde_json::from_str(&t.sheet)
        .map_err(|e| Error::Internal(format!("inspection sheet {}: {e}", t.id)))?;
    let keys: Vec<&str> = sheet.items().map(|(_, i)| i.key.as_str()).collect();
    let (row, findings) = store::insert(
        &txn,
        shop,
        NewInspection {
            ticket,
            template: Some(t.id),
            name: &t.name,
            sheet_json: &t.sheet,
            status: InspectionStatus::InProgress.as_str(),
            created_by: ctx.user_id,
            item_keys: keys,
        },
    )
    .await?;
    txn.commit().await?;
    tracing::info!(shop.id = %shop, ticket.id = %ticket, inspection.id = %row.id, "inspection started");
    let mut view = assemble(row, findings)?;
    with_previous(&app.db, ctx, &mut view).await?;
    Ok(view)
}

pub async fn get(app: &App, ctx: &ShopCtx, id: InspectionId) -> Result<InspectionView> {
    may_read(app, ctx).await?;
    load(&app.db, ctx, id).await
}

/// A ticket's inspections, oldest first.
pub async fn of_ticket(app: &App, ctx: &ShopCtx, ticket: TicketId) -> Result<Vec<Inspection>> {
    may_read(app, ctx).await?;
    tickets::get(&app.db, ctx.shop_id(), ticket)
        .await?
        .ok_or(Error::NotFound("ticket"))?;
    Ok(store::of_ticket(&app.db, ctx.shop_id(), ticket).await?)
}
