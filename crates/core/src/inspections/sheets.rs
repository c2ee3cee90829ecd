//! Inspection sheets: list, read, create, edit, delete, import and export.
//! The rules of a sheet's content live in `pitwall_domain::inspections`;
//! here: who may, the plan, names, and storage.

use pitwall_domain::inspections::{self as sheet, Sheet, SheetProblem};
use pitwall_domain::{Feature, InspectionTemplateId, Permission};
use pitwall_store::inspection_templates::{self as store, InspectionTemplate};

use crate::{App, Error, FieldError, Result, ShopCtx};

/// The name a shop's first sheet is created with.
pub const MULTIPOINT_NAME: &str = "Multi-point inspection";

/// A sheet with its content read.
#[derive(Debug, Clone)]
pub struct SheetTemplate {
    pub row: InspectionTemplate,
    pub sheet: Sheet,
}

/// Import and export formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Json,
    Csv,
}

impl Format {
    pub fn parse(field: &str, s: &str) -> Result<Self> {
        match s.trim() {
            "json" => Ok(Format::Json),
            "csv" => Ok(Format::Csv),
            _ => Err(Error::invalid(field, "must be json or csv")),
        }
    }
}

/// The largest sheet file accepted for import.
pub const MAX_IMPORT_BYTES: usize = 512 * 1024;

fn problems(prefix: &str, list: Vec<SheetProblem>) -> Error {
    Error::InvalidFields(
        list.into_iter()
            .map(|p| FieldError {
                field: match (prefix, p.field.as_str()) {
                    ("", _) => p.field,
                    (_, "") => prefix.to_owned(),
                    _ => format!("{prefix}/{}", p.field),
                },
                message: p.message,
            })
            .collect(),
    )
}

fn read(row: InspectionTemplate) -> Result<SheetTemplate> {
    let sheet: Sheet = serde_json::from_str(&row.sheet)
        .map_err(|e| Error::Internal(format!("inspection sheet {}: {e}", row.id)))?;
    Ok(SheetTemplate { row, sheet })
}

fn name_of(raw: &str) -> Result<String> {
    pitwall_domain::values::required_text(raw, 120).map_err(Error::field("name"))
}

async fn may_read(app: &App, ctx: &ShopCtx) -> Result<()> {
    ctx.require_feature(Feature::Inspections)?;
    app.require(ctx, Permission::TicketsView).await
}

async fn may_edit(app: &App, ctx: &ShopCtx) -> Result<()> {
    ctx.require_feature(Feature::Inspections)?;
    app.require(ctx, Permission::InspectionsSetup).await?;
    ctx.require_writable()
}

/// The shop's sheets, by name.
pub async fn list(app: &App, ctx: &ShopCtx) -> Result<Vec<InspectionTemplate>> {
    may_read(app, ctx).await?;
    Ok(store::list(&app.db, ctx.shop_id()).await?)
}

pub async fn get(app: &App, ctx: &ShopCtx, id: InspectionTemplateId) -> Result<SheetTemplate> {
    may_read(app, ctx).await?;
    let row = store::get(&app.db, ctx.shop_id(), id)
        .await?
        .ok_or(Error::NotFound("inspection template"))?;
    read(row)
}

/// Creates a sheet; every problem of its content is named at once
/// (`sections/0/items/3/key`).
pub async fn create(app: &App, ctx: &ShopCtx, name: &str, sheet: Sheet) -> Result<SheetTemplate> {
    may_edit(app, ctx).await?;
    let name = name_of(name)?;
    let found = sheet.problems(&sheet::JsonPaths);
    if !found.is_empty() {
        return Err(problems("", found));
    }
    insert(app, ctx, &name, &sheet).await
}

async fn insert(app: &App, ctx: &ShopCtx, name: &str, sheet: &Sheet) -> Result<SheetTemplate> {
    let row = store::insert(
        &app.db,
        ctx.shop_id(),
        name,
        &sheet.to_json(),
        sheet.item_count() as i32,
    )
    .await?;
    read(row)
}

/// Replaces a sheet's name and content. Inspections already started keep
/// the copy they were started with.
pub async fn update(
    app: &App,
    ctx: &ShopCtx,
    id: InspectionTemplateId,
    name: &str,
    sheet: Sheet,
) -> Result<SheetTemplate> {
    may_edit(app, ctx).await?;
    // Another shop's id is not found, whatever the body says.
    store::get(&app.db, ctx.shop_id(), id)
        .await?
        .ok_or(Error::NotFound("inspection template"))?;
    let name = name_of(name)?;
    let found = sheet.problems(&sheet::JsonPaths);
    if !found.is_empty() {
        return Err(problems("", found));
    }
    let row = store::update(
        &app.db,
        ctx.shop_id(),
        id,
        &name,
        &sheet.to_json(),
        sheet.item_count() as i32,
    )
    .await?
    .ok_or(Error::NotFound("inspection template"))?;
    read(row)
}

pub async fn delete(app: &App, ctx: &ShopCtx, id: InspectionTemplateId) -> Result<()> {
    may_edit(app, ctx).await?;
    if !store::delete(&app.db, ctx.shop_id(), id).await? {
        return Err(Error::NotFound("inspection template"));
    }
    Ok(())
}

/// A sheet as a file: JSON (`{"name", "sections"}`) or CSV (one row per
/// item). Exporting, importing and exporting again gives the same content.
pub async fn export(
    app: &App,
    ctx: &ShopCtx,
    id: InspectionTemplateId,
    format: Format,
) -> Result<(SheetTemplate, String)> {
    let t = get(app, ctx, id).await?;
    app.require(ctx, Permission::InspectionsSetup).await?;
    let content = match format {
        Format::Json => sheet::to_json_file(&t.row.name, &t.sheet),
        Format::Csv => sheet::to_csv(&t.sheet),
    };
    Ok((t, content))
}

/// Creates a sheet from a file. A bad file is refused as a whole, each
/// problem named by its place (`content/rows/7/kind` for CSV,
/// `content/sections/0/items/2/key` for JSON), and nothing is written. The
/// name comes from `name`, else the JSON file's own, else a default.
pub async fn import(
    app: &App,
    ctx: &ShopCtx,
    format: Format,
    content: &str,
    name: Option<&str>,
) -> Result<SheetTemplate> {
    may_edit(app, ctx).await?;
    if content.len() > MAX_IMPORT_BYTES {
        return Err(Error::invalid(
            "content",
            format!("must be at most {} KiB", MAX_IMPORT_BYTES / 1024),
        ));
    }
    let (file_name, sheet) = match format {
        Format::Json => sheet::from_json(content).map_err(|p| problems("content", p))?,
        Format::Csv => (
            None,
            sheet::from_csv(content).map_err(|p| problems("content", p))?,
        ),
    };
    let name = match name.map(str::trim).filter(|n| !n.is_empty()) {
        Some(n) => name_of(n)?,
        None => match file_name {
            Some(n) => name_of(&n)
                .map_err(|_| Error::invalid("content/name", "must be 1 to 120 characters"))?,
            None => "Imported sheet".to_owned(),
        },
    };
    insert(app, ctx, &name, &sheet).await
}

/// Gives a new shop the built-in multi-point sheet (in the transaction
/// that creates it).
pub(crate) async fn seed(
    db: &impl pitwall_store::sea_orm::ConnectionTrait,
    shop: pitwall_domain::ShopId,
) -> Result<()> {
    let sheet = sheet::multipoint();
    store::insert(
        db,
        shop,
        MULTIPOINT_NAME,
        &sheet.to_json(),
        sheet.item_count() as i32,
    )
    .await?;
    Ok(())
}
