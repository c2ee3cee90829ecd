//! The inspection pages: the technician's phone page (one section per
//! screen, a tap saves a finding, photos upload in the background) and the
//! advisor's review on the same page (send back, publish). Every action is
//! a use case of `pitwall_core::inspections`, the same the API calls.
//!
//! Without script every form still works (posts and redirects back); the
//! page's script sends the same forms with `Accept: application/json` and
//! gets a small JSON answer instead of a page.

use minijinja::{Value, context};
use pitwall_core::domain::findings::InspectionStatus;
use pitwall_core::domain::findings::{TIRE_POSITIONS, needs_photo};
use pitwall_core::domain::inspections::{Condition, ItemKind};
use pitwall_core::domain::{InspectionId, MediaId, Permission, TicketId};
use pitwall_core::inspections::findings::{self, FindingInput};
use pitwall_core::inspections::{FindingView, media, start, workflow};
use pitwall_core::{App, Error};
use poem::http::StatusCode;
use poem::web::{Data, Multipart, Path};
use poem::{Request, Response, handler};
use tokio::io::AsyncReadExt;

use super::tickets::local;
use super::{Notice, Page, parse_id, respond};
use crate::render::{self, OrPage};
use crate::session::{FormData, InShop, Signed, flash};

/// The page's script asked for JSON rather than a page.
fn wants_json(req: &Request) -> bool {
    req.header("accept")
        .is_some_and(|a| a.contains("application/json"))
}

fn json(status: StatusCode, body: serde_json::Value) -> Response {
    Response::builder()
        .status(status)
        .content_type("application/json")
        .header("cache-control", "no-store")
        .body(body.to_string())
}

fn json_error(e: &Error) -> Response {
    let (status, message) = render::error_text(e);
    json(status, serde_json::json!({ "error": message }))
}

fn measurement_text(v: &serde_json::Value) -> String {
    match v.as_f64() {
        Some(n) if n.fract() == 0.0 => format!("{n:.0}"),
        Some(n) => format!("{n}"),
        None => String::new(),
    }
}

fn tire_label(pos: &str) -> &'static str {
    match pos {
        "lf" => "Left front",
        "rf" => "Right front",
        "lr" => "Left rear",
        "rr" => "Right rear",
        _ => "Spare",
    }
}

/// A reading in words: `7 mm`, or `LF 6 · RF 5.5 mm` for tires.
fn reading(kind: ItemKind, unit: Option<&str>, m: Option<&serde_json::Value>) -> Option<String> {
    let m = m?;
    let unit = unit.map(|u| format!(" {u}")).unwrap_or_default();
    match kind {
        ItemKind::Tire => {
            let parts: Vec<String> = TIRE_POSITIONS
                .iter()
                .filter_map(|p| {
                    m.get(*p)
                        .map(|v| format!("{} {}", p.to_uppercase(), measurement_text(v)))
                })
                .collect();
            (!parts.is_empty()).then(|| format!("{} mm", parts.join(" · ")))
        }
        _ => Some(format!("{}{unit}", measurement_text(m))),
    }
}

fn finding_value(shop: &InShop, f: &FindingView) -> Value {
    let item = &f.item;
    let media: Vec<Value> = f
        .media
        .iter()
        .map(|m| {
            let url = format!("/app/media/{}", m.id);
            context! {
                id => m.id.to_string(),
                video => m.content_type.starts_with("video/"),
                thumb => m.has_copies.then(|| format!("{url}?variant=thumb")),
                url,
            }
        })
        .collect();
    let tires: Vec<Value> = if item.kind == ItemKind::Tire {
        TIRE_POSITIONS
            .iter()
            .map(|p| context! {
                pos => *p,
                label => tire_label(p),
                value => f.measurement.as_ref().and_then(|m| m.get(*p)).map(measurement_text).unwrap_or_default(),
            })
            .collect()
    } else {
        vec![]
    };
    context! {
        key => f.row.item_key.clone(),
        label => item.label.clone(),
        kind => item.kind.as_str(),
        unit => item.unit.clone(),
        explanation => item.explanation.clone(),
        photo => item.photo.as_str(),
        condition => f.condition.as_str(),
        measurement => f.measurement.as_ref().filter(|_| item.kind == ItemKind::Measurement).map(measurement_text).unwrap_or_default(),
        tires,
        note => f.row.note.clone().unwrap_or_default(),
        customer_note => f.row.customer_note.clone().unwrap_or_default(),
        media,
        needs_photo => needs_photo(item.photo, f.condition) && f.media.is_empty(),
        on_estimate => f.row.service_id.is_some(),
        suggested_service => item.service.as_ref().map(|s| s.title.clone()),
        previous => f.previous.as_ref().map(|p| context! {
            condition => p.condition.as_str().replace('_', " "),
            reading => reading(item.kind, item.unit.as_deref(), p.measurement.as_ref()),
            at => render::day(p.inspected_at),
        }),
        updated => local(shop, f.row.updated_at),
    }
}

