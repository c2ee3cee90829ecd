//! `FileUpload`: the `file` field of a `multipart/form-data` request,
//! read with a cap so that an oversized upload is refused (413) while it
//! streams in, never after it filled the disk or memory. What is uploaded
//! (a finding's photo, an invoice to read) sets the cap and the words of
//! the published document.

use poem::web::Multipart;
use poem::{FromRequest, IntoResponse, Request, RequestBody};
use poem_openapi::registry::{MetaMediaType, MetaRequest, MetaSchema, MetaSchemaRef, Registry};
use poem_openapi::{ApiExtractor, ApiExtractorType, ExtractParamOptions};
use tokio::io::AsyncReadExt;

use crate::error::{ApiError, ErrorBody};
use poem_openapi::payload::Json;

/// What an upload is for: its size limit and how the document describes it.
pub trait UploadKind: Send + Sync + 'static {
    const DESCRIPTION: &'static str;
    fn limit(app: Option<&pitwall_core::App>) -> u64;
}

/// A photo or video of a finding, up to `PITWALL_MEDIA_MAX_MB`.
pub struct Media;

impl UploadKind for Media {
    const DESCRIPTION: &'static str =
        "The photo or video in the field `file`: JPEG, PNG, WebP, HEIC, MP4 or MOV.";
    fn limit(app: Option<&pitwall_core::App>) -> u64 {
        app.map(|a| a.config().media_max_bytes)
            .unwrap_or(pitwall_core::inspections::media::DEFAULT_MAX_MB * 1024 * 1024)
    }
}

/// An invoice to read by OCR, up to 10 MB.
pub struct InvoiceDocument;

impl UploadKind for InvoiceDocument {
    const DESCRIPTION: &'static str = "The invoice in the field `file`: a PDF (the first 5 pages are read), JPEG or PNG, at most 10 MB.";
    fn limit(_app: Option<&pitwall_core::App>) -> u64 {
        pitwall_core::invoices::MAX_UPLOAD_MB * 1024 * 1024
    }
}

/// The uploaded file's bytes and the name the client gave it.
pub struct FileUpload<K> {
    pub bytes: Vec<u8>,
    pub file_name: Option<String>,
    kind: std::marker::PhantomData<K>,
}

pub type MediaUpload = FileUpload<Media>;

/// Fields other than `file` are read (and dropped) up to this size.
const MAX_OTHER_FIELD: u64 = 4 * 1024;

fn too_large(limit: u64) -> poem::Error {
    let e = pitwall_core::Error::TooLarge {
        field: "file",
        limit_mb: limit / (1024 * 1024),
    };
    poem::Error::from_response(crate::media::MediaCreated::too_large(&e).into_response())
}

fn bad(message: impl Into<String>) -> poem::Error {
    ApiError::Invalid(Json(ErrorBody::new(
        "invalid_input",
        message,
        Some("file".to_owned()),
    )))
    .into()
}

impl<'a, K: UploadKind> ApiExtractor<'a> for FileUpload<K> {
    const TYPES: &'static [ApiExtractorType] = &[ApiExtractorType::RequestObject];
    type ParamType = ();
    type ParamRawType = ();

    fn register(_registry: &mut Registry) {}

    fn request_meta() -> Option<MetaRequest> {
        let mut schema = MetaSchema::new("object");
        schema.required = vec!["file"];
        schema.properties = vec![(
            "file",
            MetaSchemaRef::Inline(Box::new(MetaSchema::new_with_format("string", "binary"))),
        )];
        Some(MetaRequest {
            description: Some(K::DESCRIPTION),
            content: vec![MetaMediaType {
                content_type: "multipart/form-data",
                schema: MetaSchemaRef::Inline(Box::new(schema)),
            }],
            required: true,
        })
    }

    async fn from_request(
        request: &'a Request,
        body: &mut RequestBody,
        _param_opts: ExtractParamOptions<Self::ParamType>,
    ) -> poem::Result<Self> {
        let limit = K::limit(request.data::<pitwall_core::App>());
        if !request
            .content_type()
            .is_some_and(|c| c.starts_with("multipart/form-data"))
        {
            return Err(ApiError::BadRequest(Json(ErrorBody::new(
                "malformed_request",
                "send the file as multipart/form-data in the field `file`",
                Some("file".to_owned()),
            )))
            .into());
        }
        // A declared length far over the limit is refused before a byte is
        // read (the connection may then be cut mid-upload). A little over
        // is read to the end and dropped, so that the client, still
        // sending, gets to read the 413.
        let declared = request
            .header("content-length")
            .and_then(|v| v.parse::<u64>().ok());
        if declared.is_some_and(|n| n > 2 * limit + 64 * 1024) {
            return Err(too_large(limit));
        }
        let mut form = <Multipart as FromRequest>::from_request(request, body)
            .await
            .map_err(|e| bad(format!("is not a readable form: {e}")))?;
        let mut fields = 0;
        loop {
            let field = form
                .next_field()
                .await
                .map_err(|e| bad(format!("is not a readable form: {e}")))?;
            let Some(field) = field else {
                return Err(bad("is required (a form field named `file`)"));
            };
            fields += 1;
            if fields > 8 {
                return Err(bad("is required; the form has too many other fields"));
            }
            let is_file = field.name() == Some("file");
            let file_name = field.file_name().map(str::to_owned);
            let cap = if is_file { limit } else { MAX_OTHER_FIELD };
            let mut bytes = Vec::new();
            field
                .into_async_read()
                .take(cap + 1)
                .read_to_end(&mut bytes)
                .await
                .map_err(|e| bad(format!("could not be read: {e}")))?;
            if bytes.len() as u64 > cap {
                drop(bytes);
                // Drain what is left of the form when its length was
                // declared (so bounded by the check above); multer skips
                // the rest of this field on the way to the next.
                let mut rest = form;
                let mut drained = 0u64;
                while declared.is_some() && drained <= limit {
                    match rest.next_field().await {
                        Ok(Some(f)) => {
                            drained += tokio::io::copy(
                                &mut f.into_async_read().take(limit + 1),
                                &mut tokio::io::sink(),
                            )
                            .await
                            .unwrap_or(limit + 1);
                        }
                        _ => break,
                    }
                }
                return Err(if is_file {
                    too_large(limit)
                } else {
                    bad("is required; another form field is too large")
                });
            }
            if is_file {
                if bytes.is_empty() {
                    return Err(bad("is empty"));
                }
                return Ok(FileUpload {
                    bytes,
                    file_name,
                    kind: std::marker::PhantomData,
                });
            }
        }
    }
}
