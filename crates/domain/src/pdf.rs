//! A small writer of text-only PDF 1.4 documents, used for invoices that are
//! e-mailed to customers and downloaded by staff.
//!
//! Only the standard Type1 fonts Helvetica and Helvetica-Bold are used, so
//! nothing is embedded and every reader has the glyphs; the price is that
//! text is limited to the WinAnsi (CP1252) repertoire. Characters outside it
//! are written as `?` rather than failing: an invoice must always render.
//!
//! Output is deterministic (no dates, no random file ids) because the bytes
//! are hashed elsewhere and compared in tests.
//!
//! Layout works in thousandths of a point held in integers. The AFM widths
//! are in thousandths of an em and font sizes are whole points, so text
//! widths come out exact and right-aligned text lands exactly on the margin,
//! with no float rounding that could differ between builds.

/// How a line is set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    /// 18pt bold.
    Title,
    /// 12pt bold.
    Heading,
    /// 10pt regular.
    Body,
    /// 8pt regular; also used for the page footer.
    Small,
}

impl Style {
    fn size(self) -> i64 {
        match self {
            Style::Title => 18,
            Style::Heading => 12,
            Style::Body => 10,
            Style::Small => 8,
        }
    }

    /// Height of one row in milli-points. The space below the baseline
    /// (leading minus size) must hold Helvetica's descender, about 0.21 em.
    fn leading(self) -> i64 {
        match self {
            Style::Title => 26_000,
            Style::Heading => 18_000,
            Style::Body => 14_000,
            Style::Small => 11_000,
        }
    }

    fn font(self) -> Font {
        match self {
            Style::Title | Style::Heading => Font::Bold,
            Style::Body | Style::Small => Font::Regular,
        }
    }
}

/// One line of the document: text on the left, optionally a second text
/// aligned to the right margin (amounts).
///
/// Left text that does not fit wraps at spaces onto following rows (words
/// wider than the column are broken); the right text stays on the first row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    pub text: String,
    pub right: Option<String>,
    pub style: Style,
    /// Drawn as a thin horizontal rule across the text width instead of
    /// text; `text` and `right` are then ignored.
    pub rule: bool,
}

impl Line {
    pub fn new(style: Style, text: impl Into<String>) -> Line {
        Line {
            text: text.into(),
            right: None,
            style,
            rule: false,
        }
    }

    pub fn with_right(self, right: impl Into<String>) -> Line {
        Line {
            right: Some(right.into()),
            ..self
        }
    }

    /// An empty line (vertical space).
    pub fn gap() -> Line {
        Line::new(Style::Body, "")
    }

    /// A thin horizontal rule across the text width.
    pub fn rule() -> Line {
        Line {
            rule: true,
            ..Line::new(Style::Small, "")
        }
    }
}

/// A4 text document. `title` goes into the document information dictionary;
/// `lines` are laid top to bottom, flowing onto new pages when a page is
/// full, and every page gets a "Page n of m" footer in [`Style::Small`].
pub fn render(title: &str, lines: &[Line]) -> Vec<u8> {
    let mut pages = layout(lines);
    // The footer needs the page count, so it is added only once every line
    // has been placed.
    let count = pages.len();
    for (i, page) in pages.iter_mut().enumerate() {
        page.push(footer(i + 1, count));
    }
    write_document(title, &pages)
}

// --- Geometry (milli-points) -------------------------------------------------

const PAGE_WIDTH: i64 = 595_000;
const PAGE_HEIGHT: i64 = 842_000;
const MARGIN: i64 = 50_000;
const LEFT: i64 = MARGIN;
const RIGHT: i64 = PAGE_WIDTH - MARGIN;
const TEXT_WIDTH: i64 = RIGHT - LEFT;
const TOP: i64 = PAGE_HEIGHT - MARGIN;
/// Content stops here; the footer sits below, inside the bottom margin.
const BOTTOM: i64 = MARGIN;
const FOOTER_BASELINE: i64 = 30_000;
/// Minimum space between the left text and a right-aligned text.
const COLUMN_GAP: i64 = 12_000;

// --- Fonts and text encoding -------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Font {
    Regular,
    Bold,
}

impl Font {
    fn resource(self) -> &'static str {
        match self {
            Font::Regular => "/F1",
            Font::Bold => "/F2",
        }
    }
}