async fn inspection_page(app: &App, shop: &InShop, id: InspectionId, notice: Notice) -> Page {
    let v = start::get(app, &shop.ctx, id).await.or_page(&shop.layout)?;
    let ctx = &shop.ctx;
    let may_edit =
        app.may(ctx, Permission::InspectionsEdit).await && ctx.require_writable().is_ok();
    let editable = v.status.editable() && may_edit;
    let sections: Vec<Value> = v
        .sheet
        .sections
        .iter()
        .enumerate()
        .map(|(n, s)| {
            let of_section: Vec<&FindingView> =
                v.findings.iter().filter(|f| f.section == s.name).collect();
            let checked = of_section
                .iter()
                .filter(|f| f.condition != Condition::NotChecked)
                .count();
            let findings: Vec<Value> = of_section.iter().map(|f| finding_value(shop, f)).collect();
            context! { n => n + 1, name => s.name.clone(), findings, checked }
        })
        .collect();
    let checked = v
        .findings
        .iter()
        .filter(|f| f.condition != Condition::NotChecked)
        .count();
    Ok(render::page(
        notice.status,
        "inspection.html",
        context! {
            inspection => context! {
                id => v.row.id.to_string(),
                ticket_id => v.row.ticket_id.to_string(),
                name => v.row.name.clone(),
                status => v.status.as_str(),
                status_label => v.status.as_str().replace('_', " "),
                version => v.row.version,
                returned_reason => v.row.returned_reason.clone(),
                submitted_at => v.row.submitted_at.map(|t| local(shop, t)),
                published_at => v.row.published_at.map(|t| local(shop, t)),
                items => v.findings.len(),
                checked,
                sections,
            },
            editable,
            may_review => v.status == InspectionStatus::Submitted
                && app.may(ctx, Permission::TicketsEdit).await && ctx.require_writable().is_ok(),
            may_publish => v.status == InspectionStatus::Submitted
                && app.may(ctx, Permission::CustomerLinksSend).await && ctx.require_writable().is_ok(),
            may_add_service => may_edit && v.status != InspectionStatus::Published,
            max_mb => app.config().media_max_bytes / (1024 * 1024),
            ..notice.with(&shop.layout)
        },
    ))
}

#[handler]
pub(crate) async fn show(app: Data<&App>, req: &Request, Path(id): Path<String>) -> Response {
    respond(
        async {
            let shop = Signed::from(&app, req).await?.in_shop(&app).await?;
            let id = parse_id(&id, "inspection").or_page(&shop.layout)?;
            inspection_page(&app, &shop, id, Notice::ok(flash(req))).await
        }
        .await,
    )
}

