//! `JsonBody<T>`: a JSON request body whose errors name the field.
//!
//! poem-openapi's own `Json<T>` reports "expects an input value" without
//! saying which field; this extractor documents the same schema but parses
//! with serde and reports the JSON pointer of the bad field.

use poem::{Request, RequestBody};
use poem_openapi::registry::{MetaMediaType, MetaRequest, Registry};
use poem_openapi::types::Type;
use poem_openapi::{ApiExtractor, ApiExtractorType, ExtractParamOptions};
use serde::de::DeserializeOwned;

use crate::error::{ApiError, ErrorBody};
use poem_openapi::payload::Json;

pub struct JsonBody<T>(pub T);

/// Requests bigger than this are refused before parsing.
const MAX_BODY: usize = 256 * 1024;

fn pointer(path: &serde_path_to_error::Path) -> String {
    let mut out = String::new();
    for seg in path.iter() {
        use serde_path_to_error::Segment::*;
        match seg {
            Seq { index } => out.push_str(&format!("/{index}")),
            Map { key } => out.push_str(&format!("/{key}")),
            Enum { variant } => out.push_str(&format!("/{variant}")),
            Unknown => out.push_str("/?"),
        }
    }
    out.trim_start_matches('/').to_owned()
}

/// serde says "missing field `email`" at the parent's path; name the field.
fn describe(err: &serde_json::Error, path: String) -> (String, String) {
    let text = err.to_string();
    let text = text.split(" at line ").next().unwrap_or(&text).to_owned();
    let key = |prefix: &str| {
        text.strip_prefix(prefix)
            .and_then(|rest| rest.split('`').next())
            .map(str::to_owned)
    };
    // serde_path_to_error puts an unknown key on the path already, a
    // missing one not.
    let join = |field: String| {
        if path.is_empty() || path == "?" {
            field
        } else if path == field || path.ends_with(&format!("/{field}")) {
            path.clone()
        } else {
            format!("{path}/{field}")
        }
    };
    if let Some(field) = key("missing field `") {
        return (join(field), "is required".to_owned());
    }
    if let Some(field) = key("unknown field `") {
        return (join(field), "is not a field of this request".to_owned());
    }
    (path, text)
}

impl<'a, T> ApiExtractor<'a> for JsonBody<T>
where
    T: Type + DeserializeOwned + Send,
{
    const TYPES: &'static [ApiExtractorType] = &[ApiExtractorType::RequestObject];
    type ParamType = ();
    type ParamRawType = ();

    fn register(registry: &mut Registry) {
        T::register(registry);
    }

    fn request_meta() -> Option<MetaRequest> {
        Some(MetaRequest {
            description: None,
            content: vec![MetaMediaType {
                content_type: "application/json; charset=utf-8",
                schema: T::schema_ref(),
            }],
            required: true,
        })
    }

    async fn from_request(
        request: &'a Request,
        body: &mut RequestBody,
        _param_opts: ExtractParamOptions<Self::ParamType>,
    ) -> poem::Result<Self> {
        let content_type = request.content_type().unwrap_or("");
        if !content_type.starts_with("application/json") {
            return Err(ApiError::BadRequest(Json(ErrorBody::new(
                "malformed_request",
                "send the body as JSON with Content-Type: application/json",
                None,
            )))
            .into());
        }
        let bytes = body.take()?.into_bytes_limit(MAX_BODY).await.map_err(|_| {
            ApiError::BadRequest(Json(ErrorBody::new(
                "malformed_request",
                format!("the body is missing or larger than {MAX_BODY} bytes"),
                None,
            )))
        })?;
        let de = &mut serde_json::Deserializer::from_slice(&bytes);
        match serde_path_to_error::deserialize::<_, T>(de) {
            Ok(v) => Ok(JsonBody(v)),
            Err(e) => {
                let path = pointer(e.path());
                let inner = e.into_inner();
                if inner.is_syntax() || inner.is_eof() {
                    return Err(ApiError::BadRequest(Json(ErrorBody::new(
                        "malformed_request",
                        format!("the body is not valid JSON: {inner}"),
                        None,
                    )))
                    .into());
                }
                let (field, message) = describe(&inner, path);
                Err(ApiError::Invalid(Json(ErrorBody::new(
                    "invalid_input",
                    format!("{field} {message}"),
                    Some(field),
                )))
                .into())
            }
        }
    }
}

