//! Where photos and videos live, and the copies made of a photo.
//!
//! `PITWALL_MEDIA_STORE` picks the store: a folder (the default, under the
//! data folder: nothing to install) or `s3://bucket/prefix` (production,
//! through `object_store`, credentials from the usual AWS variables).
//! Files are kept under `shops/{shop}/media/{id}/{variant}`, so a shop's
//! files can be listed, counted and removed together.

use std::ops::Range;
use std::sync::Arc;

use bytes::Bytes;
use chrono::{DateTime, Utc};
use futures::TryStreamExt;
use object_store::path::Path;
use object_store::{ObjectStore, PutPayload};
use pitwall_domain::media::MediaType;
use pitwall_domain::{InvoiceUploadId, MediaId, ShopId};

use crate::{Error, Result};

/// The three files of a photo; a video (or HEIC) has only the original.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Variant {
    Original,
    /// 320 pixels on the long side, JPEG.
    Thumb,
    /// 1600 pixels on the long side, JPEG: what pages show.
    Screen,
}

impl Variant {
    pub const fn as_str(self) -> &'static str {
        match self {
            Variant::Original => "original",
            Variant::Thumb => "thumb",
            Variant::Screen => "screen",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "original" => Variant::Original,
            "thumb" => Variant::Thumb,
            "screen" => Variant::Screen,
            _ => return None,
        })
    }

    pub const fn long_side(self) -> Option<u32> {
        match self {
            Variant::Original => None,
            Variant::Thumb => Some(320),
            Variant::Screen => Some(1600),
        }
    }
}

/// The configured store. Cheap to clone.
#[derive(Clone)]
pub struct MediaStore {
    inner: Arc<dyn ObjectStore>,
    described: String,
}

impl std::fmt::Debug for MediaStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.described)
    }
}

fn store_error(e: object_store::Error) -> Error {
    Error::Internal(format!("media store: {e}"))
}

impl MediaStore {
    /// Files under a local folder (created if missing).
    pub fn folder(dir: &std::path::Path) -> Result<Self> {
        std::fs::create_dir_all(dir)
            .map_err(|e| Error::Internal(format!("media folder {}: {e}", dir.display())))?;
        let fs = object_store::local::LocalFileSystem::new_with_prefix(dir)
            .map_err(store_error)?
            // Deleting a photo leaves no empty folders behind.
            .with_automatic_cleanup(true);
        Ok(Self {
            inner: Arc::new(fs),
            described: format!("folder {}", dir.display()),
        })
    }

    /// `s3://bucket/prefix` with region and credentials from the AWS
    /// variables (`aws`: the `AWS_*` settings as the binary read them, over
    /// what the process environment says); `endpoint` for S3-compatible
    /// servers (plain HTTP allowed only when the endpoint says `http://`).
    pub fn s3(url: &str, endpoint: Option<&str>, aws: &[(String, String)]) -> Result<Self> {
        let parsed = url::Url::parse(url)
            .map_err(|e| Error::Internal(format!("PITWALL_MEDIA_STORE {url:?}: {e}")))?;
        let bucket = parsed
            .host_str()
            .filter(|b| !b.is_empty())
            .ok_or_else(|| Error::Internal("PITWALL_MEDIA_STORE: no bucket".into()))?;
        let mut b = object_store::aws::AmazonS3Builder::from_env().with_bucket_name(bucket);
        for (key, value) in aws {
            if let Ok(k) = key
                .to_ascii_lowercase()
                .parse::<object_store::aws::AmazonS3ConfigKey>()
            {
                b = b.with_config(k, value);
            }
        }
        if let Some(ep) = endpoint {
            b = b
                .with_endpoint(ep)
                .with_allow_http(ep.starts_with("http://"))
                .with_virtual_hosted_style_request(false);
        }
        let s3: Arc<dyn ObjectStore> = Arc::new(b.build().map_err(store_error)?);
        let prefix = parsed.path().trim_matches('/');
        let inner: Arc<dyn ObjectStore> = if prefix.is_empty() {
            s3
        } else {
            Arc::new(object_store::prefix::PrefixStore::new(s3, prefix))
        };
        Ok(Self {
            inner,
            described: format!("s3 bucket {bucket} prefix {prefix:?}"),
        })
    }

    /// What `PITWALL_MEDIA_STORE` names: a folder path, or `s3://…`.
    pub fn from_setting(
        setting: &str,
        endpoint: Option<&str>,
        aws: &[(String, String)],
    ) -> Result<Self> {
        if setting.starts_with("s3://") {
            Self::s3(setting, endpoint, aws)
        } else {
            Self::folder(std::path::Path::new(setting))
        }
    }

    fn key(shop: ShopId, id: MediaId, variant: Variant) -> Path {
        Path::from(format!("shops/{shop}/media/{id}/{}", variant.as_str()))
    }

