//! Inspection sheets (`/api/v1/inspection-templates`): the shop's
//! templates for digital vehicle inspections, with import and export.
//! The use cases are `pitwall_core::inspections::sheets`.

use chrono::{DateTime, Utc};
use pitwall_core::App;
use pitwall_core::domain::inspections as domain;
use pitwall_core::domain::tickets::LineItemKind;
use pitwall_core::domain::{InspectionId, InspectionTemplateId, StatusId, TicketId};
use pitwall_core::inspections::findings::{self, FindingInput, LineInput, ServiceInput};
use pitwall_core::inspections::published::CustomerInspection;
use pitwall_core::inspections::sheets::{self, Format, SheetTemplate};
use pitwall_core::inspections::{InspectionView, settings, start, workflow};
use pitwall_core::{Error, FieldError};
use poem::Request;
use poem::web::Data;
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::{Json, PlainText};
use poem_openapi::{ApiResponse, Object, OpenApi, Tags};
use serde::Deserialize;

use crate::auth::{UserToken, shop_ctx};
use crate::body::JsonBody;
use crate::error::{ApiError, ApiResult};
use crate::models::Accepted;

#[derive(Tags)]
pub enum InspectionTags {
    /// Inspection sheets: sections of items a technician rates.
    InspectionTemplates,
    /// Inspections of a ticket: findings, services, submit, return, publish.
    Inspections,
}

/// A line of an item's recommended service; money in minor units.
#[derive(Debug, Clone, Object, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceLineIo {
    /// `labor`, `part` or `fee`.
    pub kind: String,
    pub description: String,
    pub quantity: f64,
    /// Minor units (cents).
    pub unit_price: i64,
    #[serde(default)]
    #[oai(default)]
    pub taxable: bool,
}

/// The service a finding on the item usually becomes.
#[derive(Debug, Clone, Object, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecommendedServiceIo {
    pub title: String,
    #[serde(default)]
    #[oai(default)]
    pub line_items: Vec<ServiceLineIo>,
}

#[derive(Debug, Clone, Object, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SheetItemIo {
    /// Stable across edits and visits: `a-z`, `0-9`, `_`, unique in the sheet.
    pub key: String,
    pub label: String,
    /// `condition`, `measurement` (with `unit`), `tire` or `text`.
    pub kind: String,
    /// Measurements only: `mm`, `psi`, `%`...
    #[oai(nullable)]
    pub unit: Option<String>,
    /// When a photo is required: `never`, `on_attention` or `always`.
    pub photo: String,
    /// What the item is, in plain words, for the customer.
    #[oai(nullable)]
    pub explanation: Option<String>,
    #[oai(nullable)]
    pub service: Option<RecommendedServiceIo>,
}

#[derive(Debug, Clone, Object, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SheetSectionIo {
    pub name: String,
    pub items: Vec<SheetItemIo>,
}

#[derive(Debug, Clone, Object, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InspectionTemplateRequest {
    pub name: String,
    pub sections: Vec<SheetSectionIo>,
}

#[derive(Debug, Clone, Object)]
pub struct InspectionTemplateOut {
    pub id: uuid::Uuid,
    pub name: String,
    /// Bumped on every edit.
    pub version: i32,
    pub item_count: i32,
    pub sections: Vec<SheetSectionIo>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Object)]
pub struct InspectionTemplateSummary {
    pub id: uuid::Uuid,
    pub name: String,
    pub version: i32,
    pub item_count: i32,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Object)]
pub struct InspectionTemplateList {
    pub items: Vec<InspectionTemplateSummary>,
}

#[derive(Debug, Clone, Object, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InspectionTemplateImport {
    /// `json` (the export's `{"name", "sections"}`) or `csv` (one row per item).
    pub format: String,
    /// The file's text.
    pub content: String,
    /// The new sheet's name; else the JSON file's own.
    #[oai(nullable)]
    pub name: Option<String>,
}

#[derive(ApiResponse)]
pub enum TemplateCreated {
    /// The sheet, as stored.
    #[oai(status = 201)]
    Created(Json<InspectionTemplateOut>),
}

/// A sheet as a file: what `import` with `format: json` reads.
#[derive(Debug, Clone, Object)]
pub struct InspectionSheetFile {
    pub name: String,
    pub sections: Vec<SheetSectionIo>,
}

