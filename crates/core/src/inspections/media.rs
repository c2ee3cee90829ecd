//! Photos and videos of findings: upload, read (staff, or the customer
//! through their link once published), remove.
//!
//! The files are written before their row, and removed again when the row
//! does not commit; a crash in between leaves files without a row, which
//! [`sweep`] removes later. So a row always has its files, and no file
//! outlives its row for long.

use std::ops::Range;

use bytes::Bytes;
use chrono::{Duration, Utc};
use pitwall_domain::media::{MediaType, sniff};
use pitwall_domain::{InspectionId, MediaId, Permission, Quota, ShopId, TicketId};
use pitwall_store::inspections as inspection_store;
use pitwall_store::media::{self as store, Medium};

use super::{load_to_change, may, may_read, not_editable};
use crate::media::{Variant, prepare};
use crate::{App, Error, Result, ShopCtx};

/// Default for `PITWALL_MEDIA_MAX_MB`: a minute of phone video.
pub const DEFAULT_MAX_MB: u64 = 100;

/// What the API and pages answer with for one file.
pub struct MediaFile {
    pub row: Medium,
    /// The variant actually sent (a video has only its original).
    pub variant: Variant,
    pub content_type: &'static str,
    /// The whole file's length.
    pub total: u64,
    /// The bytes sent: all of them, or the asked range.
    pub range: Option<Range<u64>>,
    pub bytes: Bytes,
}

/// Stores a photo or video of one finding (`inspections.edit`) while the
/// inspection is in progress or returned. The file is known by its bytes;
/// location and other metadata are removed; photos get a thumbnail and a
/// screen-sized copy. Counts against the plan's `media_mb`.
pub async fn upload(
    app: &App,
    ctx: &ShopCtx,
    id: InspectionId,
    key: &str,
    upload: Vec<u8>,
) -> Result<Medium> {
    may(app, ctx, Permission::InspectionsEdit).await?;
    let shop = ctx.shop_id();
    let max = app.config.media_max_bytes;
    if upload.len() as u64 > max {
        return Err(Error::TooLarge {
            field: "file",
            limit_mb: max / (1024 * 1024),
        });
    }
    let current = load_to_change(&app.db, ctx, id).await?;
    if !current.status.editable() {
        return Err(not_editable(current.status));
    }
    let finding = current
        .findings
        .iter()
        .find(|f| f.row.item_key == key)
        .ok_or(Error::NotFound("finding"))?;
    let finding_id = finding.row.id;
    let Some(kind) = sniff(&upload) else {
        return Err(Error::invalid(
            "file",
            "is not a JPEG, PNG, WebP or HEIC photo, nor an MP4 or MOV video",
        ));
    };
    let prepared = tokio::task::spawn_blocking(move || prepare(kind, &upload))
        .await
        .map_err(|e| Error::Internal(format!("preparing media: {e}")))?
        .map_err(|message| Error::invalid("file", message))?;
    let stored = prepared.original.len()
        + prepared
            .copies
            .as_ref()
            .map_or(0, |(t, s)| t.len() + s.len());
    let stored = stored as i64;
    // Checked here, before any file is written, and again where the row is
    // written, with the shop's uploads taking turns.
    let quota = ctx.quota(Quota::MediaMb);
    if let Some(mb) = quota {
        within_quota(&app.db, shop, stored, mb).await?;
    }
    let media_id = MediaId::new();
    let row = Medium {
        id: media_id.as_uuid(),
        shop_id: shop.as_uuid(),
        inspection_id: id.as_uuid(),
        finding_id,
        content_type: kind.content_type().to_owned(),
        bytes: prepared.original.len() as i64,
        stored_bytes: stored,
        width: prepared.width.map(|w| w as i32),
        height: prepared.height.map(|h| h as i32),
        has_copies: prepared.copies.is_some(),
        created_by: Some(ctx.user_id.as_uuid()),
        created_at: Utc::now(),
    };
    let written = write_files(app, shop, media_id, prepared).await;
    let committed = match written {
        Ok(()) => insert_row(app, ctx, id, row.clone(), quota).await,
        Err(e) => Err(e),
    };
    if let Err(e) = committed {
        if let Err(cleanup) = app.media.remove(shop, media_id).await {
            tracing::warn!(media = %media_id, error = %cleanup, "upload failed; the sweep will remove its files");
        }
        return Err(e);
    }
    Ok(row)
}