    pub async fn put(
        &self,
        shop: ShopId,
        id: MediaId,
        variant: Variant,
        bytes: Vec<u8>,
    ) -> Result<()> {
        self.inner
            .put(&Self::key(shop, id, variant), PutPayload::from(bytes))
            .await
            .map_err(store_error)?;
        Ok(())
    }

    /// The whole file, or the bytes of `range` of it.
    pub async fn get(
        &self,
        shop: ShopId,
        id: MediaId,
        variant: Variant,
        range: Option<Range<u64>>,
    ) -> Result<Bytes> {
        let key = Self::key(shop, id, variant);
        let got = match range {
            Some(r) => self.inner.get_range(&key, r).await,
            None => match self.inner.get(&key).await {
                Ok(g) => g.bytes().await,
                Err(e) => Err(e),
            },
        };
        got.map_err(|e| match e {
            object_store::Error::NotFound { .. } => Error::NotFound("media"),
            e => store_error(e),
        })
    }

    /// Removes every variant of one file; missing ones are fine.
    pub async fn remove(&self, shop: ShopId, id: MediaId) -> Result<()> {
        for v in [Variant::Original, Variant::Thumb, Variant::Screen] {
            match self.inner.delete(&Self::key(shop, id, v)).await {
                Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
                Err(e) => return Err(store_error(e)),
            }
        }
        Ok(())
    }

    fn upload_key(shop: ShopId, id: InvoiceUploadId) -> Path {
        Path::from(format!("shops/{shop}/invoice-uploads/{id}"))
    }

    /// Keeps an uploaded invoice (read by OCR) as it came.
    pub async fn put_invoice_upload(
        &self,
        shop: ShopId,
        id: InvoiceUploadId,
        bytes: Vec<u8>,
    ) -> Result<()> {
        self.inner
            .put(&Self::upload_key(shop, id), PutPayload::from(bytes))
            .await
            .map_err(store_error)?;
        Ok(())
    }

    pub async fn get_invoice_upload(&self, shop: ShopId, id: InvoiceUploadId) -> Result<Bytes> {
        match self.inner.get(&Self::upload_key(shop, id)).await {
            Ok(g) => g.bytes().await.map_err(store_error),
            Err(object_store::Error::NotFound { .. }) => Err(Error::NotFound("invoice upload")),
            Err(e) => Err(store_error(e)),
        }
    }

    pub async fn remove_invoice_upload(&self, shop: ShopId, id: InvoiceUploadId) -> Result<()> {
        match self.inner.delete(&Self::upload_key(shop, id)).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(store_error(e)),
        }
    }

    /// Every stored file: (shop folder, media id, last written). Files
    /// under names Pitwall did not write are skipped.
    pub async fn list(&self) -> Result<Vec<(String, uuid::Uuid, DateTime<Utc>)>> {
        let metas: Vec<_> = self
            .inner
            .list(Some(&Path::from("shops")))
            .try_collect()
            .await
            .map_err(store_error)?;
        let mut out = Vec::new();
        for m in metas {
            let parts: Vec<_> = m.location.parts().map(|p| p.as_ref().to_owned()).collect();
            if let [_, shop, _, id, _] = parts.as_slice()
                && let Ok(id) = uuid::Uuid::parse_str(id)
            {
                out.push((shop.clone(), id, m.last_modified));
            }
        }
        out.sort_by_key(|(_, id, _)| *id);
        out.dedup_by_key(|(_, id, _)| *id);
        Ok(out)
    }

    pub async fn remove_listed(&self, shop: &str, id: uuid::Uuid) -> Result<()> {
        match shop.parse::<ShopId>() {
            Ok(shop) => self.remove(shop, MediaId::from_uuid(id)).await,
            Err(_) => Ok(()),
        }
    }
}

/// A photo ready to store: the original without its metadata, and for
/// images Pitwall can decode, the two copies and the size.
pub struct Prepared {
    pub original: Vec<u8>,
    pub copies: Option<(Vec<u8>, Vec<u8>)>,
    pub width: Option<u32>,
    pub height: Option<u32>,
}

/// No phone photo is wider than this; a "decompression bomb" claiming more
/// is refused before any memory is taken for it.
const MAX_SIDE: u32 = 12_000;
const MAX_DECODE_BYTES: u64 = 512 * 1024 * 1024;