/// Advance widths (thousandths of an em) of Helvetica for WinAnsi codes
/// 0x20..=0xFF, from Adobe's core-14 AFM files. The codes WinAnsi leaves
/// undefined (0x81, 0x8D, 0x8F, 0x90, 0x9D) never come out of [`encode`]
/// and carry the digit width.
#[rustfmt::skip]
const HELVETICA_WIDTHS: [u16; 224] = [
    278, 278, 355, 556, 556, 889, 667, 191, 333, 333, 389, 584, 278, 333, 278, 278, // 0x20
    556, 556, 556, 556, 556, 556, 556, 556, 556, 556, 278, 278, 584, 584, 584, 556, // 0x30
    1015, 667, 667, 722, 722, 667, 611, 778, 722, 278, 500, 667, 556, 833, 722, 778, // 0x40
    667, 778, 722, 667, 611, 722, 667, 944, 667, 667, 611, 278, 278, 278, 469, 556, // 0x50
    333, 556, 556, 500, 556, 556, 278, 556, 556, 222, 222, 500, 222, 833, 556, 556, // 0x60
    556, 556, 333, 500, 278, 556, 500, 722, 500, 500, 500, 334, 260, 334, 584, 556, // 0x70
    556, 556, 222, 556, 333, 1000, 556, 556, 333, 1000, 667, 333, 1000, 556, 611, 556, // 0x80
    556, 222, 222, 333, 333, 350, 556, 1000, 333, 1000, 500, 333, 944, 556, 500, 667, // 0x90
    278, 333, 556, 556, 556, 556, 260, 556, 333, 737, 370, 556, 584, 333, 737, 333, // 0xA0
    400, 584, 333, 333, 333, 556, 537, 278, 333, 333, 365, 556, 834, 834, 834, 611, // 0xB0
    667, 667, 667, 667, 667, 667, 1000, 722, 667, 667, 667, 667, 278, 278, 278, 278, // 0xC0
    722, 722, 778, 778, 778, 778, 778, 584, 778, 722, 722, 722, 722, 667, 667, 611, // 0xD0
    556, 556, 556, 556, 556, 556, 889, 500, 556, 556, 556, 556, 278, 278, 278, 278, // 0xE0
    556, 556, 556, 556, 556, 556, 556, 584, 611, 556, 556, 556, 556, 500, 556, 500, // 0xF0
];

/// As [`HELVETICA_WIDTHS`], for Helvetica-Bold.
#[rustfmt::skip]
const HELVETICA_BOLD_WIDTHS: [u16; 224] = [
    278, 333, 474, 556, 556, 889, 722, 238, 333, 333, 389, 584, 278, 333, 278, 278, // 0x20
    556, 556, 556, 556, 556, 556, 556, 556, 556, 556, 333, 333, 584, 584, 584, 611, // 0x30
    975, 722, 722, 722, 722, 667, 611, 778, 722, 278, 556, 722, 611, 833, 722, 778, // 0x40
    667, 778, 722, 667, 611, 722, 667, 944, 667, 667, 611, 333, 278, 333, 584, 556, // 0x50
    333, 556, 611, 556, 611, 556, 333, 611, 611, 278, 278, 556, 278, 889, 611, 611, // 0x60
    611, 611, 389, 556, 333, 611, 556, 778, 556, 556, 500, 389, 280, 389, 584, 556, // 0x70
    556, 556, 278, 556, 500, 1000, 556, 556, 333, 1000, 667, 333, 1000, 556, 611, 556, // 0x80
    556, 278, 278, 500, 500, 350, 556, 1000, 333, 1000, 556, 333, 944, 556, 500, 667, // 0x90
    278, 333, 556, 556, 556, 556, 280, 556, 333, 737, 370, 556, 584, 333, 737, 333, // 0xA0
    400, 584, 333, 333, 333, 611, 556, 278, 333, 333, 365, 556, 834, 834, 834, 611, // 0xB0
    722, 722, 722, 722, 722, 722, 1000, 722, 667, 667, 667, 667, 278, 278, 278, 278, // 0xC0
    722, 722, 778, 778, 778, 778, 778, 584, 778, 722, 722, 722, 722, 667, 667, 611, // 0xD0
    556, 556, 556, 556, 556, 556, 889, 556, 556, 556, 556, 556, 278, 278, 278, 278, // 0xE0
    611, 611, 611, 611, 611, 611, 611, 584, 611, 611, 611, 611, 611, 556, 611, 556, // 0xF0
];

/// Width used for any byte outside the tables (the digit width, so a stray
/// byte errs towards a plausible size).
const FALLBACK_WIDTH: u16 = 556;

const ELLIPSIS: u8 = 0x85;

fn glyph_width(font: Font, byte: u8) -> u16 {
    let table = match font {
        Font::Regular => &HELVETICA_WIDTHS,
        Font::Bold => &HELVETICA_BOLD_WIDTHS,
    };
    usize::from(byte)
        .checked_sub(0x20)
        .and_then(|i| table.get(i))
        .copied()
        .unwrap_or(FALLBACK_WIDTH)
}

/// Width of WinAnsi-encoded text in milli-points. Readers do not apply
/// kerning to a plain `Tj`, so the sum of advance widths is exactly what
/// is drawn.
fn text_width(bytes: &[u8], font: Font, size: i64) -> i64 {
    let units: i64 = bytes.iter().map(|&b| i64::from(glyph_width(font, b))).sum();
    units * size
}