/// Starts an inspection on the ticket from the chosen sheet.
#[handler]
pub(crate) async fn begin(
    app: Data<&App>,
    req: &Request,
    Path(ticket): Path<String>,
    form: FormData,
) -> Response {
    respond(
        async {
            let shop = Signed::posted(&app, req, &form)
                .await?
                .in_shop(&app)
                .await?;
            let ticket: TicketId = parse_id(&ticket, "ticket").or_page(&shop.layout)?;
            let template = parse_id(form.get("template_id"), "inspection template")
                .map_err(|_| Error::invalid("template_id", "choose one of the shop's sheets"));
            let result = match template {
                Ok(t) => start::start(&app, &shop.ctx, ticket, t).await,
                Err(e) => Err(e),
            };
            match result {
                Ok(v) => Ok(render::redirect(&format!(
                    "/app/inspections/{}?ok=inspection_started",
                    v.row.id
                ))),
                Err(e) => Err(render::error(&e, shop.layout.clone())),
            }
        }
        .await,
    )
}

/// A measurement as typed into the form, in the shape the use case
/// checks: text that is not a number is passed on as text, so that the
/// error names the field.
fn typed_number(raw: &str) -> Option<serde_json::Value> {
    let raw = raw.trim();
    if raw.is_empty() {
        return None;
    }
    Some(
        raw.replace(',', ".")
            .parse::<f64>()
            .ok()
            .and_then(serde_json::Number::from_f64)
            .map_or_else(|| serde_json::json!(raw), serde_json::Value::Number),
    )
}

/// The finding as the item's form sends it: a measurement item has the
/// field `measurement`, a tire item `tire_lf` … `tire_spare`. Whatever is
/// sent is passed on, so the use case judges it against the item's kind.
fn finding_input(form: &FormData) -> FindingInput {
    let tires: serde_json::Map<String, serde_json::Value> = TIRE_POSITIONS
        .iter()
        .filter_map(|p| typed_number(form.get(&format!("tire_{p}"))).map(|v| ((*p).to_owned(), v)))
        .collect();
    let measurement = if tires.is_empty() {
        typed_number(form.get("measurement"))
    } else {
        Some(serde_json::Value::Object(tires))
    };
    FindingInput {
        condition: form.opt("condition").unwrap_or("not_checked").to_owned(),
        measurement,
        note: form.opt("note").map(str::to_owned),
        customer_note: form.opt("customer_note").map(str::to_owned),
    }
}

/// One finding saved: each tap on the phone posts its item's form.
#[handler]
pub(crate) async fn save_finding(
    app: Data<&App>,
    req: &Request,
    Path((id, key)): Path<(String, String)>,
    form: FormData,
) -> Response {
    let as_json = wants_json(req);
    respond(
        async {
            let shop = Signed::posted(&app, req, &form)
                .await?
                .in_shop(&app)
                .await?;
            let id: InspectionId = parse_id(&id, "inspection").or_page(&shop.layout)?;
            let result = findings::set(&app, &shop.ctx, id, &key, finding_input(&form)).await;
            match result {
                Ok(v) if as_json => {
                    let f = v.findings.iter().find(|f| f.row.item_key == key);
                    Ok(json(
                        StatusCode::OK,
                        serde_json::json!({
                            "saved": true,
                            "version": v.row.version,
                            "needs_photo": f.is_some_and(|f| needs_photo(f.item.photo, f.condition) && f.media.is_empty()),
                        }),
                    ))
                }
                Ok(_) => Ok(render::redirect(&format!("/app/inspections/{id}#f-{key}"))),
                Err(e) if as_json => Ok(json_error(&e)),
                Err(e) => {
                    super::refused(&e, &shop.layout, async |n| {
                        inspection_page(&app, &shop, id, n).await
                    })
                    .await
                }
            }
        }
        .await,
    )
}

/// Fields other than `file` are short (the CSRF token).
const MAX_OTHER_FIELD: u64 = 1024;

/// An upload form as read.
pub(crate) struct UploadForm {
    pub csrf: String,
    pub bytes: Vec<u8>,
    pub file_name: Option<String>,
}