#[derive(ApiResponse)]
pub enum TemplateFile {
    /// The sheet as a JSON file (`{"name", "sections"}`).
    #[oai(status = 200)]
    Json(
        Json<InspectionSheetFile>,
        #[oai(header = "Content-Disposition")] String,
    ),
    /// The sheet as CSV: a header, then one row per item; a service's line
    /// items are a JSON array in `service_line_items`.
    #[oai(status = 200, content_type = "text/csv")]
    Csv(
        PlainText<String>,
        #[oai(header = "Content-Disposition")] String,
    ),
}

fn out(t: &SheetTemplate) -> InspectionTemplateOut {
    InspectionTemplateOut {
        id: t.row.id,
        name: t.row.name.clone(),
        version: t.row.version,
        item_count: t.row.item_count,
        sections: t
            .sheet
            .sections
            .iter()
            .map(|s| SheetSectionIo {
                name: s.name.clone(),
                items: s
                    .items
                    .iter()
                    .map(|i| SheetItemIo {
                        key: i.key.clone(),
                        label: i.label.clone(),
                        kind: i.kind.as_str().to_owned(),
                        unit: i.unit.clone(),
                        photo: i.photo.as_str().to_owned(),
                        explanation: i.explanation.clone(),
                        service: i.service.as_ref().map(|s| RecommendedServiceIo {
                            title: s.title.clone(),
                            line_items: s
                                .line_items
                                .iter()
                                .map(|l| ServiceLineIo {
                                    kind: l.kind.as_str().to_owned(),
                                    description: l.description.clone(),
                                    quantity: l.quantity,
                                    unit_price: l.unit_price,
                                    taxable: l.taxable,
                                })
                                .collect(),
                        }),
                    })
                    .collect(),
            })
            .collect(),
        created_at: t.row.created_at,
        updated_at: t.row.updated_at,
    }
}

/// The request's sections as the domain's sheet; names every word that is
/// not one of the allowed ones (`sections/0/items/2/kind`).
fn sheet_of(sections: Vec<SheetSectionIo>) -> Result<domain::Sheet, Error> {
    let mut problems = Vec::new();
    let mut bad = |field: String, message: &str| {
        problems.push(FieldError {
            field,
            message: message.to_owned(),
        })
    };
    let mut out = Vec::new();
    for (s, section) in sections.into_iter().enumerate() {
        let mut items = Vec::new();
        for (i, item) in section.items.into_iter().enumerate() {
            let at = |f: &str| format!("sections/{s}/items/{i}/{f}");
            let kind = domain::ItemKind::parse(&item.kind);
            if kind.is_none() {
                bad(at("kind"), "must be condition, measurement, tire or text");
            }
            let photo = domain::PhotoRule::parse(&item.photo);
            if photo.is_none() {
                bad(at("photo"), "must be never, on_attention or always");
            }
            let service = item.service.map(|svc| domain::RecommendedService {
                title: svc.title,
                line_items: svc
                    .line_items
                    .into_iter()
                    .enumerate()
                    .filter_map(|(l, line)| match LineItemKind::parse(&line.kind) {
                        Some(kind) => Some(domain::ServiceLine {
                            kind,
                            description: line.description,
                            quantity: line.quantity,
                            unit_price: line.unit_price,
                            taxable: line.taxable,
                        }),
                        None => {
                            bad(
                                at(&format!("service/line_items/{l}/kind")),
                                "must be labor, part or fee",
                            );
                            None
                        }
                    })
                    .collect(),
            });
            if let (Some(kind), Some(photo)) = (kind, photo) {
                items.push(domain::Item {
                    key: item.key,
                    label: item.label,
                    kind,
                    unit: item.unit,
                    photo,
                    explanation: item.explanation,
                    service,
                });
            }
        }
        out.push(domain::Section {
            name: section.name,
            items,
        });
    }
    if problems.is_empty() {
        Ok(domain::Sheet { sections: out })
    } else {
        Err(Error::InvalidFields(problems))
    }
}

fn template_id(id: uuid::Uuid) -> InspectionTemplateId {
    InspectionTemplateId::from_uuid(id)
}

pub struct InspectionsApi;

/// The shop's inspection settings.
#[derive(Debug, Clone, Object, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InspectionSettingsIo {
    /// The vehicle status set when an inspection is published (for example
    /// "Inspection complete"); null sets none.
    #[serde(default)]
    #[oai(nullable)]
    pub status_on_publish: Option<uuid::Uuid>,
}