/// Maps text to WinAnsi (CP1252) bytes, one byte per `char`.
fn encode(text: &str) -> Vec<u8> {
    text.chars().map(encode_char).collect()
}

fn encode_char(c: char) -> u8 {
    match c {
        ' '..='~' => c as u8,
        // Latin-1 coincides with CP1252 here (U+00A0 stays a no-break space,
        // so the wrapper never splits there).
        '\u{A0}'..='\u{FF}' => c as u8,
        '\u{20AC}' => 0x80, // €
        '\u{201A}' => 0x82, // ‚
        '\u{0192}' => 0x83, // ƒ
        '\u{201E}' => 0x84, // „
        '\u{2026}' => 0x85, // …
        '\u{2020}' => 0x86, // †
        '\u{2021}' => 0x87, // ‡
        '\u{02C6}' => 0x88, // ˆ
        '\u{2030}' => 0x89, // ‰
        '\u{0160}' => 0x8A, // Š
        '\u{2039}' => 0x8B, // ‹
        '\u{0152}' => 0x8C, // Œ
        '\u{017D}' => 0x8E, // Ž
        '\u{2018}' => 0x91, // ‘
        '\u{2019}' => 0x92, // ’
        '\u{201C}' => 0x93, // “
        '\u{201D}' => 0x94, // ”
        '\u{2022}' => 0x95, // •
        '\u{2013}' => 0x96, // –
        '\u{2014}' => 0x97, // —
        '\u{02DC}' => 0x98, // ˜
        '\u{2122}' => 0x99, // ™
        '\u{0161}' => 0x9A, // š
        '\u{203A}' => 0x9B, // ›
        '\u{0153}' => 0x9C, // œ
        '\u{017E}' => 0x9E, // ž
        '\u{0178}' => 0x9F, // Ÿ
        // Number formatters emit these for grouping ("1 234,50") and for
        // negative amounts; a `?` in a price would be misread.
        '\u{2007}' | '\u{202F}' => 0xA0,
        '\u{2010}' | '\u{2011}' | '\u{2212}' => b'-',
        // A line is one row of text, so line breaks and tabs are just space.
        c if c.is_whitespace() => b' ',
        _ => b'?',
    }
}

// --- Layout ------------------------------------------------------------------

/// Something drawn on a page, in absolute page coordinates.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Mark {
    Text {
        font: Font,
        size: i64,
        x: i64,
        /// Baseline.
        y: i64,
        bytes: Vec<u8>,
    },
    Rule {
        y: i64,
    },
}

/// One physical row: its height and what it draws, relative to its top.
struct Row {
    height: i64,
    blank: bool,
    /// Marks with `y` measured downwards from the row's top.
    marks: Vec<Mark>,
}

fn layout(lines: &[Line]) -> Vec<Vec<Mark>> {
    let mut pages: Vec<Vec<Mark>> = vec![Vec::new()];
    let mut top = TOP;
    for row in lines.iter().flat_map(rows) {
        if top - row.height < BOTTOM && top < TOP {
            pages.push(Vec::new());
            top = TOP;
            // Space that only pushed content over the edge would otherwise
            // open the next page with an odd blank band.
            if row.blank {
                continue;
            }
        }
        if let Some(page) = pages.last_mut() {
            page.extend(row.marks.into_iter().map(|mark| match mark {
                Mark::Text {
                    font,
                    size,
                    x,
                    y,
                    bytes,
                } => Mark::Text {
                    font,
                    size,
                    x,
                    y: top - y,
                    bytes,
                },
                Mark::Rule { y } => Mark::Rule { y: top - y },
            }));
        }
        top -= row.height;
    }
    pages
}

fn rows(line: &Line) -> Vec<Row> {
    let height = line.style.leading();
    if line.rule {
        return vec![Row {
            height,
            blank: false,
            marks: vec![Mark::Rule { y: height / 2 }],
        }];
    }
    let font = line.style.font();
    let size = line.style.size();
    let left = encode(&line.text);
    let right = line.right.as_deref().map(encode).unwrap_or_default();
    if left.is_empty() && right.is_empty() {
        return vec![Row {
            height,
            blank: true,
            marks: Vec::new(),
        }];
    }

    // An absurdly long right text must not squeeze the left text to
    // nothing; with no left text it may use the whole width.
    let right_max = if left.is_empty() {
        TEXT_WIDTH
    } else {
        TEXT_WIDTH / 2
    };
    let right = truncate(&right, font, size, right_max);
    let right_width = text_width(&right, font, size);
    // Continuation rows keep the narrower column too, so the right-hand
    // column of amounts stays clear all the way down.
    let column = if right.is_empty() {
        TEXT_WIDTH
    } else {
        TEXT_WIDTH - right_width - COLUMN_GAP
    };

    // The baseline sits one font size below the row's top; the rest of the
    // leading is below it, for descenders.
    let baseline = size * 1000;
    let mut out: Vec<Row> = wrap(&left, font, size, column)
        .into_iter()
        .filter(|row| !row.is_empty())
        .map(|bytes| Row {
            height,
            blank: false,
            marks: vec![Mark::Text {
                font,
                size,
                x: LEFT,
                y: baseline,
                bytes,
            }],
        })
        .collect();
    if !right.is_empty() {
        let mark = Mark::Text {
            font,
            size,
            x: RIGHT - right_width,
            y: baseline,
            bytes: right,
        };
        match out.first_mut() {
            Some(first) => first.marks.push(mark),
            None => out.push(Row {
                height,
                blank: false,
                marks: vec![mark],
            }),
        }
    }
    if out.is_empty() {
        // Only spaces: still takes its row, like a gap.
        out.push(Row {
            height,
            blank: true,
            marks: Vec::new(),
        });
    }
    out
}