/// Reads an upload form: its `csrf` field, then the `file`, capped at
/// `limit` while it streams in; a form declared far over the limit is
/// refused before a byte is read. `missing` is what to say without a file.
pub(crate) async fn read_upload(
    req: &Request,
    limit: u64,
    mut form: Multipart,
    missing: &'static str,
) -> Result<UploadForm, pitwall_core::Error> {
    let declared = req
        .header("content-length")
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit + 64 * 1024) {
        return Err(Error::TooLarge {
            field: "file",
            limit_mb: limit / (1024 * 1024),
        });
    }
    let unreadable =
        |e: &dyn std::fmt::Display| Error::invalid("file", format!("could not be read: {e}"));
    let mut csrf = String::new();
    while let Some(field) = form.next_field().await.map_err(|e| unreadable(&e))? {
        let is_file = field.name() == Some("file");
        let cap = if is_file { limit } else { MAX_OTHER_FIELD };
        let name = field.name().map(str::to_owned);
        let file_name = field.file_name().map(str::to_owned);
        let mut bytes = Vec::new();
        field
            .into_async_read()
            .take(cap + 1)
            .read_to_end(&mut bytes)
            .await
            .map_err(|e| unreadable(&e))?;
        if bytes.len() as u64 > cap {
            return Err(if is_file {
                Error::TooLarge {
                    field: "file",
                    limit_mb: limit / (1024 * 1024),
                }
            } else {
                Error::invalid("file", "the form has an oversized field")
            });
        }
        match name.as_deref() {
            Some("file") => {
                return Ok(UploadForm {
                    csrf,
                    bytes,
                    file_name,
                });
            }
            Some("csrf") => csrf = String::from_utf8_lossy(&bytes).into_owned(),
            _ => {}
        }
    }
    Err(Error::invalid("file", missing))
}

/// A photo or video of one finding, from the phone's camera.
#[handler]
pub(crate) async fn upload(
    app: Data<&App>,
    req: &Request,
    Path((id, key)): Path<(String, String)>,
    form: Multipart,
) -> Response {
    let as_json = wants_json(req);
    let limit = app.config().media_max_bytes;
    let read = read_upload(req, limit, form, "is required: choose a photo or video").await;
    respond(
        async {
            let csrf = read.as_ref().map(|u| u.csrf.as_str()).unwrap_or_default();
            let signed = Signed::posted_csrf(&app, req, csrf).await;
            // An upload refused before its CSRF token was read is told as
            // the upload's problem (too large), not as an expired form.
            let shop = match (signed, &read) {
                (Ok(s), _) => s.in_shop(&app).await?,
                (Err(_), Err(e)) if as_json => return Ok(json_error(e)),
                (Err(page), _) => return Err(page),
            };
            let id: InspectionId = parse_id(&id, "inspection").or_page(&shop.layout)?;
            let result = match read {
                Ok(u) => media::upload(&app, &shop.ctx, id, &key, u.bytes).await,
                Err(e) => Err(e),
            };
            match result {
                Ok(m) if as_json => {
                    let url = format!("/app/media/{}", m.id);
                    Ok(json(
                        StatusCode::CREATED,
                        serde_json::json!({
                            "id": m.id,
                            "content_type": m.content_type,
                            "video": m.content_type.starts_with("video/"),
                            "thumb": m.has_copies.then(|| format!("{url}?variant=thumb")),
                            "url": url,
                        }),
                    ))
                }
                Ok(_) => Ok(render::redirect(&format!("/app/inspections/{id}#f-{key}"))),
                Err(e) if as_json => Ok(json_error(&e)),
                Err(e) => {
                    super::refused(&e, &shop.layout, async |n| {
                        inspection_page(&app, &shop, id, n).await
                    })
                    .await
                }
            }
        }
        .await,
    )
}

#[handler]
pub(crate) async fn delete_media(
    app: Data<&App>,
    req: &Request,
    Path((id, media_id)): Path<(String, String)>,
    form: FormData,
) -> Response {
    respond(
        async {
            let shop = Signed::posted(&app, req, &form)
                .await?
                .in_shop(&app)
                .await?;
            let id: InspectionId = parse_id(&id, "inspection").or_page(&shop.layout)?;
            let media_id: MediaId = parse_id(&media_id, "photo").or_page(&shop.layout)?;
            media::delete(&app, &shop.ctx, media_id)
                .await
                .or_page(&shop.layout)?;
            Ok(render::redirect(&format!(
                "/app/inspections/{id}?ok=media_deleted"
            )))
        }
        .await,
    )
}

