//! Inspection sheets (`/api/v1/inspection-templates`): the shop's
//! templates for digital vehicle inspections, with import and export.
//! The use cases are `pitwall_core::inspections::sheets`.

use chrono::{DateTime, Utc};
use pitwall_core::App;
use pitwall_core::domain::InspectionTemplateId;
use pitwall_core::domain::inspections as domain;
use pitwall_core::domain::tickets::LineItemKind;
use pitwall_core::inspections::sheets::{self, Format, SheetTemplate};
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
