//! Inspections and their findings. Every query takes the shop.
//!
//! A finding is its own row, written alone: two devices rating different
//! items of one inspection never overwrite each other.

use chrono::{DateTime, Utc};
use pitwall_domain::{FindingId, InspectionId, ServiceId, ShopId, TicketId, UserId};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, ExprTrait, QueryFilter, QueryOrder};

use crate::entities::inspection::{self, Entity as Inspections};
use crate::entities::inspection_finding::{self, Entity as Findings};
use crate::{InShop, StoreError, now};

pub type Inspection = inspection::Model;
pub type Finding = inspection_finding::Model;

/// An inspection to start, with its findings' keys in sheet order.
pub struct NewInspection<'a> {
    pub ticket: TicketId,
    pub template: Option<uuid::Uuid>,
    pub name: &'a str,
    pub sheet_json: &'a str,
    pub status: &'a str,
    pub created_by: UserId,
    pub item_keys: Vec<&'a str>,
}

pub async fn insert(
    db: &impl ConnectionTrait,
    shop: ShopId,
    new: NewInspection<'_>,
) -> Result<(Inspection, Vec<Finding>), StoreError> {
    let at = now();
    let row = Inspection {
        id: InspectionId::new().as_uuid(),
        shop_id: shop.as_uuid(),
        ticket_id: new.ticket.as_uuid(),
        template_id: new.template,
        name: new.name.to_owned(),
        sheet: new.sheet_json.to_owned(),
        status: new.status.to_owned(),
        version: 1,
        created_by: Some(new.created_by.as_uuid()),
        returned_reason: None,
        submitted_at: None,
        published_at: None,
        created_at: at,
        updated_at: at,
    };
    Inspections::insert(inspection::ActiveModel::from(row.clone()))
        .exec_without_returning(db)
        .await?;
    let findings: Vec<Finding> = new
        .item_keys
        .iter()
        .enumerate()
        .map(|(i, key)| Finding {
            id: FindingId::new().as_uuid(),
            shop_id: shop.as_uuid(),
            inspection_id: row.id,
            item_key: (*key).to_owned(),
            position: i as i32,
            condition: "not_checked".to_owned(),
            measurement: None,
            note: None,
            customer_note: None,
            service_id: None,
            updated_by: None,
            updated_at: at,
        })
        .collect();
    if !findings.is_empty() {
        Findings::insert_many(
            findings
                .iter()
                .cloned()
                .map(inspection_finding::ActiveModel::from),
        )
        .exec_without_returning(db)
        .await?;
    }
    Ok((row, findings))
}

pub async fn get(
    db: &impl ConnectionTrait,
    shop: ShopId,
    id: InspectionId,
) -> Result<Option<Inspection>, StoreError> {
    Ok(Inspections::find_by_id(id.as_uuid())
        .in_shop(shop)
        .one(db)
        .await?)
}

/// A ticket's inspections, oldest first.
pub async fn of_ticket(
    db: &impl ConnectionTrait,
    shop: ShopId,
    ticket: TicketId,
) -> Result<Vec<Inspection>, StoreError> {
    Ok(Inspections::find()
        .in_shop(shop)
        .filter(inspection::Column::TicketId.eq(ticket.as_uuid()))
        .order_by_asc(inspection::Column::CreatedAt)
        .order_by_asc(inspection::Column::Id)
        .all(db)
        .await?)
}

/// The ticket's most recently published inspection, if any.
pub async fn latest_published(
    db: &impl ConnectionTrait,
    shop: ShopId,
    ticket: TicketId,
) -> Result<Option<Inspection>, StoreError> {
    Ok(Inspections::find()
        .in_shop(shop)
        .filter(inspection::Column::TicketId.eq(ticket.as_uuid()))
        .filter(inspection::Column::Status.eq("published"))
        .order_by_desc(inspection::Column::PublishedAt)
        .order_by_desc(inspection::Column::Id)
        .one(db)
        .await?)
}

