//! Photos and videos of inspections for browsers: the customer's through
//! their link (`/c/{token}/media/{id}`), staff through their session
//! (`/app/media/{id}`). Both call `pitwall_core::inspections::media`; the
//! bytes and headers are the same as the API's.

use pitwall_core::customer;
use pitwall_core::domain::MediaId;
use pitwall_core::inspections::media::{self, MediaFile};
use pitwall_core::media::Variant;
use pitwall_core::{App, Error};
use poem::http::StatusCode;
use poem::web::{Data, Path, Query};
use poem::{Request, Response, handler};
use serde::Deserialize;

use super::customer::Client;
use crate::session::Signed;

#[derive(Deserialize)]
pub(crate) struct Asked {
    variant: Option<String>,
}

fn bytes(file: MediaFile) -> Response {
    let mut r =
        Response::builder().status(StatusCode::from_u16(file.status()).unwrap_or(StatusCode::OK));
    for (name, value) in file.headers() {
        r = r.header(name, value);
    }
    r.body(file.bytes)
}

/// Media answers are for `<img>` and `<video>`: a status and a word.
fn refused(err: &Error) -> Response {
    // A range outside the file is the one media-only answer.
    let status = match err {
        Error::Invalid { field, .. } if field == "range" => StatusCode::RANGE_NOT_SATISFIABLE,
        _ => crate::render::status_of(err),
    };
    if status == StatusCode::INTERNAL_SERVER_ERROR {
        tracing::error!(error = %err, "media");
    }
    Response::builder()
        .status(status)
        .content_type("text/plain; charset=utf-8")
        .body(status.canonical_reason().unwrap_or("error"))
}

fn variant(asked: &Asked) -> Variant {
    asked
        .variant
        .as_deref()
        .and_then(Variant::parse)
        .unwrap_or(Variant::Original)
}

#[handler]
pub(crate) async fn for_customer(
    app: Data<&App>,
    req: &Request,
    Path((token, id)): Path<(String, String)>,
    Query(asked): Query<Asked>,
) -> Response {
    let Ok(id) = id.parse::<MediaId>() else {
        return refused(&Error::NotFound("media"));
    };
    let client = Client::of(req);
    match customer::media(
        &app,
        &token,
        client.visitor(),
        id,
        variant(&asked),
        req.header("range"),
    )
    .await
    {
        Ok(file) => bytes(file),
        Err(e) => refused(&e),
    }
}

#[handler]
pub(crate) async fn for_staff(
    app: Data<&App>,
    req: &Request,
    Path(id): Path<String>,
    Query(asked): Query<Asked>,
) -> Response {
    let shop = match Signed::from(&app, req).await {
        Ok(s) => match s.in_shop(&app).await {
            Ok(shop) => shop,
            Err(other) => return other,
        },
        Err(other) => return other,
    };
    let Ok(id) = id.parse::<MediaId>() else {
        return refused(&Error::NotFound("media"));
    };
    match media::get(&app, &shop.ctx, id, variant(&asked), req.header("range")).await {
        Ok(file) => bytes(file),
        Err(e) => refused(&e),
    }
}