#[OpenApi(prefix_path = "/api/v1")]
impl InspectionsApi {
    /// The shop's inspection sheets, by name (plan feature `inspections`).
    #[oai(
        path = "/inspection-templates",
        method = "get",
        tag = "InspectionTags::InspectionTemplates",
        operation_id = "list_inspection_templates"
    )]
    async fn list(
        &self,
        app: Data<&App>,
        req: &Request,
        auth: UserToken,
    ) -> ApiResult<InspectionTemplateList> {
        let ctx = shop_ctx(&app, req, &auth).await?;
        let rows = sheets::list(&app, &ctx).await?;
        Ok(Json(InspectionTemplateList {
            items: rows
                .into_iter()
                .map(|r| InspectionTemplateSummary {
                    id: r.id,
                    name: r.name,
                    version: r.version,
                    item_count: r.item_count,
                    updated_at: r.updated_at,
                })
                .collect(),
        }))
    }

    /// Create a sheet (`inspections.setup`). Every problem of its content is
    /// named at once, by JSON pointer (`sections/0/items/3/key`).
    #[oai(
        path = "/inspection-templates",
        method = "post",
        tag = "InspectionTags::InspectionTemplates",
        operation_id = "create_inspection_template"
    )]
    async fn create(
        &self,
        app: Data<&App>,
        req: &Request,
        auth: UserToken,
        body: JsonBody<InspectionTemplateRequest>,
    ) -> Result<TemplateCreated, ApiError> {
        let ctx = shop_ctx(&app, req, &auth).await?;
        let body = body.0;
        let sheet = sheet_of(body.sections)?;
        let t = sheets::create(&app, &ctx, &body.name, sheet).await?;
        Ok(TemplateCreated::Created(Json(out(&t))))
    }

    /// Create a sheet from a file exported here or written by hand: `json`
    /// or `csv`. A bad file answers 422 naming each row and column
    /// (`content/rows/7/kind`) and writes nothing.
    #[oai(
        path = "/inspection-templates/import",
        method = "post",
        tag = "InspectionTags::InspectionTemplates",
        operation_id = "import_inspection_template"
    )]
    async fn import(
        &self,
        app: Data<&App>,
        req: &Request,
        auth: UserToken,
        body: JsonBody<InspectionTemplateImport>,
    ) -> Result<TemplateCreated, ApiError> {
        let ctx = shop_ctx(&app, req, &auth).await?;
        let body = body.0;
        let format = Format::parse("format", &body.format)?;
        let t = sheets::import(&app, &ctx, format, &body.content, body.name.as_deref()).await?;
        Ok(TemplateCreated::Created(Json(out(&t))))
    }

    /// One sheet with its sections and items.
    #[oai(
        path = "/inspection-templates/:template_id",
        method = "get",
        tag = "InspectionTags::InspectionTemplates",
        operation_id = "get_inspection_template"
    )]
    async fn get(
        &self,
        app: Data<&App>,
        req: &Request,
        auth: UserToken,
        template_id: Path<uuid::Uuid>,
    ) -> ApiResult<InspectionTemplateOut> {
        let ctx = shop_ctx(&app, req, &auth).await?;
        let t = sheets::get(&app, &ctx, self::template_id(template_id.0)).await?;
        Ok(Json(out(&t)))
    }

    /// The shop's inspection settings (plan feature `inspections`).
    #[oai(
        path = "/inspection-settings",
        method = "get",
        tag = "InspectionTags::InspectionTemplates",
        operation_id = "get_inspection_settings"
    )]
    async fn get_settings(
        &self,
        app: Data<&App>,
        req: &Request,
        auth: UserToken,
    ) -> ApiResult<InspectionSettingsIo> {
        let ctx = shop_ctx(&app, req, &auth).await?;
        let s = settings::get(&app, &ctx).await?;
        Ok(Json(InspectionSettingsIo {
            status_on_publish: s.status_on_publish.map(|s| s.as_uuid()),
        }))
    }

    /// Save the inspection settings (`inspections.setup`): the vehicle
    /// status publishing an inspection sets (one of the shop's active
    /// statuses, 422 naming `status_on_publish` otherwise), or null.
    #[oai(
        path = "/inspection-settings",
        method = "put",
        tag = "InspectionTags::InspectionTemplates",
        operation_id = "update_inspection_settings"
    )]
    async fn put_settings(
        &self,
        app: Data<&App>,
        req: &Request,
        auth: UserToken,
        body: JsonBody<InspectionSettingsIo>,
    ) -> ApiResult<InspectionSettingsIo> {
        let ctx = shop_ctx(&app, req, &auth).await?;
        let s = settings::set(
            &app,
            &ctx,
            body.0.status_on_publish.map(StatusId::from_uuid),
        )
        .await?;
        Ok(Json(InspectionSettingsIo {
            status_on_publish: s.status_on_publish.map(|s| s.as_uuid()),
        }))
    }

    /// Replace a sheet's name and content. Inspections already started
    /// keep the copy they started with.
    #[oai(
        path = "/inspection-templates/:template_id",
        method = "put",
        tag = "InspectionTags::InspectionTemplates",
        operation_id = "update_inspection_template"
    )]
    async fn update(
        &self,
        app: Data<&App>,
        req: &Request,
        auth: UserToken,
        template_id: Path<uuid::Uuid>,
        body: JsonBody<InspectionTemplateRequest>,
    ) -> ApiResult<InspectionTemplateOut> {
        let ctx = shop_ctx(&app, req, &auth).await?;
        let body = body.0;
        let sheet = sheet_of(body.sections)?;
        let t = sheets::update(
            &app,
            &ctx,
            self::template_id(template_id.0),
            &body.name,
            sheet,
        )
        .await?;
        Ok(Json(out(&t)))
    }

    /// Delete a sheet. Inspections started from it keep their copy.
    #[oai(
        path = "/inspection-templates/:template_id",
        method = "delete",
        tag = "InspectionTags::InspectionTemplates",
        operation_id = "delete_inspection_template"
    )]
    async fn delete(
        &self,
        app: Data<&App>,
        req: &Request,
        auth: UserToken,
        template_id: Path<uuid::Uuid>,
    ) -> ApiResult<Accepted> {
        let ctx = shop_ctx(&app, req, &auth).await?;
        sheets::delete(&app, &ctx, self::template_id(template_id.0)).await?;
        Ok(Json(Accepted { ok: true }))
    }

    /// The sheet as a file, `json` (default) or `csv`; importing it gives
    /// the same sheet, and exporting that gives the same file.
    #[oai(
        path = "/inspection-templates/:template_id/export",
        method = "get",
        tag = "InspectionTags::InspectionTemplates",
        operation_id = "export_inspection_template"
    )]
    async fn export(
        &self,
        app: Data<&App>,
        req: &Request,
        auth: UserToken,
        template_id: Path<uuid::Uuid>,
        format: Query<Option<String>>,
    ) -> Result<TemplateFile, ApiError> {
        let ctx = shop_ctx(&app, req, &auth).await?;
        let format = Format::parse("format", format.0.as_deref().unwrap_or("json"))?;
        let (t, content) =
            sheets::export(&app, &ctx, self::template_id(template_id.0), format).await?;
        let file = |ext: &str| {
            format!(
                "attachment; filename=\"inspection-sheet-{}.{ext}\"",
                t.row.id
            )
        };
        Ok(match format {
            Format::Json => {
                let o = out(&t);
                TemplateFile::Json(
                    Json(InspectionSheetFile {
                        name: o.name,
                        sections: o.sections,
                    }),
                    file("json"),
                )
            }
            Format::Csv => TemplateFile::Csv(PlainText(content), file("csv")),
        })
    }
}

