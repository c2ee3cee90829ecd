//! Inspection sheet pages: the list with import, one sheet's editor (its
//! CSV, one row per item, as a spreadsheet shows it), export and delete.
//! Every action is a use case of `pitwall_core::inspections::sheets`.

use minijinja::context;
use pitwall_core::App;
use pitwall_core::domain::{InspectionTemplateId, Permission, inspections as domain};
use pitwall_core::inspections::sheets::{self, Format};
use poem::http::{StatusCode, header};
use poem::web::{Data, Path, Query};
use poem::{IntoResponse, Request, Response, handler};
use serde::Deserialize;

use super::{Notice, Page, finish, parse_id, respond};
use crate::render::{self, OrPage};
use crate::session::{FormData, InShop, Signed, flash};

async fn list_page(
    app: &App,
    shop: &InShop,
    notice: Notice,
    typed: Option<(&str, &str, &str)>,
) -> Page {
    let rows = sheets::list(app, &shop.ctx).await.or_page(&shop.layout)?;
    let may_edit = app.may(&shop.ctx, Permission::InspectionsSetup).await;
    let (format, name, content) = typed.unwrap_or(("csv", "", ""));
    Ok(render::page(
        notice.status,
        "inspection_sheets.html",
        context! {
            sheets => rows.iter().map(|r| context! {
                id => r.id.to_string(), name => r.name.clone(), items => r.item_count,
                updated => render::day(r.updated_at),
            }).collect::<Vec<_>>(),
            may_edit,
            import => context! { format, name, content },
            columns => domain::CSV_COLUMNS.join(","),
            ..notice.with(&shop.layout)
        },
    ))
}

#[handler]
pub(crate) async fn list(app: Data<&App>, req: &Request) -> Response {
    respond(
        async {
            let shop = Signed::from(&app, req).await?.in_shop(&app).await?;
            list_page(&app, &shop, Notice::ok(flash(req)), None).await
        }
        .await,
    )
}

#[handler]
pub(crate) async fn import(app: Data<&App>, req: &Request, form: FormData) -> Response {
    respond(
        async {
            let shop = Signed::posted(&app, req, &form)
                .await?
                .in_shop(&app)
                .await?;
            let result = match Format::parse("format", form.get("format")) {
                Ok(f) => {
                    sheets::import(&app, &shop.ctx, f, form.get("content"), form.opt("name")).await
                }
                Err(e) => Err(e),
            };
            match result {
                Ok(t) => Ok(render::redirect(&format!(
                    "/app/inspection-sheets/{}?ok=saved",
                    t.row.id
                ))),
                Err(e) => {
                    super::refused(&e, &shop.layout, async |n| {
                        let typed = (form.get("format"), form.get("name"), form.get("content"));
                        list_page(&app, &shop, n, Some(typed)).await
                    })
                    .await
                }
            }
        }
        .await,
    )
}

async fn edit_page(
    app: &App,
    shop: &InShop,
    id: InspectionTemplateId,
    notice: Notice,
    typed: Option<(&str, &str)>,
) -> Page {
    let t = sheets::get(app, &shop.ctx, id)
        .await
        .or_page(&shop.layout)?;
    let may_edit = app.may(&shop.ctx, Permission::InspectionsSetup).await;
    let csv = domain::to_csv(&t.sheet);
    let (name, content) = typed.unwrap_or((&t.row.name, &csv));
    Ok(render::page(
        notice.status,
        "inspection_sheet.html",
        context! {
            sheet => context! {
                id => t.row.id.to_string(), version => t.row.version, items => t.row.item_count,
                sections => t.sheet.sections.iter().map(|s| context! {
                    name => s.name.clone(),
                    items => s.items.iter().map(|i| context! {
                        key => i.key.clone(), label => i.label.clone(), kind => i.kind.as_str(),
                        unit => i.unit.clone(), photo => i.photo.as_str(),
                        service => i.service.as_ref().map(|s| s.title.clone()),
                    }).collect::<Vec<_>>(),
                }).collect::<Vec<_>>(),
            },
            name, content, may_edit,
            columns => domain::CSV_COLUMNS.join(","),
            ..notice.with(&shop.layout)
        },
    ))
}

#[handler]
pub(crate) async fn show(app: Data<&App>, req: &Request, Path(id): Path<String>) -> Response {
    respond(
        async {
            let shop = Signed::from(&app, req).await?.in_shop(&app).await?;
            let id = parse_id(&id, "inspection template").or_page(&shop.layout)?;
            edit_page(&app, &shop, id, Notice::ok(flash(req)), None).await
        }
        .await,
    )
}

#[handler]
pub(crate) async fn save(
    app: Data<&App>,
    req: &Request,
    Path(id): Path<String>,
    form: FormData,
) -> Response {
    respond(
        async {
            let shop = Signed::posted(&app, req, &form)
                .await?
                .in_shop(&app)
                .await?;
            let id: InspectionTemplateId =
                parse_id(&id, "inspection template").or_page(&shop.layout)?;
            let result = sheets::update_from_file(
                &app,
                &shop.ctx,
                id,
                form.get("name"),
                Format::Csv,
                form.get("content"),
            )
            .await;
            finish(
                result,
                &format!("/app/inspection-sheets/{id}?ok=saved"),
                &shop.layout,
                async |n| {
                    edit_page(
                        &app,
                        &shop,
                        id,
                        n,
                        Some((form.get("name"), form.get("content"))),
                    )
                    .await
                },
            )
            .await
        }
        .await,
    )
}

#[handler]
pub(crate) async fn delete(
    app: Data<&App>,
    req: &Request,
    Path(id): Path<String>,
    form: FormData,
) -> Response {
    respond(
        async {
            let shop = Signed::posted(&app, req, &form)
                .await?
                .in_shop(&app)
                .await?;
            let id: InspectionTemplateId =
                parse_id(&id, "inspection template").or_page(&shop.layout)?;
            let result = sheets::delete(&app, &shop.ctx, id).await;
            finish(
                result,
                "/app/inspection-sheets?ok=deleted",
                &shop.layout,
                async |n| edit_page(&app, &shop, id, n, None).await,
            )
            .await
        }
        .await,
    )
}

#[derive(Deserialize)]
pub(crate) struct ExportQuery {
    format: Option<String>,
}

/// The sheet as a file download, the same file the API exports.
#[handler]
pub(crate) async fn export(
    app: Data<&App>,
    req: &Request,
    Path(id): Path<String>,
    Query(q): Query<ExportQuery>,
) -> Response {
    respond(
        async {
            let shop = Signed::from(&app, req).await?.in_shop(&app).await?;
            let id: InspectionTemplateId =
                parse_id(&id, "inspection template").or_page(&shop.layout)?;
            let format = Format::parse("format", q.format.as_deref().unwrap_or("csv"))
                .or_page(&shop.layout)?;
            let (t, content) = sheets::export(&app, &shop.ctx, id, format)
                .await
                .or_page(&shop.layout)?;
            let (kind, ext) = match format {
                Format::Json => ("application/json", "json"),
                Format::Csv => ("text/csv; charset=utf-8", "csv"),
            };
            Ok(content
                .with_status(StatusCode::OK)
                .with_header(header::CONTENT_TYPE, kind)
                .with_header(
                    header::CONTENT_DISPOSITION,
                    format!(
                        "attachment; filename=\"inspection-sheet-{}.{ext}\"",
                        t.row.id
                    ),
                )
                .into_response())
        }
        .await,
    )
}