/// Breaks `bytes` into rows no wider than `max`, at spaces where possible.
/// Text that fits is returned untouched (repeated spaces kept); text that
/// has to wrap is re-joined with single spaces, since a run of spaces at a
/// break would otherwise indent the next row.
fn wrap(bytes: &[u8], font: Font, size: i64, max: i64) -> Vec<Vec<u8>> {
    if text_width(bytes, font, size) <= max {
        return vec![bytes.to_vec()];
    }
    let mut rows = Vec::new();
    let mut current: Vec<u8> = Vec::new();
    for word in bytes.split(|&b| b == b' ').filter(|w| !w.is_empty()) {
        if !current.is_empty() {
            let mut candidate = current.clone();
            candidate.push(b' ');
            candidate.extend_from_slice(word);
            if text_width(&candidate, font, size) <= max {
                current = candidate;
                continue;
            }
            rows.push(std::mem::take(&mut current));
        }
        // A word wider than the column (a long reference or URL) is broken
        // wherever it has to be; dropping the rest would lose information.
        let mut rest = word;
        while text_width(rest, font, size) > max {
            let n = fitting_prefix(rest, font, size, max).max(1);
            rows.push(rest[..n].to_vec());
            rest = &rest[n..];
        }
        current = rest.to_vec();
    }
    if !current.is_empty() {
        rows.push(current);
    }
    rows
}

/// How many leading bytes of `bytes` fit in `max`.
fn fitting_prefix(bytes: &[u8], font: Font, size: i64, max: i64) -> usize {
    let mut width = 0;
    for (i, &b) in bytes.iter().enumerate() {
        width += i64::from(glyph_width(font, b)) * size;
        if width > max {
            return i;
        }
    }
    bytes.len()
}

/// Shortens `bytes` to fit in `max`, marking the cut with an ellipsis.
fn truncate(bytes: &[u8], font: Font, size: i64, max: i64) -> Vec<u8> {
    if text_width(bytes, font, size) <= max {
        return bytes.to_vec();
    }
    let room = max - i64::from(glyph_width(font, ELLIPSIS)) * size;
    let n = fitting_prefix(bytes, font, size, room.max(0));
    let mut out = bytes[..n].to_vec();
    while out.last() == Some(&b' ') {
        out.pop();
    }
    out.push(ELLIPSIS);
    out
}

fn footer(page: usize, count: usize) -> Mark {
    let style = Style::Small;
    let font = style.font();
    let size = style.size();
    let bytes = format!("Page {page} of {count}").into_bytes();
    let width = text_width(&bytes, font, size);
    Mark::Text {
        font,
        size,
        x: (PAGE_WIDTH - width) / 2,
        y: FOOTER_BASELINE,
        bytes,
    }
}

// --- Serialisation -----------------------------------------------------------

/// Formats milli-points as a PDF number ("545", "489.22").
fn number(milli: i64) -> String {
    let sign = if milli < 0 { "-" } else { "" };
    let abs = milli.unsigned_abs();
    let (whole, frac) = (abs / 1000, abs % 1000);
    if frac == 0 {
        format!("{sign}{whole}")
    } else {
        let frac = format!("{frac:03}");
        format!("{sign}{whole}.{}", frac.trim_end_matches('0'))
    }
}

/// A PDF literal string. Bytes outside printable ASCII are written as octal
/// escapes so content streams stay 7-bit and survive any transport.
fn literal(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() + 2);
    out.push('(');
    for &b in bytes {
        match b {
            b'(' | b')' | b'\\' => {
                out.push('\\');
                out.push(char::from(b));
            }
            0x20..=0x7E => out.push(char::from(b)),
            _ => out.push_str(&format!("\\{b:03o}")),
        }
    }
    out.push(')');
    out
}