// ---- inspecting ----------------------------------------------------------

/// A photo or video of a finding.
#[derive(Debug, Clone, Object)]
pub struct InspectionMediaOut {
    pub id: uuid::Uuid,
    /// `image/jpeg`, `image/png`, `image/webp`, `image/heic`, `video/mp4`
    /// or `video/quicktime`.
    pub content_type: String,
    /// The original, on this server (byte ranges honoured): under
    /// `/api/v1/media/` for staff, under the link's `/c/{token}/media/`
    /// for the customer.
    pub url: String,
    /// A 320 px JPEG; null for video and HEIC.
    #[oai(nullable)]
    pub thumbnail_url: Option<String>,
    /// A 1600 px JPEG for pages; null for video and HEIC.
    #[oai(nullable)]
    pub screen_url: Option<String>,
    #[oai(nullable)]
    pub width: Option<i32>,
    #[oai(nullable)]
    pub height: Option<i32>,
}

fn media_out(m: &pitwall_core::model::media::Medium, token: Option<&str>) -> InspectionMediaOut {
    let url = match token {
        Some(t) => format!("/c/{t}/media/{}", m.id),
        None => format!("/api/v1/media/{}", m.id),
    };
    InspectionMediaOut {
        id: m.id,
        content_type: m.content_type.clone(),
        thumbnail_url: m.has_copies.then(|| format!("{url}?variant=thumb")),
        screen_url: m.has_copies.then(|| format!("{url}?variant=screen")),
        url,
        width: m.width,
        height: m.height,
    }
}

