//! What the customer's page shows of a ticket's inspection: the latest
//! published one, its rated findings, most pressing first.

use chrono::{DateTime, Utc};
use pitwall_domain::findings::customer_rank;
use pitwall_domain::inspections::Condition;
use pitwall_domain::{InspectionId, ShopId, TicketId};
use pitwall_store::inspections as store;
use pitwall_store::sea_orm::ConnectionTrait;

use super::assemble;
use crate::Result;

#[derive(Debug, Clone)]
pub struct CustomerInspection {
    pub id: InspectionId,
    pub name: String,
    pub published_at: Option<DateTime<Utc>>,
    /// Urgent, then needs attention, then good; unchecked items left out.
    pub findings: Vec<CustomerFinding>,
}

#[derive(Debug, Clone)]
pub struct CustomerFinding {
    pub item_key: String,
    pub label: String,
    pub explanation: Option<String>,
    pub condition: Condition,
    pub customer_note: Option<String>,
    pub measurement: Option<serde_json::Value>,
    pub unit: Option<String>,
    pub service_id: Option<uuid::Uuid>,
    /// Photos and videos, in upload order.
    pub media: Vec<pitwall_store::media::Medium>,
}

/// The ticket's latest published inspection, as the customer reads it;
/// `None` until one is published. Never the technician's internal notes.
pub async fn for_customer(
    db: &impl ConnectionTrait,
    shop: ShopId,
    ticket: TicketId,
) -> Result<Option<CustomerInspection>> {
    let Some(row) = store::latest_published(db, shop, ticket).await? else {
        return Ok(None);
    };
    let id = InspectionId::from_uuid(row.id);
    let findings = store::findings(db, shop, id).await?;
    let mut view = assemble(row, findings)?;
    super::with_media(db, shop, &mut view).await?;
    let mut list: Vec<(u8, i32, CustomerFinding)> = view
        .findings
        .into_iter()
        .filter_map(|f| {
            let rank = customer_rank(f.condition)?;
            Some((
                rank,
                f.row.position,
                CustomerFinding {
                    item_key: f.row.item_key,
                    label: f.item.label,
                    explanation: f.item.explanation,
                    condition: f.condition,
                    customer_note: f.row.customer_note,
                    measurement: f.measurement,
                    unit: f.item.unit,
                    service_id: f.row.service_id,
                    media: f.media,
                },
            ))
        })
        .collect();
    list.sort_by_key(|(rank, position, _)| (*rank, *position));
    Ok(Some(CustomerInspection {
        id,
        name: view.row.name,
        published_at: view.row.published_at,
        findings: list.into_iter().map(|(_, _, f)| f).collect(),
    }))
}
