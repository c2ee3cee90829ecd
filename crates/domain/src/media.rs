//! Photos and videos of findings: what a file is (by its bytes, never its
//! name or declared type), and the metadata that must never leave the shop.
//!
//! Phones write where a photo was taken into it. A customer's address does
//! not belong on a page the shop shares, so location and every other
//! free-form metadata block is removed from an image before it is stored:
//! JPEG `APP1` (Exif, XMP), `APP13` (IPTC) and comments; PNG text and
//! `eXIf` chunks; WebP `EXIF` and `XMP ` chunks; the Exif item of a HEIC
//! file is blanked in place. Only the orientation survives (as a minimal
//! Exif block), or photos taken upright would show sideways.
//!
//! Phones write where a video was recorded too: MP4 and QuickTime files
//! get their `©xyz` and 3GPP `loci` boxes turned into `free` space and
//! the values of QuickTime `com.apple.quicktime.location.*` keys zeroed,
//! in place, so that every offset in the file stays right.

/// What an upload is, as its first bytes say.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MediaType {
    Jpeg,
    Png,
    Webp,
    Heic,
    Mp4,
    QuickTime,
}

impl MediaType {
    pub const fn content_type(self) -> &'static str {
        match self {
            MediaType::Jpeg => "image/jpeg",
            MediaType::Png => "image/png",
            MediaType::Webp => "image/webp",
            MediaType::Heic => "image/heic",
            MediaType::Mp4 => "video/mp4",
            MediaType::QuickTime => "video/quicktime",
        }
    }

    pub fn from_content_type(s: &str) -> Option<Self> {
        Some(match s {
            "image/jpeg" => MediaType::Jpeg,
            "image/png" => MediaType::Png,
            "image/webp" => MediaType::Webp,
            "image/heic" => MediaType::Heic,
            "video/mp4" => MediaType::Mp4,
            "video/quicktime" => MediaType::QuickTime,
            _ => return None,
        })
    }

    pub const fn is_video(self) -> bool {
        matches!(self, MediaType::Mp4 | MediaType::QuickTime)
    }

    /// Images Pitwall decodes itself to make the thumbnail and screen copy.
    pub const fn decodable(self) -> bool {
        matches!(self, MediaType::Jpeg | MediaType::Png | MediaType::Webp)
    }
}

/// Recognises an upload by its first bytes; `None` for anything Pitwall
/// does not accept.
pub fn sniff(head: &[u8]) -> Option<MediaType> {
    if head.starts_with(&[0xFF, 0xD8, 0xFF]) {
        return Some(MediaType::Jpeg);
    }
    if head.starts_with(b"\x89PNG\r\n\x1a\n") {
        return Some(MediaType::Png);
    }
    if head.len() >= 12 && &head[..4] == b"RIFF" && &head[8..12] == b"WEBP" {
        return Some(MediaType::Webp);
    }
    // ISO base media files (HEIC, MP4, QuickTime) open with an `ftyp` box
    // naming the major brand.
    if head.len() >= 12 && &head[4..8] == b"ftyp" {
        let brand = &head[8..12];
        return match brand {
            b"heic" | b"heix" | b"heim" | b"heis" | b"hevc" | b"hevx" | b"mif1" | b"msf1" => {
                Some(MediaType::Heic)
            }
            b"qt  " => Some(MediaType::QuickTime),
            b"isom" | b"iso2" | b"iso4" | b"iso5" | b"iso6" | b"mp41" | b"mp42" | b"avc1"
            | b"M4V " | b"M4A " | b"dash" | b"3gp4" | b"3gp5" | b"3gp6" => Some(MediaType::Mp4),
            _ => None,
        };
    }
    None
}

/// Why a file that looked right could not be cleaned.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Malformed(pub &'static str);

/// The image with its metadata removed, as described at the top. Video is
/// returned unchanged.
pub fn strip_metadata(kind: MediaType, bytes: &[u8]) -> Result<Vec<u8>, Malformed> {
    match kind {
        MediaType::Jpeg => strip_jpeg(bytes),
        MediaType::Png => strip_png(bytes),
        MediaType::Webp => strip_webp(bytes),
        MediaType::Heic => blank_heic_exif(bytes),
        MediaType::Mp4 | MediaType::QuickTime => blank_video_location(bytes),
    }
}