/// One item of the sheet as rated on this inspection.
#[derive(Debug, Clone, Object)]
pub struct FindingOut {
    pub item_key: String,
    pub label: String,
    /// `condition`, `measurement`, `tire` or `text`.
    pub kind: String,
    /// Measurements only.
    #[oai(nullable)]
    pub unit: Option<String>,
    /// The sheet section's name.
    pub section: String,
    /// `not_checked`, `good`, `needs_attention` or `urgent`.
    pub condition: String,
    /// A number (`measurement`), or tire positions (`lf`, `rf`, `lr`,
    /// `rr`, `spare`) to tread depths (`tire`).
    #[oai(nullable)]
    pub measurement: Option<serde_json::Value>,
    /// For the shop only; never shown to the customer.
    #[oai(nullable)]
    pub note: Option<String>,
    #[oai(nullable)]
    pub customer_note: Option<String>,
    pub media: Vec<InspectionMediaOut>,
    /// The recommended service made from this finding.
    #[oai(nullable)]
    pub service_id: Option<uuid::Uuid>,
    /// When the sheet asks for a photo: `never`, `on_attention`, `always`.
    pub photo: String,
    /// The same item on this vehicle's last finished (submitted or
    /// published) inspection in this shop; null when there is none or the
    /// item was not checked then.
    #[oai(nullable)]
    pub previous: Option<PreviousFindingOut>,
}

/// Last visit's reading of an item.
#[derive(Debug, Clone, Object)]
pub struct PreviousFindingOut {
    pub inspection_id: uuid::Uuid,
    /// `good`, `needs_attention` or `urgent`.
    pub condition: String,
    #[oai(nullable)]
    pub measurement: Option<serde_json::Value>,
    /// When that inspection was submitted.
    pub inspected_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Object)]
pub struct InspectionOut {
    pub id: uuid::Uuid,
    pub ticket_id: uuid::Uuid,
    /// The sheet it started from; null once that sheet is deleted.
    #[oai(nullable)]
    pub template_id: Option<uuid::Uuid>,
    pub name: String,
    /// `in_progress`, `submitted`, `returned` or `published`.
    pub status: String,
    /// Bumped by every change, each finding included.
    pub version: i32,
    /// Why the advisor sent it back (while `returned`).
    #[oai(nullable)]
    pub returned_reason: Option<String>,
    #[oai(nullable)]
    pub submitted_at: Option<DateTime<Utc>>,
    #[oai(nullable)]
    pub published_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// One per item of the sheet, in sheet order.
    pub findings: Vec<FindingOut>,
}

#[derive(Debug, Clone, Object)]
pub struct InspectionSummary {
    pub id: uuid::Uuid,
    pub name: String,
    pub status: String,
    pub version: i32,
    #[oai(nullable)]
    pub submitted_at: Option<DateTime<Utc>>,
    #[oai(nullable)]
    pub published_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Object)]
pub struct InspectionList {
    pub items: Vec<InspectionSummary>,
}

#[derive(Debug, Clone, Object, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StartInspectionRequest {
    /// One of the shop's sheets; the inspection keeps a copy of it.
    pub template_id: uuid::Uuid,
}

#[derive(Debug, Clone, Object, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FindingRequest {
    /// `not_checked`, `good`, `needs_attention` or `urgent`.
    pub condition: String,
    /// A number for `measurement` items; for `tire` items an object of
    /// positions (`lf`, `rf`, `lr`, `rr`, `spare`) to tread depths (0 to
    /// 100); null for the other kinds.
    #[serde(default)]
    #[oai(nullable)]
    pub measurement: Option<serde_json::Value>,
    /// For the shop only (at most 2000 characters).
    #[serde(default)]
    #[oai(nullable)]
    pub note: Option<String>,
    /// What the customer reads (at most 2000 characters).
    #[serde(default)]
    #[oai(nullable)]
    pub customer_note: Option<String>,
}