/// The vehicle's most recent earlier inspection in this shop that a
/// technician finished (submitted or published), with its findings: last
/// visit's readings, shown beside this visit's. `None` when the ticket has
/// no vehicle or the vehicle no earlier inspection.
pub async fn previous_visit(
    db: &impl ConnectionTrait,
    shop: ShopId,
    current: &Inspection,
) -> Result<Option<(Inspection, Vec<Finding>)>, StoreError> {
    use crate::entities::ticket;
    let vehicle = ticket::Entity::find_by_id(current.ticket_id)
        .in_shop(shop)
        .one(db)
        .await?
        .and_then(|t| t.vehicle_id);
    let Some(vehicle) = vehicle else {
        return Ok(None);
    };
    let tickets_of_vehicle = sea_orm::sea_query::Query::select()
        .column(ticket::Column::Id)
        .from(ticket::Entity)
        .and_where(ticket::Column::ShopId.eq(shop.as_uuid()))
        .and_where(ticket::Column::VehicleId.eq(vehicle))
        .to_owned();
    let earlier = Inspections::find()
        .in_shop(shop)
        .filter(inspection::Column::TicketId.in_subquery(tickets_of_vehicle))
        .filter(inspection::Column::Status.is_in(["submitted", "published"]))
        .filter(inspection::Column::Id.ne(current.id))
        .filter(inspection::Column::CreatedAt.lt(current.created_at))
        .order_by_desc(inspection::Column::CreatedAt)
        .order_by_desc(inspection::Column::Id)
        .one(db)
        .await?;
    let Some(earlier) = earlier else {
        return Ok(None);
    };
    let found = findings(db, shop, InspectionId::from_uuid(earlier.id)).await?;
    Ok(Some((earlier, found)))
}

pub async fn findings(
    db: &impl ConnectionTrait,
    shop: ShopId,
    inspection: InspectionId,
) -> Result<Vec<Finding>, StoreError> {
    Ok(Findings::find()
        .in_shop(shop)
        .filter(inspection_finding::Column::InspectionId.eq(inspection.as_uuid()))
        .order_by_asc(inspection_finding::Column::Position)
        .all(db)
        .await?)
}

pub async fn finding(
    db: &impl ConnectionTrait,
    shop: ShopId,
    inspection: InspectionId,
    key: &str,
) -> Result<Option<Finding>, StoreError> {
    Ok(Findings::find()
        .in_shop(shop)
        .filter(inspection_finding::Column::InspectionId.eq(inspection.as_uuid()))
        .filter(inspection_finding::Column::ItemKey.eq(key))
        .one(db)
        .await?)
}

/// The findings that became these services, newest first.
pub async fn findings_of_services(
    db: &impl ConnectionTrait,
    shop: ShopId,
    services: &[uuid::Uuid],
) -> Result<Vec<Finding>, StoreError> {
    if services.is_empty() {
        return Ok(vec![]);
    }
    Ok(Findings::find()
        .in_shop(shop)
        .filter(inspection_finding::Column::ServiceId.is_in(services.iter().copied()))
        .order_by_desc(inspection_finding::Column::UpdatedAt)
        .all(db)
        .await?)
}

/// What one tap on the phone sets on one finding.
pub struct FindingFields {
    pub condition: String,
    pub measurement: Option<String>,
    pub note: Option<String>,
    pub customer_note: Option<String>,
}

/// Writes one finding's row and nothing else of the inspection but its
/// version; `false` when the shop has no such finding.
pub async fn set_finding(
    db: &impl ConnectionTrait,
    shop: ShopId,
    inspection: InspectionId,
    key: &str,
    by: UserId,
    f: FindingFields,
) -> Result<bool, StoreError> {
    let at = now();
    let res = Findings::update_many()
        .col_expr(
            inspection_finding::Column::Condition,
            Expr::value(f.condition),
        )
        .col_expr(
            inspection_finding::Column::Measurement,
            Expr::value(f.measurement),
        )
        .col_expr(inspection_finding::Column::Note, Expr::value(f.note))
        .col_expr(
            inspection_finding::Column::CustomerNote,
            Expr::value(f.customer_note),
        )
        .col_expr(
            inspection_finding::Column::UpdatedBy,
            Expr::value(Some(by.as_uuid())),
        )
        .col_expr(inspection_finding::Column::UpdatedAt, Expr::value(at))
        .in_shop(shop)
        .filter(inspection_finding::Column::InspectionId.eq(inspection.as_uuid()))
        .filter(inspection_finding::Column::ItemKey.eq(key))
        .exec(db)
        .await?;
    if res.rows_affected == 0 {
        return Ok(false);
    }
    bump(db, shop, inspection, at).await?;
    Ok(true)
}

