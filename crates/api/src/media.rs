//! Photos and videos of findings: `POST
//! /api/v1/inspections/{id}/findings/{item_key}/media`, `GET|DELETE
//! /api/v1/media/{media_id}`. The use cases are
//! `pitwall_core::inspections::media`.

use pitwall_core::App;
use pitwall_core::domain::{InspectionId, MediaId};
use pitwall_core::inspections::media::{self, MediaFile};
use pitwall_core::media::Variant;
use poem::web::Data;
use poem::{IntoResponse, Request, Response};
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::registry::{
    MetaHeader, MetaMediaType, MetaResponse, MetaResponses, MetaSchema, MetaSchemaRef, Registry,
};
use poem_openapi::{ApiResponse, Object, OpenApi};

use crate::auth::{UserToken, shop_ctx};
use crate::error::{ApiError, ErrorBody, invalid};
use crate::inspections::InspectionTags;
use crate::upload::MediaUpload;

/// A photo or video as stored.
#[derive(Debug, Clone, Object)]
pub struct MediaOut {
    pub id: uuid::Uuid,
    /// What the bytes are: `image/jpeg`, `image/png`, `image/webp`,
    /// `image/heic`, `video/mp4` or `video/quicktime`.
    pub content_type: String,
    /// The stored original's size (metadata removed).
    pub bytes: i64,
    /// Pixels, for photos Pitwall could read; null for video and HEIC.
    #[oai(nullable)]
    pub width: Option<i32>,
    #[oai(nullable)]
    pub height: Option<i32>,
    pub created_at: chrono::DateTime<chrono::Utc>,
}

impl From<&pitwall_core::model::media::Medium> for MediaOut {
    fn from(m: &pitwall_core::model::media::Medium) -> Self {
        MediaOut {
            id: m.id,
            content_type: m.content_type.clone(),
            bytes: m.bytes,
            width: m.width,
            height: m.height,
            created_at: m.created_at,
        }
    }
}

#[derive(ApiResponse)]
pub enum MediaCreated {
    /// Stored; thumbnail and screen copy made for photos.
    #[oai(status = 201)]
    Created(Json<MediaOut>),
    /// The file is over `PITWALL_MEDIA_MAX_MB` (`payload_too_large`,
    /// `field`). Only uploads can be too large, so only they document it.
    #[oai(status = 413)]
    TooLarge(Json<ErrorBody>),
}

impl MediaCreated {
    pub(crate) fn too_large(e: &pitwall_core::Error) -> Self {
        MediaCreated::TooLarge(Json(ErrorBody::new(
            e.code(),
            e.to_string(),
            Some("file".to_owned()),
        )))
    }
}

#[derive(ApiResponse)]
pub enum MediaDeleted {
    /// Removed with its copies.
    #[oai(status = 204)]
    Deleted,
}

/// The bytes of a file: whole (200) or the asked range (206).
pub struct MediaBytes(pub MediaFile);

impl IntoResponse for MediaBytes {
    fn into_response(self) -> Response {
        let f = self.0;
        let mut r = Response::builder().status(
            poem::http::StatusCode::from_u16(f.status()).unwrap_or(poem::http::StatusCode::OK),
        );
        for (name, value) in f.headers() {
            r = r.header(name, value);
        }
        r.body(f.bytes)
    }
}

fn binary() -> MetaSchemaRef {
    MetaSchemaRef::Inline(Box::new(MetaSchema::new_with_format("string", "binary")))
}

fn header(name: &str, description: &str) -> MetaHeader {
    MetaHeader {
        name: name.to_owned(),
        description: Some(description.to_owned()),
        required: false,
        deprecated: false,
        schema: MetaSchemaRef::Inline(Box::new(MetaSchema::new("string"))),
    }
}