/// Strips metadata and makes the copies. CPU-bound: call it off the async
/// threads. Errors name what is wrong with the file, for a 422 on `file`.
pub fn prepare(kind: MediaType, upload: &[u8]) -> std::result::Result<Prepared, String> {
    let original =
        pitwall_domain::media::strip_metadata(kind, upload).map_err(|e| e.to_string())?;
    if !kind.decodable() {
        return Ok(Prepared {
            original,
            copies: None,
            width: None,
            height: None,
        });
    }
    use image::ImageDecoder;
    let mut reader = image::ImageReader::new(std::io::Cursor::new(upload));
    reader.set_format(match kind {
        MediaType::Png => image::ImageFormat::Png,
        MediaType::Webp => image::ImageFormat::WebP,
        _ => image::ImageFormat::Jpeg,
    });
    let mut limits = image::Limits::default();
    limits.max_image_width = Some(MAX_SIDE);
    limits.max_image_height = Some(MAX_SIDE);
    limits.max_alloc = Some(MAX_DECODE_BYTES);
    reader.limits(limits);
    let unreadable = |e: image::ImageError| format!("is not a readable image ({e})");
    let mut decoder = reader.into_decoder().map_err(unreadable)?;
    let orientation = decoder
        .orientation()
        .unwrap_or(image::metadata::Orientation::NoTransforms);
    let mut img = image::DynamicImage::from_decoder(decoder).map_err(unreadable)?;
    img.apply_orientation(orientation);
    let (width, height) = (img.width(), img.height());
    let copy = |side: u32| -> std::result::Result<Vec<u8>, String> {
        let scaled = if width.max(height) > side {
            img.resize(side, side, image::imageops::FilterType::Triangle)
        } else {
            img.clone()
        };
        let mut out = Vec::new();
        image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 80)
            .encode_image(&scaled.to_rgb8())
            .map_err(|e| format!("could not be resized ({e})"))?;
        Ok(out)
    };
    let thumb = copy(Variant::Thumb.long_side().unwrap_or(320))?;
    let screen = copy(Variant::Screen.long_side().unwrap_or(1600))?;
    Ok(Prepared {
        original,
        copies: Some((thumb, screen)),
        width: Some(width),
        height: Some(height),
    })
}

/// One range of a `Range: bytes=…` header against a file of `len` bytes.
/// `Ok(None)`: no (usable) header, send it all; `Err(())`: unsatisfiable
/// (416). Several ranges at once are answered with the whole file, as
/// RFC 9110 allows.
#[allow(clippy::result_unit_err)]
pub fn byte_range(header: Option<&str>, len: u64) -> std::result::Result<Option<Range<u64>>, ()> {
    let Some(spec) = header.and_then(|h| h.trim().strip_prefix("bytes=")) else {
        return Ok(None);
    };
    if spec.contains(',') {
        return Ok(None);
    }
    let Some((start, end)) = spec.split_once('-') else {
        return Ok(None);
    };
    let (start, end) = (start.trim(), end.trim());
    let range = if start.is_empty() {
        // The last `end` bytes.
        let n: u64 = end.parse().map_err(|_| ())?;
        if n == 0 || len == 0 {
            return Err(());
        }
        len.saturating_sub(n)..len
    } else {
        let s: u64 = start.parse().map_err(|_| ())?;
        let e = if end.is_empty() {
            len
        } else {
            end.parse::<u64>()
                .map_err(|_| ())?
                .saturating_add(1)
                .min(len)
        };
        if s >= len || e <= s {
            return Err(());
        }
        s..e
    };
    Ok(Some(range))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_as_phones_ask_for_them() {
        assert_eq!(byte_range(None, 100), Ok(None));
        assert_eq!(byte_range(Some("bytes=0-1"), 100), Ok(Some(0..2)));
        assert_eq!(byte_range(Some("bytes=0-"), 100), Ok(Some(0..100)));
        assert_eq!(byte_range(Some("bytes=90-200"), 100), Ok(Some(90..100)));
        assert_eq!(byte_range(Some("bytes=-10"), 100), Ok(Some(90..100)));
        assert_eq!(byte_range(Some("bytes=-500"), 100), Ok(Some(0..100)));
        assert_eq!(byte_range(Some("bytes=100-"), 100), Err(()));
        assert_eq!(byte_range(Some("bytes=5-2"), 100), Err(()));
        assert_eq!(byte_range(Some("bytes=x-2"), 100), Err(()));
        assert_eq!(byte_range(Some("bytes=0-1,5-6"), 100), Ok(None));
        assert_eq!(byte_range(Some("items=0-1"), 100), Ok(None));
    }

    fn photo(w: u32, h: u32) -> Vec<u8> {
        let img = image::RgbImage::from_fn(w, h, |x, y| image::Rgb([x as u8, y as u8, 128]));
        let mut out = Vec::new();
        image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 90)
            .encode_image(&img)
            .unwrap();
        out
    }

    #[test]
    fn a_photo_gets_a_thumbnail_and_a_screen_copy() {
        let p = prepare(MediaType::Jpeg, &photo(2000, 1000)).unwrap();
        assert_eq!((p.width, p.height), (Some(2000), Some(1000)));
        let (thumb, screen) = p.copies.unwrap();
        let t = image::load_from_memory(&thumb).unwrap();
        let s = image::load_from_memory(&screen).unwrap();
        assert_eq!((t.width(), t.height()), (320, 160));
        assert_eq!((s.width(), s.height()), (1600, 800));
    }

    #[test]
    fn a_file_that_only_looks_like_a_photo_is_refused() {
        let mut broken = photo(64, 64);
        broken.truncate(200);
        assert!(prepare(MediaType::Jpeg, &broken).is_err());
    }
}