pub async fn set_finding_service(
    db: &impl ConnectionTrait,
    shop: ShopId,
    inspection: InspectionId,
    key: &str,
    service: ServiceId,
) -> Result<(), StoreError> {
    let at = now();
    Findings::update_many()
        .col_expr(
            inspection_finding::Column::ServiceId,
            Expr::value(Some(service.as_uuid())),
        )
        .col_expr(inspection_finding::Column::UpdatedAt, Expr::value(at))
        .in_shop(shop)
        .filter(inspection_finding::Column::InspectionId.eq(inspection.as_uuid()))
        .filter(inspection_finding::Column::ItemKey.eq(key))
        .exec(db)
        .await?;
    bump(db, shop, inspection, at).await
}

/// An inspection's step in its workflow; only from `from` (so two staff
/// acting at once cannot both move it). `false` when it was not there.
pub struct Move<'a> {
    pub from: &'a [&'a str],
    pub to: &'a str,
    pub returned_reason: Option<&'a str>,
    pub submitted_at: Option<DateTime<Utc>>,
    pub published_at: Option<DateTime<Utc>>,
}

pub async fn move_to(
    db: &impl ConnectionTrait,
    shop: ShopId,
    id: InspectionId,
    m: Move<'_>,
) -> Result<bool, StoreError> {
    let at = now();
    let mut q = Inspections::update_many()
        .col_expr(inspection::Column::Status, Expr::value(m.to))
        .col_expr(
            inspection::Column::ReturnedReason,
            Expr::value(m.returned_reason.map(str::to_owned)),
        )
        .col_expr(
            inspection::Column::Version,
            Expr::col(inspection::Column::Version).add(1),
        )
        .col_expr(inspection::Column::UpdatedAt, Expr::value(at));
    if let Some(t) = m.submitted_at {
        q = q.col_expr(inspection::Column::SubmittedAt, Expr::value(Some(t)));
    }
    if let Some(t) = m.published_at {
        q = q.col_expr(inspection::Column::PublishedAt, Expr::value(Some(t)));
    }
    let res = q
        .in_shop(shop)
        .filter(inspection::Column::Id.eq(id.as_uuid()))
        .filter(inspection::Column::Status.is_in(m.from.iter().copied()))
        .exec(db)
        .await?;
    Ok(res.rows_affected == 1)
}

pub async fn bump(
    db: &impl ConnectionTrait,
    shop: ShopId,
    id: InspectionId,
    at: DateTime<Utc>,
) -> Result<(), StoreError> {
    Inspections::update_many()
        .col_expr(
            inspection::Column::Version,
            Expr::col(inspection::Column::Version).add(1),
        )
        .col_expr(inspection::Column::UpdatedAt, Expr::value(at))
        .in_shop(shop)
        .filter(inspection::Column::Id.eq(id.as_uuid()))
        .exec(db)
        .await?;
    Ok(())
}

/// The shop's inspection settings: the vehicle status set on publish.
pub async fn status_on_publish(
    db: &impl ConnectionTrait,
    shop: ShopId,
) -> Result<Option<uuid::Uuid>, StoreError> {
    use crate::entities::inspection_setting::Entity as Settings;
    Ok(Settings::find_by_id(shop.as_uuid())
        .one(db)
        .await?
        .and_then(|s| s.status_on_publish))
}

pub async fn set_status_on_publish(
    db: &impl ConnectionTrait,
    shop: ShopId,
    status: Option<uuid::Uuid>,
) -> Result<(), StoreError> {
    use crate::entities::inspection_setting::{self as setting, Entity as Settings};
    use sea_orm::ActiveValue::Set;
    let row = setting::ActiveModel {
        shop_id: Set(shop.as_uuid()),
        status_on_publish: Set(status),
        updated_at: Set(now()),
    };
    Settings::insert(row)
        .on_conflict(
            sea_orm::sea_query::OnConflict::column(setting::Column::ShopId)
                .update_columns([setting::Column::StatusOnPublish, setting::Column::UpdatedAt])
                .to_owned(),
        )
        .exec_without_returning(db)
        .await?;
    Ok(())
}