async fn write_files(
    app: &App,
    shop: ShopId,
    id: MediaId,
    p: crate::media::Prepared,
) -> Result<()> {
    if let Some((thumb, screen)) = p.copies {
        app.media.put(shop, id, Variant::Thumb, thumb).await?;
        app.media.put(shop, id, Variant::Screen, screen).await?;
    }
    app.media.put(shop, id, Variant::Original, p.original).await
}

async fn within_quota(
    db: &impl pitwall_store::sea_orm::ConnectionTrait,
    shop: ShopId,
    adding: i64,
    mb: i64,
) -> Result<()> {
    let used = store::stored_bytes(db, shop).await?;
    if used + adding > mb * 1024 * 1024 {
        return Err(Error::QuotaExceeded {
            quota: Quota::MediaMb,
            limit: mb,
        });
    }
    Ok(())
}

async fn insert_row(
    app: &App,
    ctx: &ShopCtx,
    id: InspectionId,
    row: Medium,
    quota: Option<i64>,
) -> Result<()> {
    let txn = pitwall_store::begin_write(&app.db).await?;
    if let Some(mb) = quota {
        store::take_turns(&txn, ctx.shop_id()).await?;
        within_quota(&txn, ctx.shop_id(), row.stored_bytes, mb).await?;
    }
    // The inspection may have been submitted while the file was written.
    let current = load_to_change(&txn, ctx, id).await?;
    if !current.status.editable() {
        return Err(not_editable(current.status));
    }
    store::insert(&txn, row).await?;
    inspection_store::bump(&txn, ctx.shop_id(), id, Utc::now()).await?;
    txn.commit().await?;
    Ok(())
}

/// Which file to send: copies exist for photos Pitwall decoded.
fn pick(row: &Medium, asked: Variant) -> (Variant, &'static str) {
    let kind = MediaType::from_content_type(&row.content_type);
    let original = kind.map_or("application/octet-stream", |k| k.content_type());
    if asked == Variant::Original || !row.has_copies {
        (Variant::Original, original)
    } else {
        (asked, "image/jpeg")
    }
}

async fn read(
    app: &App,
    shop: ShopId,
    row: Medium,
    variant: Variant,
    range_header: Option<&str>,
) -> Result<MediaFile> {
    let (variant, content_type) = pick(&row, variant);
    let id = MediaId::from_uuid(row.id);
    // The original's length is on the row; a copy's is read whole (small).
    let (total, range, bytes) = if variant == Variant::Original {
        let total = row.bytes as u64;
        let range = crate::media::byte_range(range_header, total).map_err(|()| {
            Error::invalid("range", format!("is outside the file's {total} bytes"))
        })?;
        let bytes = app.media.get(shop, id, variant, range.clone()).await?;
        (total, range, bytes)
    } else {
        let bytes = app.media.get(shop, id, variant, None).await?;
        (bytes.len() as u64, None, bytes)
    };
    Ok(MediaFile {
        row,
        variant,
        content_type,
        total,
        range,
        bytes,
    })
}

/// One file for the shop's staff (`tickets.view`).
pub async fn get(
    app: &App,
    ctx: &ShopCtx,
    id: MediaId,
    variant: Variant,
    range: Option<&str>,
) -> Result<MediaFile> {
    may_read(app, ctx).await?;
    let row = store::get(&app.db, ctx.shop_id(), id)
        .await?
        .ok_or(Error::NotFound("media"))?;
    read(app, ctx.shop_id(), row, variant, range).await
}