/// The document title as a PDF text string. Info-dictionary strings are not
/// in WinAnsi but in PDFDocEncoding or UTF-16BE, so anything beyond plain
/// ASCII goes out as UTF-16BE (which also keeps characters the page fonts
/// cannot show, such as CJK or emoji, intact in the reader's title bar).
fn text_string(text: &str) -> String {
    let cleaned: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    if cleaned.chars().all(|c| matches!(c, ' '..='~')) {
        return literal(cleaned.as_bytes());
    }
    let mut out = String::from("<FEFF");
    for unit in cleaned.encode_utf16() {
        out.push_str(&format!("{unit:04X}"));
    }
    out.push('>');
    out
}

fn content_stream(marks: &[Mark]) -> String {
    let mut out = String::new();
    for mark in marks {
        match mark {
            Mark::Text {
                font,
                size,
                x,
                y,
                bytes,
            } => {
                // A fresh BT resets the text matrix, so Td is an absolute
                // position and every mark stands on its own.
                out.push_str(&format!(
                    "BT {} {size} Tf {} {} Td {} Tj ET\n",
                    font.resource(),
                    number(*x),
                    number(*y),
                    literal(bytes)
                ));
            }
            Mark::Rule { y } => {
                let y = number(*y);
                out.push_str(&format!(
                    "q 0.5 w 0.6 G {} {y} m {} {y} l S Q\n",
                    number(LEFT),
                    number(RIGHT)
                ));
            }
        }
    }
    out
}

const CATALOG: usize = 1;
const PAGES: usize = 2;
const FONT_REGULAR: usize = 3;
const FONT_BOLD: usize = 4;
const INFO: usize = 5;
/// Page `i` (from 0) is object `FIRST_PAGE + 2i`, its content the next one.
const FIRST_PAGE: usize = 6;

/// Collects objects in number order and remembers where each starts, for the
/// cross-reference table.
struct Writer {
    out: Vec<u8>,
    offsets: Vec<usize>,
}

impl Writer {
    fn object(&mut self, body: &str) {
        self.begin();
        self.out.extend_from_slice(body.as_bytes());
        self.out.extend_from_slice(b"\nendobj\n");
    }

    fn stream(&mut self, content: &str) {
        self.begin();
        self.out
            .extend_from_slice(format!("<< /Length {} >>\nstream\n", content.len()).as_bytes());
        self.out.extend_from_slice(content.as_bytes());
        // The EOL before `endstream` is not part of the data (and not
        // counted in /Length).
        self.out.extend_from_slice(b"\nendstream\nendobj\n");
    }

    fn begin(&mut self) {
        self.offsets.push(self.out.len());
        let number = self.offsets.len();
        self.out
            .extend_from_slice(format!("{number} 0 obj\n").as_bytes());
    }
}