/// Parses JSON text into `T`, naming the bad field (a JSON pointer).
pub fn parse_text<T: DeserializeOwned>(text: &str) -> Result<T, pitwall_core::FieldError> {
    let de = &mut serde_json::Deserializer::from_str(text);
    serde_path_to_error::deserialize::<_, T>(de).map_err(|e| {
        let path = pointer(e.path());
        let (field, message) = describe(&e.into_inner(), path);
        pitwall_core::FieldError { field, message }
    })
}

/// A JSON body kept as text (for endpoints that record what was sent, or
/// read a batch one item at a time); documented as `S`. Only the JSON syntax
/// is checked here.
pub struct RawJson<S> {
    pub text: String,
    _doc: std::marker::PhantomData<S>,
}

/// Batches are bigger than single requests.
const MAX_RAW_BODY: usize = 4 * 1024 * 1024;

impl<'a, S> ApiExtractor<'a> for RawJson<S>
where
    S: Type + Send,
{
    const TYPES: &'static [ApiExtractorType] = &[ApiExtractorType::RequestObject];
    type ParamType = ();
    type ParamRawType = ();

    fn register(registry: &mut Registry) {
        S::register(registry);
    }

    fn request_meta() -> Option<MetaRequest> {
        Some(MetaRequest {
            description: None,
            content: vec![MetaMediaType {
                content_type: "application/json; charset=utf-8",
                schema: S::schema_ref(),
            }],
            required: true,
        })
    }

    async fn from_request(
        request: &'a Request,
        body: &mut RequestBody,
        _param_opts: ExtractParamOptions<Self::ParamType>,
    ) -> poem::Result<Self> {
        let malformed = |m: String| {
            poem::Error::from(ApiError::BadRequest(Json(ErrorBody::new(
                "malformed_request",
                m,
                None,
            ))))
        };
        if !request
            .content_type()
            .unwrap_or("")
            .starts_with("application/json")
        {
            return Err(malformed(
                "send the body as JSON with Content-Type: application/json".into(),
            ));
        }
        let bytes = body
            .take()?
            .into_bytes_limit(MAX_RAW_BODY)
            .await
            .map_err(|_| {
                malformed(format!(
                    "the body is missing or larger than {MAX_RAW_BODY} bytes"
                ))
            })?;
        let text = String::from_utf8(bytes.to_vec())
            .map_err(|_| malformed("the body is not UTF-8".into()))?;
        if let Err(e) = serde_json::from_str::<serde::de::IgnoredAny>(&text) {
            return Err(malformed(format!("the body is not valid JSON: {e}")));
        }
        Ok(RawJson {
            text,
            _doc: std::marker::PhantomData,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Probe {
        email: String,
        nested: Option<Vec<String>>,
    }

    fn field_of(json: &str) -> String {
        let de = &mut serde_json::Deserializer::from_str(json);
        let e = serde_path_to_error::deserialize::<_, Probe>(de).unwrap_err();
        let path = pointer(e.path());
        describe(&e.into_inner(), path).0
    }

    #[test]
    fn errors_name_the_field() {
        assert_eq!(field_of(r#"{}"#), "email");
        assert_eq!(field_of(r#"{"email": 5}"#), "email");
        assert_eq!(field_of(r#"{"email": "a", "surprise": 1}"#), "surprise");
        assert_eq!(
            field_of(r#"{"email": "a", "nested": ["x", 3]}"#),
            "nested/1"
        );
    }
}
