//! gzip for text answers the client accepts compressed: a customer's page
//! on a phone's data plan, API JSON and the static assets.
//!
//! Staff pages (`/app`, `/admin`, sign-in) are never compressed: they carry
//! a CSRF token next to text a request can put there (a search box, a
//! flash message), which is what a BREACH-style attack needs when a
//! browser sends the session cookie by itself. What is compressed either
//! has no ambient credential (the API takes a bearer token, a customer's
//! page is reached by its URL) or holds no secret (assets, the document).
//! Streams (live events), media, ranges and answers already encoded are
//! left as they are.

use std::io::Write;

use poem::Response;
use poem::http::{HeaderValue, StatusCode, header};

/// Below this, gzip's header costs more than it saves.
const MIN_BYTES: usize = 1024;

/// May this path's answers be compressed at all?
pub(crate) fn path_allows(path: &str) -> bool {
    path.starts_with("/api/")
        || path.starts_with("/c/")
        || path.starts_with("/static/")
        || path == "/openapi.json"
}

/// Does `Accept-Encoding` take gzip (`gzip` or `*` with a weight above 0)?
pub(crate) fn accepts_gzip(values: &[&str]) -> bool {
    values
        .iter()
        .flat_map(|v| v.split(','))
        .filter_map(|part| {
            let mut it = part.split(';').map(str::trim);
            let coding = it.next()?.to_ascii_lowercase();
            let q = it
                .find_map(|p| p.strip_prefix("q=").or_else(|| p.strip_prefix("Q=")))
                .map_or(Some(1.0), |q| q.trim().parse::<f32>().ok())?;
            (coding == "gzip" || coding == "*").then_some(q)
        })
        .any(|q| q > 0.0)
}

fn compressible_type(content_type: &str) -> bool {
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    matches!(
        essence.as_str(),
        "text/html"
            | "text/css"
            | "text/plain"
            | "text/csv"
            | "text/javascript"
            | "application/javascript"
            | "application/json"
            | "image/svg+xml"
    )
}

/// Compresses `resp` in place when its kind and size are worth it.
pub(crate) async fn gzip(resp: Response) -> Response {
    let headers = resp.headers();
    let worth_it = resp.status() == StatusCode::OK
        && !headers.contains_key(header::CONTENT_ENCODING)
        && !headers.contains_key(header::CONTENT_RANGE)
        && headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(compressible_type);
    if !worth_it {
        return resp;
    }
    let (mut parts, body) = resp.into_parts();
    let bytes = match body.into_bytes().await {
        Ok(b) => b,
        Err(e) => {
            tracing::warn!(error = %e, "reading an answer to compress it");
            return Response::builder()
                .status(StatusCode::INTERNAL_SERVER_ERROR)
                .finish();
        }
    };
    parts
        .headers
        .append(header::VARY, HeaderValue::from_static("accept-encoding"));
    if bytes.len() < MIN_BYTES {
        return Response::from_parts(parts, bytes.into());
    }
    let mut encoder = flate2::write::GzEncoder::new(
        Vec::with_capacity(bytes.len() / 3),
        flate2::Compression::default(),
    );
    let packed = match encoder.write_all(&bytes).and_then(|()| encoder.finish()) {
        Ok(v) => v,
        Err(e) => {
            tracing::warn!(error = %e, "gzip failed; answering uncompressed");
            return Response::from_parts(parts, bytes.into());
        }
    };
    parts.headers.remove(header::CONTENT_LENGTH);
    parts
        .headers
        .insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
    Response::from_parts(parts, packed.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_encoding_is_read_with_its_weights() {
        assert!(accepts_gzip(&["gzip, deflate, br"]));
        assert!(accepts_gzip(&["br;q=1.0, GZIP;q=0.5"]));
        assert!(accepts_gzip(&["*"]));
        assert!(accepts_gzip(&["deflate", "gzip"]));
        assert!(!accepts_gzip(&["gzip;q=0"]));
        assert!(!accepts_gzip(&["identity"]));
        assert!(!accepts_gzip(&["gzip;q=nonsense"]));
        assert!(!accepts_gzip(&[]));
    }

    #[test]
    fn only_paths_without_an_ambient_credential_are_compressed() {
        for yes in [
            "/api/v1/tickets",
            "/c/abc",
            "/static/app.css",
            "/openapi.json",
        ] {
            assert!(path_allows(yes), "{yes}");
        }
        for no in ["/app/tickets", "/admin/shops", "/auth/sign-in", "/"] {
            assert!(!path_allows(no), "{no}");
        }
    }

    #[test]
    fn only_text_kinds_are_compressed() {
        assert!(compressible_type("text/html; charset=utf-8"));
        assert!(compressible_type("application/json"));
        assert!(!compressible_type("text/event-stream"));
        assert!(!compressible_type("image/jpeg"));
        assert!(!compressible_type("video/mp4"));
    }
}