fn be16(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes(b.get(at..at + 2)?.try_into().ok()?))
}

fn be32(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_be_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

fn be64(b: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_be_bytes(b.get(at..at + 8)?.try_into().ok()?))
}

fn le32(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

/// The Exif orientation (1 to 8) of a TIFF block, if it names one.
pub fn exif_orientation(tiff: &[u8]) -> Option<u16> {
    let little = match tiff.get(..2)? {
        b"II" => true,
        b"MM" => false,
        _ => return None,
    };
    let u16_at = |at: usize| -> Option<u16> {
        let b: [u8; 2] = tiff.get(at..at + 2)?.try_into().ok()?;
        Some(if little {
            u16::from_le_bytes(b)
        } else {
            u16::from_be_bytes(b)
        })
    };
    let u32_at = |at: usize| -> Option<u32> {
        let b: [u8; 4] = tiff.get(at..at + 4)?.try_into().ok()?;
        Some(if little {
            u32::from_le_bytes(b)
        } else {
            u32::from_be_bytes(b)
        })
    };
    let ifd = u32_at(4)? as usize;
    let count = u16_at(ifd)? as usize;
    (0..count.min(512)).find_map(|i| {
        let entry = ifd + 2 + i * 12;
        (u16_at(entry)? == 0x0112)
            .then(|| u16_at(entry + 8))
            .flatten()
            .filter(|o| (1..=8).contains(o))
    })
}

/// An `APP1` Exif segment holding the orientation and nothing else.
fn orientation_segment(orientation: u16) -> Vec<u8> {
    let mut tiff = Vec::with_capacity(26);
    tiff.extend_from_slice(b"MM\0\x2a\0\0\0\x08"); // big-endian, IFD0 at 8
    tiff.extend_from_slice(&1u16.to_be_bytes()); // one entry
    tiff.extend_from_slice(&0x0112u16.to_be_bytes()); // Orientation
    tiff.extend_from_slice(&3u16.to_be_bytes()); // SHORT
    tiff.extend_from_slice(&1u32.to_be_bytes()); // count
    tiff.extend_from_slice(&orientation.to_be_bytes());
    tiff.extend_from_slice(&[0, 0]); // value padding
    tiff.extend_from_slice(&0u32.to_be_bytes()); // no next IFD
    let mut seg = vec![0xFF, 0xE1];
    let len = (2 + 6 + tiff.len()) as u16;
    seg.extend_from_slice(&len.to_be_bytes());
    seg.extend_from_slice(b"Exif\0\0");
    seg.extend_from_slice(&tiff);
    seg
}

fn strip_jpeg(b: &[u8]) -> Result<Vec<u8>, Malformed> {
    const BAD: Malformed = Malformed("is not a well-formed JPEG");
    let mut out = Vec::with_capacity(b.len());
    out.extend_from_slice(&[0xFF, 0xD8]);
    let mut orientation = None;
    let mut at = 2;
    let mut wrote_orientation = false;
    loop {
        // Fill bytes (0xFF) may pad between segments.
        while b.get(at) == Some(&0xFF) && b.get(at + 1) == Some(&0xFF) {
            at += 1;
        }
        if b.get(at) != Some(&0xFF) {
            return Err(BAD);
        }
        let marker = *b.get(at + 1).ok_or(BAD)?;
        if marker == 0xD9 {
            out.extend_from_slice(&[0xFF, 0xD9]);
            return Ok(out);
        }
        if (0xD0..=0xD7).contains(&marker) || marker == 0x01 {
            out.extend_from_slice(&b[at..at + 2]);
            at += 2;
            continue;
        }
        let len = be16(b, at + 2).ok_or(BAD)? as usize;
        if len < 2 {
            return Err(BAD);
        }
        let end = at + 2 + len;
        let segment = b.get(at..end).ok_or(BAD)?;
        let body = &segment[4..];
        let is_exif = marker == 0xE1 && body.starts_with(b"Exif\0\0");
        if is_exif && orientation.is_none() {
            orientation = exif_orientation(&body[6..]);
        }
        // Keep JFIF (APP0), colour profiles (APP2) and Adobe's colour
        // transform (APP14); every other APPn and comments go.
        let drop = matches!(marker, 0xE1 | 0xE3..=0xED | 0xEF | 0xFE);
        if marker == 0xDA {
            if let (Some(o), false) = (orientation, wrote_orientation)
                && o != 1
            {
                out.extend_from_slice(&orientation_segment(o));
            }
            // Entropy-coded data to the end: nothing more to strip.
            out.extend_from_slice(&b[at..]);
            return Ok(out);
        }
        if !drop {
            // The orientation goes right after JFIF/before the frame.
            if marker != 0xE0
                && let (Some(o), false) = (orientation, wrote_orientation)
            {
                if o != 1 {
                    out.extend_from_slice(&orientation_segment(o));
                }
                wrote_orientation = true;
            }
            out.extend_from_slice(segment);
        }
        at = end;
    }
}

fn strip_png(b: &[u8]) -> Result<Vec<u8>, Malformed> {
    const BAD: Malformed = Malformed("is not a well-formed PNG");
    let mut out = Vec::with_capacity(b.len());
    out.extend_from_slice(&b[..8]);
    let mut at = 8;
    while at < b.len() {
        let len = be32(b, at).ok_or(BAD)? as usize;
        let end = at.checked_add(12 + len).ok_or(BAD)?;
        let chunk = b.get(at..end).ok_or(BAD)?;
        let kind = &chunk[4..8];
        let drop = matches!(kind, b"eXIf" | b"tEXt" | b"zTXt" | b"iTXt" | b"tIME");
        if !drop {
            out.extend_from_slice(chunk);
        }
        at = end;
        if kind == b"IEND" {
            break;
        }
    }
    Ok(out)
}

fn strip_webp(b: &[u8]) -> Result<Vec<u8>, Malformed> {
    const BAD: Malformed = Malformed("is not a well-formed WebP");
    let mut chunks = Vec::with_capacity(b.len());
    let mut at = 12;
    while at + 8 <= b.len() {
        let len = le32(b, at + 4).ok_or(BAD)? as usize;
        let padded = len + (len & 1);
        let end = (at + 8 + padded).min(b.len());
        if at + 8 + len > b.len() {
            return Err(BAD);
        }
        let kind = &b[at..at + 4];
        match kind {
            b"EXIF" | b"XMP " => {}
            b"VP8X" => {
                let mut chunk = b[at..end].to_vec();
                // Flags byte: clear "has Exif" (0x08) and "has XMP" (0x04).
                if let Some(flags) = chunk.get_mut(8) {
                    *flags &= !0x0C;
                }
                chunks.extend_from_slice(&chunk);
            }
            _ => chunks.extend_from_slice(&b[at..end]),
        }
        at = end;
    }
    let mut out = Vec::with_capacity(chunks.len() + 12);
    out.extend_from_slice(b"RIFF");
    out.extend_from_slice(&((chunks.len() + 4) as u32).to_le_bytes());
    out.extend_from_slice(b"WEBP");
    out.extend_from_slice(&chunks);
    Ok(out)
}

/// Boxes that hold other boxes on the way to a video's metadata.
const VIDEO_CONTAINERS: &[&[u8; 4]] = &[b"moov", b"trak", b"udta"];

/// A video with its recording location removed in place (see the top).
fn blank_video_location(b: &[u8]) -> Result<Vec<u8>, Malformed> {
    let mut out = b.to_vec();
    // The top level is read only as far as it is whole: a recording cut
    // short (its last `mdat` running past the end) is still stored, as
    // phones leave it. Inside `moov` every box must fit.
    for (kind, start, end) in box_walk(b, 0..b.len()).0 {
        if &kind == b"moov" {
            blank_location_in(b, &mut out, start..end, 0)?;
        }
    }
    Ok(out)
}

fn blank_location_in(
    b: &[u8],
    out: &mut [u8],
    range: std::ops::Range<usize>,
    depth: u8,
) -> Result<(), Malformed> {
    // Real files nest a few levels; a deeper one is built to exhaust us.
    if depth > 8 {
        return Err(Malformed("is not a well-formed video file"));
    }
    let children = boxes(b, range).map_err(|_| Malformed("is not a well-formed video file"))?;
    for (kind, start, end) in children {
        if &kind == b"\xA9xyz" || &kind == b"loci" {
            // The type sits just before the payload, or before a 64-bit
            // size in a large box.
            let kind_at = if b.get(start - 4..start) == Some(&kind[..]) {
                start - 4
            } else {
                start - 12
            };
            out[kind_at..kind_at + 4].copy_from_slice(b"free");
            out[start..end].fill(0);
        } else if &kind == b"meta" {
            blank_location_keys(b, out, start, end, depth)?;
        } else if VIDEO_CONTAINERS.contains(&&kind) {
            blank_location_in(b, out, start..end, depth + 1)?;
        }
    }
    Ok(())
}

/// A `meta` box: QuickTime's (boxes straight away) or ISO's (a full box,
/// version and flags first). Zeroes the values of its location keys, and
/// looks for `©xyz` inside it too.
fn blank_location_keys(
    b: &[u8],
    out: &mut [u8],
    start: usize,
    end: usize,
    depth: u8,
) -> Result<(), Malformed> {
    const BAD: Malformed = Malformed("is not a well-formed video file");
    let first = if b.get(start + 4..start + 8) == Some(b"hdlr")
        || b.get(start + 4..start + 8) == Some(b"keys")
    {
        start
    } else {
        start + 4
    };
    let children = boxes(b, first..end).map_err(|_| BAD)?;
    let mut located = Vec::new();
    if let Some(&(_, keys, keys_end)) = children.iter().find(|(k, _, _)| k == b"keys") {
        // Version and flags, the count, then (size, namespace, name) each.
        let count = be32(b, keys + 4).ok_or(BAD)?;
        let mut at = keys + 8;
        for index in 1..=count {
            let size = be32(b, at).ok_or(BAD)? as usize;
            if size < 8 || at + size > keys_end {
                return Err(BAD);
            }
            if b[at + 8..at + size].starts_with(b"com.apple.quicktime.location") {
                located.push(index);
            }
            at += size;
        }
    }
    if let Some(&(_, ilst, ilst_end)) = children.iter().find(|(k, _, _)| k == b"ilst") {
        for (kind, item, item_end) in boxes(b, ilst..ilst_end).map_err(|_| BAD)? {
            if !located.contains(&u32::from_be_bytes(kind)) {
                continue;
            }
            // `data` boxes: type indicator and locale, then the value.
            for (inner, value, value_end) in boxes(b, item..item_end).map_err(|_| BAD)? {
                if &inner == b"data" && value + 8 <= value_end {
                    out[value + 8..value_end].fill(0);
                }
            }
        }
    }
    blank_location_in(b, out, first..end, depth + 1)
}

/// ISO base media boxes at the top level of `range` as far as they are
/// whole: (type, payload start, end) each, and whether every box fit.
fn box_walk(b: &[u8], range: std::ops::Range<usize>) -> (Vec<([u8; 4], usize, usize)>, bool) {
    let mut out = Vec::new();
    let mut at = range.start;
    while at + 8 <= range.end {
        let (Some(size), Some(kind)) = (
            be32(b, at),
            b.get(at + 4..at + 8)
                .and_then(|k| <[u8; 4]>::try_from(k).ok()),
        ) else {
            return (out, false);
        };
        let (header, size) = match size {
            1 => (16, be64(b, at + 8).and_then(|n| usize::try_from(n).ok())),
            0 => (8, Some(range.end - at)),
            n => (8, Some(n as usize)),
        };
        // A declared size can be anything: checked, never trusted to add.
        let Some(end) = size
            .filter(|s| *s >= header)
            .and_then(|s| at.checked_add(s))
            .filter(|e| *e <= range.end)
        else {
            return (out, false);
        };
        out.push((kind, at + header, end));
        at = end;
    }
    (out, true)
}

/// As [`box_walk`], refusing a range whose boxes do not all fit.
fn boxes(
    b: &[u8],
    range: std::ops::Range<usize>,
) -> Result<Vec<([u8; 4], usize, usize)>, Malformed> {
    match box_walk(b, range) {
        (found, true) => Ok(found),
        (_, false) => Err(Malformed("is not a well-formed HEIC file")),
    }
}

/// Overwrites the bytes of every `Exif` item with zeros, leaving the
/// file's structure (and the picture) as it was.
fn blank_heic_exif(b: &[u8]) -> Result<Vec<u8>, Malformed> {
    const BAD: Malformed = Malformed("is not a well-formed HEIC file");
    let mut out = b.to_vec();
    let top = boxes(b, 0..b.len())?;
    let Some(&(_, meta_start, meta_end)) = top.iter().find(|(k, _, _)| k == b"meta") else {
        return Ok(out);
    };
    // `meta` is a full box: version and flags first.
    let children = boxes(b, meta_start + 4..meta_end)?;
    let find = |name: &[u8; 4]| children.iter().find(|(k, _, _)| k == name).copied();
    let (Some((_, iinf, iinf_end)), Some((_, iloc, _))) = (find(b"iinf"), find(b"iloc")) else {
        return Ok(out);
    };
    // Item ids whose type is `Exif`.
    let version = *b.get(iinf).ok_or(BAD)?;
    let entries_at = iinf + 4 + if version == 0 { 2 } else { 4 };
    let mut exif_items = Vec::new();
    for (kind, start, _) in boxes(b, entries_at..iinf_end)? {
        if &kind != b"infe" {
            continue;
        }
        let v = *b.get(start).ok_or(BAD)?;
        let (id, type_at) = match v {
            2 => (be16(b, start + 4).ok_or(BAD)? as u32, start + 8),
            3 => (be32(b, start + 4).ok_or(BAD)?, start + 10),
            _ => continue,
        };
        if b.get(type_at..type_at + 4) == Some(b"Exif") {
            exif_items.push(id);
        }
    }
    if exif_items.is_empty() {
        return Ok(out);
    }
    // Where each of those items' bytes are.
    let v = *b.get(iloc).ok_or(BAD)?;
    let sizes = *b.get(iloc + 4).ok_or(BAD)?;
    let more = *b.get(iloc + 5).ok_or(BAD)?;
    let (offset_size, length_size) = ((sizes >> 4) as usize, (sizes & 0x0F) as usize);
    let base_size = (more >> 4) as usize;
    let index_size = if v == 1 || v == 2 {
        (more & 0x0F) as usize
    } else {
        0
    };
    let read = |at: usize, n: usize| -> Result<u64, Malformed> {
        match n {
            0 => Ok(0),
            4 => be32(b, at).map(u64::from).ok_or(BAD),
            8 => be64(b, at).ok_or(BAD),
            _ => Err(BAD),
        }
    };
    let mut at = iloc + 6;
    let (count, step) = if v < 2 {
        (be16(b, at).ok_or(BAD)? as u32, 2)
    } else {
        (be32(b, at).ok_or(BAD)?, 4)
    };
    at += step;
    for _ in 0..count {
        let id = if v < 2 {
            let id = be16(b, at).ok_or(BAD)? as u32;
            at += 2;
            id
        } else {
            let id = be32(b, at).ok_or(BAD)?;
            at += 4;
            id
        };
        let construction = if v == 1 || v == 2 {
            let c = be16(b, at).ok_or(BAD)? & 0x0F;
            at += 2;
            c
        } else {
            0
        };
        at += 2; // data reference index
        let base = read(at, base_size)?;
        at += base_size;
        let extents = be16(b, at).ok_or(BAD)?;
        at += 2;
        for _ in 0..extents {
            at += index_size;
            let offset = read(at, offset_size)?;
            at += offset_size;
            let length = read(at, length_size)?;
            at += length_size;
            // Only items stored in the file itself (construction 0).
            if construction == 0 && exif_items.contains(&id) {
                let start = usize::try_from(base + offset).map_err(|_| BAD)?;
                let end = start
                    .checked_add(usize::try_from(length).map_err(|_| BAD)?)
                    .filter(|e| *e <= out.len())
                    .ok_or(BAD)?;
                out[start..end].fill(0);
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn segment(marker: u8, body: &[u8]) -> Vec<u8> {
        let mut s = vec![0xFF, marker];
        s.extend_from_slice(&((body.len() + 2) as u16).to_be_bytes());
        s.extend_from_slice(body);
        s
    }

    fn exif_with_gps(orientation: u16) -> Vec<u8> {
        // Little-endian TIFF: IFD0 with Orientation and a GPS pointer.
        let mut t = b"II\x2a\0\x08\0\0\0".to_vec();
        t.extend_from_slice(&2u16.to_le_bytes());
        t.extend_from_slice(&0x0112u16.to_le_bytes());
        t.extend_from_slice(&3u16.to_le_bytes());
        t.extend_from_slice(&1u32.to_le_bytes());
        t.extend_from_slice(&orientation.to_le_bytes());
        t.extend_from_slice(&[0, 0]);
        t.extend_from_slice(&0x8825u16.to_le_bytes());
        t.extend_from_slice(&4u16.to_le_bytes());
        t.extend_from_slice(&1u32.to_le_bytes());
        t.extend_from_slice(&38u32.to_le_bytes());
        t.extend_from_slice(&0u32.to_le_bytes());
        t.extend_from_slice(b"GPS 48.8584 N 2.2945 E");
        let mut body = b"Exif\0\0".to_vec();
        body.extend_from_slice(&t);
        body
    }

    fn jpeg(orientation: u16) -> Vec<u8> {
        let mut j = vec![0xFF, 0xD8];
        j.extend(segment(0xE0, b"JFIF\0\x01\x01\0\0\x01\0\x01\0\0"));
        j.extend(segment(0xE1, &exif_with_gps(orientation)));
        j.extend(segment(0xE1, b"http://ns.adobe.com/xap/1.0/\0<x:xmpmeta/>"));
        j.extend(segment(0xFE, b"shot at 12 Main St"));
        j.extend(segment(0xDB, &[0u8; 65]));
        j.extend(segment(0xC0, &[8, 0, 1, 0, 1, 1, 1, 0x11, 0]));
        j.extend(segment(0xDA, &[1, 1, 0, 0, 0x3F, 0]));
        j.extend_from_slice(&[0x12, 0x34, 0xFF, 0x00, 0x56]);
        j.extend_from_slice(&[0xFF, 0xD9]);
        j
    }

    fn contains(hay: &[u8], needle: &[u8]) -> bool {
        hay.windows(needle.len()).any(|w| w == needle)
    }

    #[test]
    fn files_are_known_by_their_bytes() {
        assert_eq!(sniff(&jpeg(1)), Some(MediaType::Jpeg));
        assert_eq!(
            sniff(b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR"),
            Some(MediaType::Png)
        );
        assert_eq!(sniff(b"RIFF\x10\0\0\0WEBPVP8 "), Some(MediaType::Webp));
        assert_eq!(sniff(b"\0\0\0\x18ftypheic\0\0\0\0"), Some(MediaType::Heic));
        assert_eq!(sniff(b"\0\0\0\x18ftypisom\0\0\0\0"), Some(MediaType::Mp4));
        assert_eq!(
            sniff(b"\0\0\0\x14ftypqt  \0\0\0\0"),
            Some(MediaType::QuickTime)
        );
        // A script named photo.jpg, a PDF, an AVIF: refused.
        assert_eq!(sniff(b"<script>alert(1)</script>"), None);
        assert_eq!(sniff(b"%PDF-1.7\n"), None);
        assert_eq!(sniff(b"\0\0\0\x1cftypavif\0\0\0\0"), None);
        assert_eq!(sniff(b""), None);
    }

    #[test]
    fn jpeg_loses_location_comments_and_xmp_but_keeps_orientation_and_picture() {
        let original = jpeg(6);
        assert!(contains(&original, b"GPS 48.8584"));
        let clean = strip_metadata(MediaType::Jpeg, &original).unwrap();
        assert!(!contains(&clean, b"GPS 48.8584"));
        assert!(!contains(&clean, b"12 Main St"));
        assert!(!contains(&clean, b"xmpmeta"));
        assert!(contains(&clean, b"JFIF"));
        // The scan (and what follows) is untouched.
        assert!(clean.ends_with(&[0x12, 0x34, 0xFF, 0x00, 0x56, 0xFF, 0xD9]));
        // The orientation is all that is left of the Exif block.
        let at = clean
            .windows(6)
            .position(|w| w == b"Exif\0\0")
            .expect("orientation kept");
        assert_eq!(exif_orientation(&clean[at + 6..]), Some(6));
        // Upright photos need no Exif at all.
        let upright = strip_metadata(MediaType::Jpeg, &jpeg(1)).unwrap();
        assert!(!contains(&upright, b"Exif"));
    }

    #[test]
    fn truncated_jpeg_is_refused_not_panicked_on() {
        let j = jpeg(1);
        for cut in [3, 5, 20, 40] {
            assert!(strip_metadata(MediaType::Jpeg, &j[..cut]).is_err(), "{cut}");
        }
    }

    #[test]
    fn png_loses_text_and_exif_chunks() {
        fn chunk(kind: &[u8], data: &[u8]) -> Vec<u8> {
            let mut c = (data.len() as u32).to_be_bytes().to_vec();
            c.extend_from_slice(kind);
            c.extend_from_slice(data);
            c.extend_from_slice(&[0, 0, 0, 0]);
            c
        }
        let mut p = b"\x89PNG\r\n\x1a\n".to_vec();
        p.extend(chunk(b"IHDR", &[0; 13]));
        p.extend(chunk(b"eXIf", b"GPS here"));
        p.extend(chunk(b"tEXt", b"Location\0home"));
        p.extend(chunk(b"IDAT", b"pixels"));
        p.extend(chunk(b"IEND", b""));
        let clean = strip_metadata(MediaType::Png, &p).unwrap();
        assert!(!contains(&clean, b"GPS here"));
        assert!(!contains(&clean, b"Location"));
        assert!(contains(&clean, b"pixels"));
        assert!(contains(&clean, b"IEND"));
    }

    #[test]
    fn webp_loses_exif_and_xmp_and_its_flags_say_so() {
        let mut body = b"VP8X".to_vec();
        body.extend_from_slice(&10u32.to_le_bytes());
        body.extend_from_slice(&[0x0C, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
        body.extend_from_slice(b"VP8 ");
        body.extend_from_slice(&4u32.to_le_bytes());
        body.extend_from_slice(b"pix!");
        body.extend_from_slice(b"EXIF");
        body.extend_from_slice(&7u32.to_le_bytes());
        body.extend_from_slice(b"GPS!!!!\0");
        let mut w = b"RIFF".to_vec();
        w.extend_from_slice(&((body.len() + 4) as u32).to_le_bytes());
        w.extend_from_slice(b"WEBP");
        w.extend_from_slice(&body);
        let clean = strip_metadata(MediaType::Webp, &w).unwrap();
        assert!(!contains(&clean, b"GPS!"));
        assert!(contains(&clean, b"pix!"));
        assert_eq!(clean[20] & 0x0C, 0);
        assert_eq!(le32(&clean, 4).unwrap() as usize, clean.len() - 8);
    }

    #[test]
    fn video_loses_where_it_was_recorded_and_keeps_its_layout() {
        fn bx(kind: &[u8], payload: &[u8]) -> Vec<u8> {
            let mut b = ((payload.len() + 8) as u32).to_be_bytes().to_vec();
            b.extend_from_slice(kind);
            b.extend_from_slice(payload);
            b
        }
        let xyz = bx(b"\xA9xyz", b"\0\x12\x15\xC7+30.2672-097.7431/");
        let loci = bx(b"loci", b"\0\0\0\0 Austin 30.2672");
        let keys = bx(
            b"keys",
            &[
                &[0, 0, 0, 0, 0, 0, 0, 2][..],
                &bx(b"mdta", b"com.apple.quicktime.make"),
                &bx(b"mdta", b"com.apple.quicktime.location.ISO6709"),
            ]
            .concat(),
        );
        let value = |v: &[u8]| bx(b"data", &[&[0, 0, 0, 1, 0, 0, 0, 0][..], v].concat());
        let ilst = bx(
            b"ilst",
            &[
                bx(&1u32.to_be_bytes(), &value(b"Apple")),
                bx(&2u32.to_be_bytes(), &value(b"+48.8584+002.2945/")),
            ]
            .concat(),
        );
        let meta = bx(b"meta", &[bx(b"hdlr", &[0; 24]), keys, ilst].concat());
        let udta = bx(b"udta", &[xyz, loci].concat());
        let trak = bx(
            b"trak",
            &bx(b"udta", &bx(b"\xA9xyz", b"\0\x0c\x15\xC7+10.5-020.5/")),
        );
        let moov = bx(
            b"moov",
            &[bx(b"mvhd", &[0; 100]), udta, trak, meta].concat(),
        );
        let file = [
            bx(b"ftyp", b"qt  \0\0\0\0qt  "),
            moov,
            bx(b"mdat", b"FRAMES"),
        ]
        .concat();
        assert_eq!(sniff(&file), Some(MediaType::QuickTime));
        let clean = strip_metadata(MediaType::QuickTime, &file).unwrap();
        assert_eq!(clean.len(), file.len());
        for gone in [&b"30.2672"[..], b"48.8584", b"10.5", b"\xA9xyz", b"loci"] {
            assert!(
                !contains(&clean, gone),
                "{:?}",
                String::from_utf8_lossy(gone)
            );
        }
        for kept in [&b"Apple"[..], b"FRAMES", b"com.apple.quicktime.make"] {
            assert!(contains(&clean, kept));
        }
        // Still one well-formed file, box for box.
        assert_eq!(boxes(&clean, 0..clean.len()).unwrap().len(), 3);
        // A file without any of it comes back as it was; a broken one is refused.
        let plain = [
            bx(b"ftyp", b"isom\0\0\0\0isom"),
            bx(b"moov", &bx(b"mvhd", &[0; 100])),
        ]
        .concat();
        assert_eq!(strip_metadata(MediaType::Mp4, &plain).unwrap(), plain);
        let cut_short = [&plain[..], &bx(b"mdat", &[7; 64])[..40]].concat();
        assert_eq!(
            strip_metadata(MediaType::Mp4, &cut_short).unwrap(),
            cut_short
        );
        let mut huge = plain.clone();
        huge[28..32].copy_from_slice(&1u32.to_be_bytes());
        huge.splice(36..36, u64::MAX.to_be_bytes());
        assert!(strip_metadata(MediaType::Mp4, &huge).is_err());
        let mut broken = plain.clone();
        broken[plain.len() - 108..plain.len() - 104].copy_from_slice(&9999u32.to_be_bytes());
        assert!(strip_metadata(MediaType::Mp4, &broken).is_err());
    }

    #[test]
    fn heic_exif_item_is_blanked_in_place() {
        fn bx(kind: &[u8], payload: &[u8]) -> Vec<u8> {
            let mut b = ((payload.len() + 8) as u32).to_be_bytes().to_vec();
            b.extend_from_slice(kind);
            b.extend_from_slice(payload);
            b
        }
        let exif = b"\0\0\0\x06Exif\0\0MM GPS 48.85 N";
        let ftyp = bx(b"ftyp", b"heic\0\0\0\0mif1heic");
        // infe v2: version/flags, item id 1, protection 0, type Exif, name.
        let infe = bx(
            b"infe",
            &[&[2, 0, 0, 0, 0, 1, 0, 0][..], b"Exif\0"].concat(),
        );
        let iinf = bx(b"iinf", &[&[0, 0, 0, 0, 0, 1][..], &infe].concat());
        // iloc v0, offset 4 bytes, length 4 bytes, no base: offset patched below.
        let iloc_len = 8 + 4 + 2 + 2 + 2 + 2 + 2 + 4 + 4;
        let meta_len = 8 + 4 + iinf.len() + iloc_len;
        let mdat_payload_at = ftyp.len() + meta_len + 8;
        let iloc = bx(
            b"iloc",
            &[
                &[0, 0, 0, 0, 0x44, 0x00, 0, 1, 0, 1, 0, 0, 0, 1][..],
                &(mdat_payload_at as u32).to_be_bytes(),
                &(exif.len() as u32).to_be_bytes(),
            ]
            .concat(),
        );
        let meta = bx(b"meta", &[&[0, 0, 0, 0][..], &iinf, &iloc].concat());
        assert_eq!(meta.len(), meta_len);
        let file = [ftyp, meta, bx(b"mdat", &[&exif[..], b"PICTURE"].concat())].concat();
        assert_eq!(sniff(&file), Some(MediaType::Heic));
        let clean = strip_metadata(MediaType::Heic, &file).unwrap();
        assert_eq!(clean.len(), file.len());
        assert!(!contains(&clean, b"GPS"));
        assert!(contains(&clean, b"PICTURE"));
    }
}