impl ApiResponse for MediaBytes {
    fn meta() -> MetaResponses {
        let content = || {
            vec![MetaMediaType {
                content_type: "application/octet-stream",
                schema: binary(),
            }]
        };
        MetaResponses {
            responses: vec![
                MetaResponse {
                    description: "The whole file; `Content-Type` says what it is.",
                    status: Some(200),
                    status_range: None,
                    content: content(),
                    headers: vec![header("Accept-Ranges", "`bytes` for originals")],
                },
                MetaResponse {
                    description: "The asked range of the original (video on phones).",
                    status: Some(206),
                    status_range: None,
                    content: content(),
                    headers: vec![header("Content-Range", "`bytes start-end/total`")],
                },
            ],
        }
    }

    fn register(_registry: &mut Registry) {}
}

pub struct MediaApi;

#[OpenApi(prefix_path = "/api/v1")]
impl MediaApi {
    /// Attach a photo or video to a finding (`inspections.edit`) while the
    /// inspection is in progress or returned: multipart, field `file`.
    /// JPEG, PNG, WebP and HEIC photos, MP4 and MOV video, known by their
    /// bytes; anything else answers 422 naming `file`, over
    /// `PITWALL_MEDIA_MAX_MB` 413. Location and other metadata are removed
    /// from photos; a thumbnail and a screen-sized copy are made. Counts
    /// against the plan's `media_mb` (403 `quota_exceeded`).
    #[oai(
        path = "/inspections/:inspection_id/findings/:item_key/media",
        method = "post",
        tag = "InspectionTags::Inspections",
        operation_id = "upload_finding_media"
    )]
    async fn upload(
        &self,
        app: Data<&App>,
        req: &Request,
        auth: UserToken,
        inspection_id: Path<uuid::Uuid>,
        item_key: Path<String>,
        file: MediaUpload,
    ) -> Result<MediaCreated, ApiError> {
        let ctx = shop_ctx(&app, req, &auth).await?;
        let uploaded = media::upload(
            &app,
            &ctx,
            InspectionId::from_uuid(inspection_id.0),
            &item_key.0,
            file.bytes,
        )
        .await;
        match uploaded {
            Ok(row) => Ok(MediaCreated::Created(Json(MediaOut::from(&row)))),
            Err(e @ pitwall_core::Error::TooLarge { .. }) => Ok(MediaCreated::too_large(&e)),
            Err(e) => Err(e.into()),
        }
    }

    /// A photo or video of one of the shop's inspections (`tickets.view`).
    /// `variant`: `original` (the default; byte ranges honoured), `screen`
    /// (1600 px JPEG) or `thumb` (320 px JPEG); video has only its
    /// original.
    #[oai(
        path = "/media/:media_id",
        method = "get",
        tag = "InspectionTags::Inspections",
        operation_id = "get_media"
    )]
    async fn get(
        &self,
        app: Data<&App>,
        req: &Request,
        auth: UserToken,
        media_id: Path<uuid::Uuid>,
        variant: Query<Option<String>>,
    ) -> Result<MediaBytes, ApiError> {
        let ctx = shop_ctx(&app, req, &auth).await?;
        let variant = match variant.0.as_deref() {
            None => Variant::Original,
            Some(v) => Variant::parse(v)
                .ok_or_else(|| invalid("variant", "must be original, screen or thumb"))?,
        };
        let file = media::get(
            &app,
            &ctx,
            MediaId::from_uuid(media_id.0),
            variant,
            req.header("range"),
        )
        .await?;
        Ok(MediaBytes(file))
    }

    /// Remove a photo or video (`inspections.edit`) while its inspection
    /// is in progress or returned.
    #[oai(
        path = "/media/:media_id",
        method = "delete",
        tag = "InspectionTags::Inspections",
        operation_id = "delete_media"
    )]
    async fn delete(
        &self,
        app: Data<&App>,
        req: &Request,
        auth: UserToken,
        media_id: Path<uuid::Uuid>,
    ) -> Result<MediaDeleted, ApiError> {
        let ctx = shop_ctx(&app, req, &auth).await?;
        media::delete(&app, &ctx, MediaId::from_uuid(media_id.0)).await?;
        Ok(MediaDeleted::Deleted)
    }
}