#[derive(Debug, Clone, Object, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FindingServiceRequest {
    /// The service's title; null (and no line items) takes the sheet
    /// item's recommended service.
    #[serde(default)]
    #[oai(nullable)]
    pub title: Option<String>,
    #[serde(default)]
    #[oai(default)]
    pub line_items: Vec<ServiceLineIo>,
}

#[derive(Debug, Clone, Object, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReturnInspectionRequest {
    /// What the technician should look at again (1 to 500 characters).
    pub reason: String,
}

#[derive(Debug, Clone, Object, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PublishInspectionRequest {
    /// `sms` or `email` sends the customer a link (every messaging rule
    /// applies); null publishes without sending.
    #[serde(default)]
    #[oai(nullable)]
    pub send: Option<String>,
}

#[derive(Debug, Clone, Object)]
pub struct PublishedInspectionOut {
    pub inspection: InspectionOut,
    /// The customer link sent with it, shown this once.
    #[oai(nullable)]
    pub link_url: Option<String>,
    #[oai(nullable)]
    pub message_id: Option<uuid::Uuid>,
}

/// A finding as the customer reads it.
#[derive(Debug, Clone, Object)]
pub struct CustomerFindingOut {
    pub item_key: String,
    pub label: String,
    /// What the item is, in plain words.
    #[oai(nullable)]
    pub explanation: Option<String>,
    /// `urgent`, `needs_attention` or `good`.
    pub condition: String,
    #[oai(nullable)]
    pub customer_note: Option<String>,
    #[oai(nullable)]
    pub measurement: Option<serde_json::Value>,
    #[oai(nullable)]
    pub unit: Option<String>,
    pub media: Vec<InspectionMediaOut>,
    /// The service to approve or decline with the others.
    #[oai(nullable)]
    pub service_id: Option<uuid::Uuid>,
}

/// The ticket's published inspection: urgent findings first, then those
/// needing attention, then good ones; unchecked items are left out.
#[derive(Debug, Clone, Object)]
pub struct CustomerInspectionOut {
    pub id: uuid::Uuid,
    pub name: String,
    #[oai(nullable)]
    pub published_at: Option<DateTime<Utc>>,
    pub findings: Vec<CustomerFindingOut>,
}

/// `token`: the link it is read through; `None` for the staff preview.
pub fn customer_inspection_out(
    i: &CustomerInspection,
    token: Option<&str>,
) -> CustomerInspectionOut {
    {
        CustomerInspectionOut {
            id: i.id.as_uuid(),
            name: i.name.clone(),
            published_at: i.published_at,
            findings: i
                .findings
                .iter()
                .map(|f| CustomerFindingOut {
                    item_key: f.item_key.clone(),
                    label: f.label.clone(),
                    explanation: f.explanation.clone(),
                    condition: f.condition.as_str().to_owned(),
                    customer_note: f.customer_note.clone(),
                    measurement: f.measurement.clone(),
                    unit: f.unit.clone(),
                    media: f.media.iter().map(|m| media_out(m, token)).collect(),
                    service_id: f.service_id,
                })
                .collect(),
        }
    }
}

fn inspection_out(v: &InspectionView) -> InspectionOut {
    let r = &v.row;
    InspectionOut {
        id: r.id,
        ticket_id: r.ticket_id,
        template_id: r.template_id,
        name: r.name.clone(),
        status: v.status.as_str().to_owned(),
        version: r.version,
        returned_reason: r.returned_reason.clone(),
        submitted_at: r.submitted_at,
        published_at: r.published_at,
        created_at: r.created_at,
        updated_at: r.updated_at,
        findings: v
            .findings
            .iter()
            .map(|f| FindingOut {
                item_key: f.row.item_key.clone(),
                label: f.item.label.clone(),
                kind: f.item.kind.as_str().to_owned(),
                unit: f.item.unit.clone(),
                section: f.section.clone(),
                condition: f.condition.as_str().to_owned(),
                measurement: f.measurement.clone(),
                note: f.row.note.clone(),
                customer_note: f.row.customer_note.clone(),
                media: f.media.iter().map(|m| media_out(m, None)).collect(),
                service_id: f.row.service_id,
                photo: f.item.photo.as_str().to_owned(),
                previous: f.previous.as_ref().map(|p| PreviousFindingOut {
                    inspection_id: p.inspection_id.as_uuid(),
                    condition: p.condition.as_str().to_owned(),
                    measurement: p.measurement.clone(),
                    inspected_at: p.inspected_at,
                }),
            })
            .collect(),
    }
}