/// The finding's suggested service, added to the ticket's estimate.
#[handler]
pub(crate) async fn add_service(
    app: Data<&App>,
    req: &Request,
    Path((id, key)): Path<(String, String)>,
    form: FormData,
) -> Response {
    respond(
        async {
            let shop = Signed::posted(&app, req, &form)
                .await?
                .in_shop(&app)
                .await?;
            let id: InspectionId = parse_id(&id, "inspection").or_page(&shop.layout)?;
            let result = findings::to_service(&app, &shop.ctx, id, &key, None).await;
            super::finish(
                result,
                &format!("/app/inspections/{id}?ok=finding_service#f-{key}"),
                &shop.layout,
                async |n| inspection_page(&app, &shop, id, n).await,
            )
            .await
        }
        .await,
    )
}

/// The workflow's steps: hand in, send back, publish.
#[handler]
pub(crate) async fn step(
    app: Data<&App>,
    req: &Request,
    Path((id, step)): Path<(String, String)>,
    form: FormData,
) -> Response {
    respond(
        async {
            let shop = Signed::posted(&app, req, &form)
                .await?
                .in_shop(&app)
                .await?;
            let id: InspectionId = parse_id(&id, "inspection").or_page(&shop.layout)?;
            let ctx = &shop.ctx;
            let result = match step.as_str() {
                "submit" => workflow::submit(&app, ctx, id)
                    .await
                    .map(|_| "inspection_submitted"),
                "return" => workflow::send_back(&app, ctx, id, form.get("reason"))
                    .await
                    .map(|_| "inspection_returned"),
                "publish" => workflow::publish(&app, ctx, id, form.opt("send"))
                    .await
                    .map(|(_, issued)| {
                        if issued.is_some() {
                            "inspection_published_sent"
                        } else {
                            "inspection_published"
                        }
                    }),
                _ => Err(Error::NotFound("page")),
            };
            match result {
                Ok(flash) => Ok(render::redirect(&format!(
                    "/app/inspections/{id}?ok={flash}"
                ))),
                Err(e) => {
                    super::refused(&e, &shop.layout, async |n| {
                        inspection_page(&app, &shop, id, n).await
                    })
                    .await
                }
            }
        }
        .await,
    )
}

/// The ticket page's inspections: those started, and the sheets to start
/// one from (for those who may).
pub(crate) async fn of_ticket(app: &App, shop: &InShop, ticket: TicketId) -> Value {
    let ctx = &shop.ctx;
    if !ctx.features.has(pitwall_core::domain::Feature::Inspections) {
        return Value::UNDEFINED;
    }
    let rows = match start::of_ticket(app, ctx, ticket).await {
        Ok(rows) => rows,
        // A role without access simply has no such section.
        Err(Error::PermissionDenied(_) | Error::FeatureNotInPlan { .. }) => {
            return Value::UNDEFINED;
        }
        // The rest of the ticket page still helps; the log says why this
        // part is missing.
        Err(e) => {
            tracing::warn!(ticket.id = %ticket, error = %e, "ticket page without its inspections");
            return Value::UNDEFINED;
        }
    };
    let may_start =
        app.may(ctx, Permission::InspectionsEdit).await && ctx.require_writable().is_ok();
    let sheets = if may_start {
        pitwall_core::inspections::sheets::list(app, ctx)
            .await
            .unwrap_or_default()
    } else {
        vec![]
    };
    context! {
        items => rows.iter().map(|r| context! {
            id => r.id.to_string(),
            name => r.name.clone(),
            status => r.status.clone(),
            status_label => r.status.replace('_', " "),
            at => local(shop, r.created_at),
        }).collect::<Vec<_>>(),
        sheets => sheets.iter().map(|s| context! {
            id => s.id.to_string(), name => s.name.clone(),
        }).collect::<Vec<_>>(),
        may_start,
    }
}