fn write_document(title: &str, pages: &[Vec<Mark>]) -> Vec<u8> {
    let page_object = |i: usize| FIRST_PAGE + 2 * i;
    let mut w = Writer {
        // Four bytes above 0x7F on the second line tell transfer tools the
        // file is binary, as the PDF specification recommends.
        out: b"%PDF-1.4\n%\xE2\xE3\xCF\xD3\n".to_vec(),
        offsets: Vec::new(),
    };

    w.object(&format!("<< /Type /Catalog /Pages {PAGES} 0 R >>"));
    let kids: Vec<String> = (0..pages.len())
        .map(|i| format!("{} 0 R", page_object(i)))
        .collect();
    w.object(&format!(
        "<< /Type /Pages /Kids [{}] /Count {} >>",
        kids.join(" "),
        pages.len()
    ));
    for base in ["Helvetica", "Helvetica-Bold"] {
        w.object(&format!(
            "<< /Type /Font /Subtype /Type1 /BaseFont /{base} /Encoding /WinAnsiEncoding >>"
        ));
    }
    w.object(&format!(
        "<< /Title {} /Producer (Pitwall) >>",
        text_string(title)
    ));
    for (i, marks) in pages.iter().enumerate() {
        w.object(&format!(
            "<< /Type /Page /Parent {PAGES} 0 R /MediaBox [0 0 {} {}] \
             /Resources << /Font << /F1 {FONT_REGULAR} 0 R /F2 {FONT_BOLD} 0 R >> >> \
             /Contents {} 0 R >>",
            number(PAGE_WIDTH),
            number(PAGE_HEIGHT),
            page_object(i) + 1
        ));
        w.stream(&content_stream(marks));
    }

    let Writer { mut out, offsets } = w;
    let xref = out.len();
    let size = offsets.len() + 1;
    out.extend_from_slice(format!("xref\n0 {size}\n").as_bytes());
    // Every entry is exactly 20 bytes, the two-byte EOL included.
    out.extend_from_slice(b"0000000000 65535 f \n");
    for offset in offsets {
        out.extend_from_slice(format!("{offset:010} 00000 n \n").as_bytes());
    }
    out.extend_from_slice(
        format!(
            "trailer\n<< /Size {size} /Root {CATALOG} 0 R /Info {INFO} 0 R >>\n\
             startxref\n{xref}\n%%EOF\n"
        )
        .as_bytes(),
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn find(hay: &[u8], needle: &[u8], from: usize) -> Option<usize> {
        hay.get(from..)?
            .windows(needle.len())
            .position(|w| w == needle)
            .map(|p| p + from)
    }

    fn count(hay: &[u8], needle: &[u8]) -> usize {
        hay.windows(needle.len()).filter(|w| *w == needle).count()
    }

    fn contains(hay: &[u8], needle: &str) -> bool {
        find(hay, needle.as_bytes(), 0).is_some()
    }

    fn parse_number(bytes: &[u8], at: usize) -> usize {
        let digits: String = bytes[at..]
            .iter()
            .take_while(|b| b.is_ascii_digit())
            .map(|&b| char::from(b))
            .collect();
        digits.parse().expect("a number")
    }

    fn sample() -> Vec<Line> {
        let mut lines = vec![
            Line::new(Style::Title, "Invoice INV-0042"),
            Line::new(Style::Small, "Garage Müller – Hauptstraße 1"),
            Line::gap(),
            Line::new(Style::Heading, "Work performed").with_right("Amount"),
            Line::rule(),
            Line::new(Style::Body, "Oil change (5W-30)").with_right("€ 89.00"),
            Line::new(
                Style::Body,
                "Brake pads front, including inspection of discs and calipers, \
                 cleaning and lubrication of guide pins, test drive afterwards",
            )
            .with_right("€ 240.50"),
        ];
        for i in 0..80 {
            lines.push(Line::new(Style::Body, format!("Part {i}")).with_right("1.00"));
        }
        lines.push(Line::rule());
        lines.push(Line::new(Style::Heading, "Total").with_right("€ 409.50"));
        lines
    }

    /// xref offsets, `startxref`, and every stream's /Length are what a
    /// strict reader checks first; a wrong byte count makes it "repair" the
    /// file or refuse it.
    #[test]
    fn structure_offsets_and_lengths_are_exact() {
        let pdf = render("Invoice INV-0042", &sample());

        assert!(pdf.starts_with(b"%PDF-1.4\n%"));
        assert!(pdf[10..14].iter().all(|&b| b >= 0x80));
        assert_eq!(pdf[14], b'\n');
        assert!(pdf.ends_with(b"%%EOF\n"));

        let sx = find(&pdf, b"startxref\n", 0).expect("startxref");
        let xref = parse_number(&pdf, sx + b"startxref\n".len());
        assert!(pdf[xref..].starts_with(b"xref\n0 "), "startxref -> xref");

        let header_end = find(&pdf, b"\n", xref + 5).expect("subsection header") + 1;
        let size = parse_number(&pdf, xref + b"xref\n0 ".len());
        let table = &pdf[header_end..header_end + 20 * size];
        assert_eq!(&table[..20], b"0000000000 65535 f \n");
        for n in 1..size {
            let entry = &table[20 * n..20 * (n + 1)];
            assert!(entry.ends_with(b" 00000 n \n"), "entry {n}: {entry:?}");
            let offset: usize = std::str::from_utf8(&entry[..10])
                .expect("ascii")
                .parse()
                .expect("offset");
            let expected = format!("{n} 0 obj\n");
            assert!(
                pdf[offset..].starts_with(expected.as_bytes()),
                "object {n} not at {offset}"
            );
        }
        assert!(pdf[header_end + 20 * size..].starts_with(b"trailer\n"));
        assert!(contains(&pdf, &format!("/Size {size} ")));

        let mut streams = 0;
        let mut at = 0;
        while let Some(p) = find(&pdf, b"<< /Length ", at) {
            let length = parse_number(&pdf, p + b"<< /Length ".len());
            let start = find(&pdf, b"stream\n", p).expect("stream keyword") + b"stream\n".len();
            let end = find(&pdf, b"\nendstream", start).expect("endstream");
            assert_eq!(length, end - start);
            streams += 1;
            at = end;
        }
        let pages = count(&pdf, b"/Type /Page /Parent");
        assert!(pages > 1);
        assert_eq!(streams, pages);
        // Content streams are pure ASCII thanks to the octal escapes.
        assert!(pdf[15..].is_ascii());
    }

    #[test]
    fn long_documents_flow_onto_more_pages_with_footers() {
        let lines: Vec<Line> = (0..200)
            .map(|i| Line::new(Style::Body, format!("Line number {i}")))
            .collect();
        let pdf = render("Long", &lines);

        let pages = count(&pdf, b"/Type /Page /Parent");
        assert!(pages > 1, "{pages} pages");
        assert!(contains(&pdf, &format!("/Count {pages} ")));
        assert!(contains(&pdf, &format!("(Page 2 of {pages})")));
        assert!(contains(&pdf, &format!("(Page {pages} of {pages})")));
        assert!(!contains(&pdf, &format!("(Page {} of", pages + 1)));
        // Nothing lost or duplicated at the page breaks.
        for i in 0..200 {
            let text = format!("(Line number {i})");
            assert_eq!(count(&pdf, text.as_bytes()), 1, "{text}");
        }
    }

    #[test]
    fn content_stays_inside_the_margins() {
        for (n, page) in layout(&sample()).iter().enumerate() {
            for mark in page {
                match mark {
                    Mark::Text {
                        font,
                        size,
                        x,
                        y,
                        bytes,
                    } => {
                        assert!(*y - 3_000 * size / 10 >= BOTTOM, "page {n}: {mark:?}");
                        assert!(*y + size * 1000 <= TOP + 1, "page {n}: {mark:?}");
                        assert!(*x >= LEFT);
                        assert!(*x + text_width(bytes, *font, *size) <= RIGHT);
                    }
                    Mark::Rule { y } => assert!((BOTTOM..=TOP).contains(y)),
                }
            }
        }
    }

    #[test]
    fn a_gap_that_falls_on_a_page_break_is_dropped() {
        // Fill the first page exactly, then a gap, then text.
        let per_page = (TOP - BOTTOM) / Style::Body.leading();
        let mut lines: Vec<Line> = (0..per_page)
            .map(|i| Line::new(Style::Body, format!("x{i}")))
            .collect();
        lines.push(Line::gap());
        lines.push(Line::new(Style::Body, "next"));
        let pages = layout(&lines);
        assert_eq!(pages.len(), 2);
        let Some(Mark::Text { y, bytes, .. }) = pages[1].first() else {
            panic!("text expected on page 2");
        };
        assert_eq!(bytes, b"next");
        assert_eq!(*y, TOP - Style::Body.size() * 1000);
    }

    #[test]
    fn escaping_and_winansi_encoding() {
        let pdf = render(
            "t",
            &[
                Line::new(Style::Body, "a(b)c\\d"),
                Line::new(Style::Body, "€5"),
                Line::new(Style::Body, "ok 👍"),
                Line::new(Style::Body, "Müller’s “quote” — done"),
                Line::new(Style::Body, "tab\there\nnewline"),
            ],
        );
        assert!(contains(&pdf, r"(a\(b\)c\\d)"));
        assert!(contains(&pdf, r"(\2005)"));
        assert!(contains(&pdf, "(ok ?)"));
        assert!(contains(&pdf, r"(M\374ller\222s \223quote\224 \227 done)"));
        assert!(contains(&pdf, "(tab here newline)"));

        assert_eq!(encode("日本\u{0}\u{7F}\u{9F}"), b"?????");
        assert_eq!(encode("Œœ™…"), [0x8C, 0x9C, 0x99, 0x85]);
        assert_eq!(encode("1\u{202F}234 \u{2212}5"), b"1\xA0234 -5");
    }

    #[test]
    fn title_goes_into_the_info_dictionary() {
        let pdf = render("Invoice (draft) \\ 7", &[]);
        assert!(contains(
            &pdf,
            r"/Title (Invoice \(draft\) \\ 7) /Producer (Pitwall)"
        ));
        // Outside ASCII the title is UTF-16BE, which info strings allow and
        // WinAnsi bytes would be misread as PDFDocEncoding.
        let pdf = render("Rechnung €", &[]);
        assert!(contains(
            &pdf,
            "/Title <FEFF0052006500630068006E0075006E0067002020AC>"
        ));
        // An empty document is still one valid page.
        assert!(contains(&pdf, "/Count 1 "));
        assert!(contains(&pdf, "(Page 1 of 1)"));
    }

    #[test]
    fn widths_come_from_the_afm_tables() {
        // H e l l o in Helvetica: 722 + 556 + 222 + 222 + 556 = 2278 units.
        assert_eq!(text_width(b"Hello", Font::Regular, 10), 22_780);
        // Helvetica-Bold: 722 + 556 + 278 + 278 + 611 = 2445 units.
        assert_eq!(text_width(b"Hello", Font::Bold, 10), 24_450);
        assert_eq!(text_width(b"0123456789", Font::Regular, 1), 5_560);
        assert_eq!(glyph_width(Font::Regular, b'\''), 191);
        assert_eq!(glyph_width(Font::Regular, b'`'), 333);
        assert_eq!(glyph_width(Font::Bold, 0x80), 556);
        assert_eq!(glyph_width(Font::Regular, 0x05), FALLBACK_WIDTH);
    }

    fn right_x(pdf: &[u8], text: &str) -> String {
        let needle = format!(" Td {} Tj", literal(&encode(text)));
        let end = find(pdf, needle.as_bytes(), 0).expect("right text");
        // The x coordinate is the first number after the font selection.
        let start = pdf[..end]
            .windows(3)
            .rposition(|w| w == b"Tf ")
            .expect("Tf")
            + 3;
        let coords = std::str::from_utf8(&pdf[start..end]).expect("ascii");
        coords.split(' ').next().expect("x").to_string()
    }

    #[test]
    fn right_text_ends_at_the_right_margin() {
        let pdf = render(
            "t",
            &[
                Line::new(Style::Body, "Labour").with_right("1,234.56"),
                Line::new(Style::Body, "Valve cap").with_right("1.00"),
                Line::new(Style::Heading, "Total").with_right("€ 1,235.56"),
            ],
        );
        let expected = RIGHT - text_width(b"1,234.56", Font::Regular, 10);
        assert_eq!(right_x(&pdf, "1,234.56"), number(expected));
        assert_eq!(number(expected), "506.08");
        let short = RIGHT - text_width(b"1.00", Font::Regular, 10);
        assert_eq!(right_x(&pdf, "1.00"), number(short));
        assert!(short > expected);
        let bold = RIGHT - text_width(&encode("€ 1,235.56"), Font::Bold, 12);
        assert_eq!(right_x(&pdf, "€ 1,235.56"), number(bold));
    }

    #[test]
    fn long_left_text_wraps_clear_of_the_right_column() {
        let words: Vec<String> = (0..60).map(|i| format!("word{i}")).collect();
        let text = words.join(" ");
        let line = Line::new(Style::Body, text.clone()).with_right("€ 12.00");
        let rows = rows(&line);
        assert!(rows.len() > 2, "{} rows", rows.len());
        let right_width = text_width(&encode("€ 12.00"), Font::Regular, 10);
        let column = TEXT_WIDTH - right_width - COLUMN_GAP;
        let mut joined = Vec::new();
        for row in &rows {
            let Some(Mark::Text { bytes, .. }) = row.marks.first() else {
                panic!("text row expected");
            };
            assert!(text_width(bytes, Font::Regular, 10) <= column);
            if !joined.is_empty() {
                joined.push(b' ');
            }
            joined.extend_from_slice(bytes);
        }
        assert_eq!(joined, text.as_bytes());
        // The amount sits on the first row only.
        assert_eq!(rows[0].marks.len(), 2);
        assert!(rows[1..].iter().all(|r| r.marks.len() == 1));

        // A single word wider than the column is broken, not dropped.
        let long = "X".repeat(200);
        let wrapped = wrap(long.as_bytes(), Font::Regular, 10, TEXT_WIDTH);
        assert!(wrapped.len() > 1);
        assert_eq!(wrapped.concat(), long.as_bytes());
    }

    #[test]
    fn oversized_right_text_is_truncated_with_an_ellipsis() {
        let line = Line::new(Style::Body, "Item").with_right("9".repeat(300));
        let rows = rows(&line);
        let Some(Mark::Text { bytes, x, .. }) = rows[0].marks.last() else {
            panic!("right text expected");
        };
        assert_eq!(bytes.last(), Some(&ELLIPSIS));
        assert!(*x >= LEFT + TEXT_WIDTH / 2);
        assert_eq!(*x + text_width(bytes, Font::Regular, 10), RIGHT);
        assert_eq!(truncate(b"short", Font::Regular, 10, TEXT_WIDTH), b"short");
    }

    #[test]
    fn numbers_are_formatted_without_trailing_zeros() {
        assert_eq!(number(545_000), "545");
        assert_eq!(number(506_080), "506.08");
        assert_eq!(number(1), "0.001");
        assert_eq!(number(-2_500), "-2.5");
    }

    #[test]
    fn same_input_same_bytes() {
        let a = render("Invoice", &sample());
        let b = render("Invoice", &sample());
        assert_eq!(a, b);
        assert_ne!(a, render("Invoice 2", &sample()));
    }

    /// Checks the file against a real reader when poppler is installed.
    #[test]
    fn pdftotext_reads_the_text() {
        if std::process::Command::new("pdftotext")
            .arg("-v")
            .output()
            .is_err()
        {
            eprintln!("pdftotext not installed; skipping");
            return;
        }
        let path =
            std::env::temp_dir().join(format!("pitwall-pdf-test-{}.pdf", std::process::id()));
        std::fs::write(&path, render("Invoice INV-0042", &sample())).expect("write");
        let output = std::process::Command::new("pdftotext")
            .args(["-enc", "UTF-8"])
            .arg(&path)
            .arg("-")
            .output()
            .expect("run pdftotext");
        let _ = std::fs::remove_file(&path);
        assert!(output.status.success(), "{output:?}");
        assert!(
            output.stderr.is_empty(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        let text = String::from_utf8_lossy(&output.stdout);
        for expected in [
            "Invoice INV-0042",
            "Garage Müller – Hauptstraße 1",
            "Oil change (5W-30)",
            "€ 89.00",
            "Part 79",
            "€ 409.50",
            "Page 1 of 2",
            "Page 2 of 2",
        ] {
            assert!(text.contains(expected), "{expected:?} missing in:\n{text}");
        }
    }
}