/// Removes a photo or video (`inspections.edit`) while its inspection is
/// in progress or returned.
pub async fn delete(app: &App, ctx: &ShopCtx, id: MediaId) -> Result<()> {
    may(app, ctx, Permission::InspectionsEdit).await?;
    let shop = ctx.shop_id();
    let txn = pitwall_store::begin_write(&app.db).await?;
    let row = store::get(&txn, shop, id)
        .await?
        .ok_or(Error::NotFound("media"))?;
    let inspection = InspectionId::from_uuid(row.inspection_id);
    let current = load_to_change(&txn, ctx, inspection).await?;
    if !current.status.editable() {
        return Err(not_editable(current.status));
    }
    store::delete(&txn, shop, id).await?;
    inspection_store::bump(&txn, shop, inspection, Utc::now()).await?;
    txn.commit().await?;
    if let Err(e) = app.media.remove(shop, id).await {
        tracing::warn!(media = %id, error = %e, "removed media row; the sweep will remove its files");
    }
    Ok(())
}

/// A file of the ticket's published inspection, for the customer holding
/// the link (the caller resolved it): nothing of another ticket, nor of an
/// inspection not (or no longer the latest) published.
pub async fn for_customer(
    app: &App,
    shop: ShopId,
    ticket: TicketId,
    id: MediaId,
    variant: Variant,
    range: Option<&str>,
) -> Result<MediaFile> {
    let published = inspection_store::latest_published(&app.db, shop, ticket)
        .await?
        .ok_or(Error::NotFound("media"))?;
    let row = store::get(&app.db, shop, id)
        .await?
        .filter(|m| m.inspection_id == published.id)
        .ok_or(Error::NotFound("media"))?;
    read(app, shop, row, variant, range).await
}

/// Files written more than `older_than` ago that have no row: uploads
/// whose row never committed. Returns how many were removed.
pub async fn sweep(app: &App, older_than: Duration) -> Result<usize> {
    let cutoff = Utc::now() - older_than;
    let listed: Vec<_> = app
        .media
        .list()
        .await?
        .into_iter()
        .filter(|(_, _, at)| *at < cutoff)
        .collect();
    let mut removed = 0;
    for chunk in listed.chunks(500) {
        let ids: Vec<uuid::Uuid> = chunk.iter().map(|(_, id, _)| *id).collect();
        let kept = store::existing(&app.db, &ids).await?;
        for (shop, id, _) in chunk {
            if !kept.contains(id) {
                app.media.remove_listed(shop, *id).await?;
                removed += 1;
            }
        }
    }
    if removed > 0 {
        tracing::info!(removed, "swept media files that had no row");
    }
    Ok(removed)
}

/// Media of each finding of an inspection, in upload order.
pub(crate) async fn by_finding(
    db: &impl pitwall_store::sea_orm::ConnectionTrait,
    shop: ShopId,
    id: InspectionId,
) -> Result<std::collections::HashMap<uuid::Uuid, Vec<Medium>>> {
    let mut out: std::collections::HashMap<uuid::Uuid, Vec<Medium>> = Default::default();
    for m in store::of_inspection(db, shop, id).await? {
        out.entry(m.finding_id).or_default().push(m);
    }
    Ok(out)
}

impl MediaFile {
    /// 206 when a range was asked for and sent, else 200.
    pub fn status(&self) -> u16 {
        if self.range.is_some() { 206 } else { 200 }
    }

    /// The headers that go with the bytes, for every adapter alike. Files
    /// never change (a new photo is a new id), but they are private: only
    /// the browser that was allowed to see one may keep it.
    pub fn headers(&self) -> Vec<(&'static str, String)> {
        let mut h = vec![
            ("content-type", self.content_type.to_owned()),
            (
                "cache-control",
                "private, max-age=86400, immutable".to_owned(),
            ),
            ("x-content-type-options", "nosniff".to_owned()),
            ("content-disposition", "inline".to_owned()),
        ];
        if self.variant == Variant::Original {
            h.push(("accept-ranges", "bytes".to_owned()));
        }
        if let Some(r) = &self.range {
            h.push((
                "content-range",
                format!(
                    "bytes {}-{}/{}",
                    r.start,
                    r.end.saturating_sub(1),
                    self.total
                ),
            ));
        }
        h
    }
}