#[derive(ApiResponse)]
pub enum InspectionCreated {
    /// The inspection, as stored.
    #[oai(status = 201)]
    Created(Json<InspectionOut>),
}

fn inspection_id(id: uuid::Uuid) -> InspectionId {
    InspectionId::from_uuid(id)
}

pub struct InspectingApi;

#[OpenApi(prefix_path = "/api/v1")]
impl InspectingApi {
    /// Start an inspection on the ticket from one of the shop's sheets
    /// (`inspections.edit`): one finding per item, each `not_checked`. The
    /// inspection keeps a copy of the sheet: editing or deleting the sheet
    /// later changes nothing here.
    #[oai(
        path = "/tickets/:ticket_id/inspections",
        method = "post",
        tag = "InspectionTags::Inspections",
        operation_id = "start_inspection"
    )]
    async fn start(
        &self,
        app: Data<&App>,
        req: &Request,
        auth: UserToken,
        ticket_id: Path<uuid::Uuid>,
        body: JsonBody<StartInspectionRequest>,
    ) -> Result<InspectionCreated, ApiError> {
        let ctx = shop_ctx(&app, req, &auth).await?;
        let v = start::start(
            &app,
            &ctx,
            TicketId::from_uuid(ticket_id.0),
            InspectionTemplateId::from_uuid(body.0.template_id),
        )
        .await?;
        Ok(InspectionCreated::Created(Json(inspection_out(&v))))
    }

    /// The ticket's inspections, oldest first.
    #[oai(
        path = "/tickets/:ticket_id/inspections",
        method = "get",
        tag = "InspectionTags::Inspections",
        operation_id = "list_ticket_inspections"
    )]
    async fn list(
        &self,
        app: Data<&App>,
        req: &Request,
        auth: UserToken,
        ticket_id: Path<uuid::Uuid>,
    ) -> ApiResult<InspectionList> {
        let ctx = shop_ctx(&app, req, &auth).await?;
        let rows = start::of_ticket(&app, &ctx, TicketId::from_uuid(ticket_id.0)).await?;
        Ok(Json(InspectionList {
            items: rows
                .into_iter()
                .map(|r| InspectionSummary {
                    id: r.id,
                    name: r.name,
                    status: r.status,
                    version: r.version,
                    submitted_at: r.submitted_at,
                    published_at: r.published_at,
                    created_at: r.created_at,
                    updated_at: r.updated_at,
                })
                .collect(),
        }))
    }

    /// One inspection with every finding, in sheet order.
    #[oai(
        path = "/inspections/:inspection_id",
        method = "get",
        tag = "InspectionTags::Inspections",
        operation_id = "get_inspection"
    )]
    async fn get(
        &self,
        app: Data<&App>,
        req: &Request,
        auth: UserToken,
        inspection_id: Path<uuid::Uuid>,
    ) -> ApiResult<InspectionOut> {
        let ctx = shop_ctx(&app, req, &auth).await?;
        let v = start::get(&app, &ctx, self::inspection_id(inspection_id.0)).await?;
        Ok(Json(inspection_out(&v)))
    }

    /// Set one finding (`inspections.edit`) while the inspection is in
    /// progress or returned. Only this finding's row is written, so two
    /// devices rating different items never lose each other's work; the
    /// inspection's version goes up. Bad input answers 422 naming the
    /// field (`measurement/lf`) and changes nothing.
    #[oai(
        path = "/inspections/:inspection_id/findings/:item_key",
        method = "put",
        tag = "InspectionTags::Inspections",
        operation_id = "update_inspection_finding"
    )]
    async fn set_finding(
        &self,
        app: Data<&App>,
        req: &Request,
        auth: UserToken,
        inspection_id: Path<uuid::Uuid>,
        item_key: Path<String>,
        body: JsonBody<FindingRequest>,
    ) -> ApiResult<InspectionOut> {
        let ctx = shop_ctx(&app, req, &auth).await?;
        let b = body.0;
        let v = findings::set(
            &app,
            &ctx,
            self::inspection_id(inspection_id.0),
            &item_key.0,
            FindingInput {
                condition: b.condition,
                measurement: b.measurement,
                note: b.note,
                customer_note: b.customer_note,
            },
        )
        .await?;
        Ok(Json(inspection_out(&v)))
    }

    /// Turn a finding into a recommended service on the ticket
    /// (`inspections.edit`): the sheet item's service, or the body's,
    /// priced by the same rules as every other service. A POS push keeps
    /// it until the POS sends it itself (external id `pitwall-{id}`).
    #[oai(
        path = "/inspections/:inspection_id/findings/:item_key/service",
        method = "post",
        tag = "InspectionTags::Inspections",
        operation_id = "create_finding_service"
    )]
    async fn to_service(
        &self,
        app: Data<&App>,
        req: &Request,
        auth: UserToken,
        inspection_id: Path<uuid::Uuid>,
        item_key: Path<String>,
        body: JsonBody<FindingServiceRequest>,
    ) -> Result<InspectionCreated, ApiError> {
        let ctx = shop_ctx(&app, req, &auth).await?;
        let b = body.0;
        let input = match (b.title, b.line_items.is_empty()) {
            (None, true) => None,
            (title, _) => Some(ServiceInput {
                title: title.unwrap_or_default(),
                line_items: b
                    .line_items
                    .into_iter()
                    .map(|l| LineInput {
                        kind: l.kind,
                        description: l.description,
                        quantity: l.quantity,
                        unit_price: l.unit_price,
                        taxable: l.taxable,
                    })
                    .collect(),
            }),
        };
        let v = findings::to_service(
            &app,
            &ctx,
            self::inspection_id(inspection_id.0),
            &item_key.0,
            input,
        )
        .await?;
        Ok(InspectionCreated::Created(Json(inspection_out(&v))))
    }

    /// Hand the inspection in (`inspections.edit`). Refused (422) while a
    /// finding the sheet asks a photo of has none: `errors` names each
    /// `findings/{item_key}/media`.
    #[oai(
        path = "/inspections/:inspection_id/submit",
        method = "post",
        tag = "InspectionTags::Inspections",
        operation_id = "submit_inspection"
    )]
    async fn submit(
        &self,
        app: Data<&App>,
        req: &Request,
        auth: UserToken,
        inspection_id: Path<uuid::Uuid>,
    ) -> ApiResult<InspectionOut> {
        let ctx = shop_ctx(&app, req, &auth).await?;
        let v = workflow::submit(&app, &ctx, self::inspection_id(inspection_id.0)).await?;
        Ok(Json(inspection_out(&v)))
    }

    /// Send a submitted inspection back to the technician with a reason
    /// (`tickets.edit`).
    #[oai(
        path = "/inspections/:inspection_id/return",
        method = "post",
        tag = "InspectionTags::Inspections",
        operation_id = "return_inspection"
    )]
    async fn send_back(
        &self,
        app: Data<&App>,
        req: &Request,
        auth: UserToken,
        inspection_id: Path<uuid::Uuid>,
        body: JsonBody<ReturnInspectionRequest>,
    ) -> ApiResult<InspectionOut> {
        let ctx = shop_ctx(&app, req, &auth).await?;
        let v = workflow::send_back(
            &app,
            &ctx,
            self::inspection_id(inspection_id.0),
            &body.0.reason,
        )
        .await?;
        Ok(Json(inspection_out(&v)))
    }

    /// Show a submitted inspection to the customer (`customer_links.send`);
    /// with `send` a customer link goes out by text or e-mail through
    /// every messaging rule (when it cannot, nothing is published).
    #[oai(
        path = "/inspections/:inspection_id/publish",
        method = "post",
        tag = "InspectionTags::Inspections",
        operation_id = "publish_inspection"
    )]
    async fn publish(
        &self,
        app: Data<&App>,
        req: &Request,
        auth: UserToken,
        inspection_id: Path<uuid::Uuid>,
        body: JsonBody<PublishInspectionRequest>,
    ) -> ApiResult<PublishedInspectionOut> {
        let ctx = shop_ctx(&app, req, &auth).await?;
        let (v, issued) = workflow::publish(
            &app,
            &ctx,
            self::inspection_id(inspection_id.0),
            body.0.send.as_deref(),
        )
        .await?;
        Ok(Json(PublishedInspectionOut {
            inspection: inspection_out(&v),
            link_url: issued.as_ref().map(|i| i.url.clone()),
            message_id: issued
                .as_ref()
                .and_then(|i| i.message.as_ref().map(|m| m.id)),
        }))
    }
}
