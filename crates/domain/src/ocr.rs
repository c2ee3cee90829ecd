//! What an uploaded invoice says, once Tesseract has read it: its words
//! (with Tesseract's confidence per word) grouped into lines, and the
//! fields staff confirm before an invoice is made from it.
//!
//! No I/O here: the worker runs Tesseract and hands its TSV output in.
//! Every field carries a confidence between 0 and 1: the mean confidence
//! of the words it was read from, lowered when the value was found by its
//! shape alone rather than next to its label ("Total", "Invoice #").

use serde::{Deserialize, Serialize};

use crate::phone::Phone;

/// Where an upload's reading stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OcrStatus {
    /// Waiting for (or being read by) a worker.
    Queued,
    Done,
    /// The file could not be read (damaged, too many pages, time limit).
    Failed,
    /// Tesseract is not installed where the upload or its job ran.
    Unavailable,
}

impl OcrStatus {
    pub const ALL: [OcrStatus; 4] = [Self::Queued, Self::Done, Self::Failed, Self::Unavailable];

    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Queued => "queued",
            Self::Done => "done",
            Self::Failed => "failed",
            Self::Unavailable => "unavailable",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|v| v.as_str() == s)
    }
}

impl std::fmt::Display for OcrStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The file types an invoice may be uploaded as, known by their bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DocumentType {
    Pdf,
    Jpeg,
    Png,
}

impl DocumentType {
    pub fn sniff(bytes: &[u8]) -> Option<Self> {
        if bytes.starts_with(b"%PDF-") {
            Some(Self::Pdf)
        } else if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
            Some(Self::Jpeg)
        } else if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
            Some(Self::Png)
        } else {
            None
        }
    }

    pub const fn content_type(self) -> &'static str {
        match self {
            Self::Pdf => "application/pdf",
            Self::Jpeg => "image/jpeg",
            Self::Png => "image/png",
        }
    }

    pub const fn extension(self) -> &'static str {
        match self {
            Self::Pdf => "pdf",
            Self::Jpeg => "jpg",
            Self::Png => "png",
        }
    }
}

/// One recognised word and Tesseract's confidence in it (0–100).
#[derive(Debug, Clone, PartialEq)]
pub struct Word {
    pub text: String,
    pub conf: f32,
}

/// The words of one printed line, in reading order.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TextLine {
    pub words: Vec<Word>,
}

impl TextLine {
    pub fn text(&self) -> String {
        self.words
            .iter()
            .map(|w| w.text.as_str())
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// Everything read off a document, page after page.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Reading {
    pub lines: Vec<TextLine>,
}

impl Reading {
    /// Parses `tesseract … tsv` output. Only words (level 5) with text are
    /// kept, and they are put into printed rows by where they stand on the
    /// page, not by Tesseract's blocks: an invoice is a table, and
    /// Tesseract reads its right-aligned amounts as a column of their own,
    /// away from their labels ("Total" … "$167.38"). Later pages are
    /// appended with [`Reading::append`].
    pub fn from_tsv(tsv: &str) -> Self {
        struct Placed {
            page: u32,
            left: i64,
            center: i64,
            height: i64,
            word: Word,
        }
        let mut placed = Vec::new();
        for row in tsv.lines().skip(1) {
            let cols: Vec<&str> = row.split('\t').collect();
            if cols.len() < 12 || cols[0] != "5" {
                continue;
            }
            let text = cols[11].trim();
            if text.is_empty() {
                continue;
            }
            let num = |i: usize| cols[i].parse::<i64>().unwrap_or(0);
            let conf = cols[10].parse::<f32>().unwrap_or(0.0).clamp(0.0, 100.0);
            placed.push(Placed {
                page: num(1).max(0) as u32,
                left: num(6),
                center: num(7) + num(9) / 2,
                height: num(9).max(1),
                word: Word {
                    text: text.to_owned(),
                    conf,
                },
            });
        }
        placed.sort_by_key(|p| (p.page, p.center, p.left));
        // A word belongs to the row above when its middle is within half a
        // word's height of the row's middle.
        let mut rows: Vec<(u32, i64, i64, Vec<Placed>)> = Vec::new();
        for p in placed {
            match rows.last_mut() {
                Some((page, center, height, words))
                    if *page == p.page
                        && (p.center - *center).abs() * 2 <= (*height).max(p.height) =>
                {
                    *center = (*center * words.len() as i64 + p.center) / (words.len() as i64 + 1);
                    *height = (*height).max(p.height);
                    words.push(p);
                }
                _ => rows.push((p.page, p.center, p.height, vec![p])),
            }
        }
        let lines = rows
            .into_iter()
            .map(|(_, _, _, mut words)| {
                words.sort_by_key(|p| p.left);
                TextLine {
                    words: words.into_iter().map(|p| p.word).collect(),
                }
            })
            .collect();
        Self { lines }
    }

    pub fn append(&mut self, page: Reading) {
        self.lines.extend(page.lines);
    }

    /// The plain text, one printed line per line.
    pub fn text(&self) -> String {
        self.lines
            .iter()
            .map(TextLine::text)
            .collect::<Vec<_>>()
            .join("\n")
    }
}

/// One value read off the document.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Field {
    pub value: String,
    /// 0 to 1.
    pub confidence: f64,
}

/// The fields staff confirm. Dates are `YYYY-MM-DD`, amounts decimal
/// strings in major units (`1234.50`), phones E.164, plates and VINs in
/// capitals.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct InvoiceFields {
    pub invoice_number: Option<Field>,
    pub invoice_date: Option<Field>,
    pub total: Option<Field>,
    pub tax: Option<Field>,
    pub customer_name: Option<Field>,
    pub phone: Option<Field>,
    pub email: Option<Field>,
    pub plate: Option<Field>,
    pub vin: Option<Field>,
}

/// A value found by its label counts fully; one found by its shape alone
/// (a date anywhere, a phone outside the customer's block) less.
const BY_SHAPE: f64 = 0.6;

/// Reads the fields. `country` is the shop's ISO code: it decides how
/// `04/12/2026` and phone numbers without `+` are read.
pub fn read_fields(reading: &Reading, country: &str) -> InvoiceFields {
    let lines: Vec<Line<'_>> = reading.lines.iter().map(Line::new).collect();
    let customer_at = lines.iter().position(|l| l.customer_label().is_some());
    InvoiceFields {
        invoice_number: invoice_number(&lines),
        invoice_date: invoice_date(&lines, country),
        total: total(&lines),
        tax: tax(&lines),
        customer_name: customer_name(&lines),
        phone: contact(&lines, customer_at, |w| phone_in(w, country)),
        email: contact(&lines, customer_at, email_in),
        plate: plate(&lines),
        vin: vin(&lines),
    }
}

/// A line with its words cleaned for matching.
struct Line<'a> {
    words: &'a [Word],
    /// Lower case, without the punctuation around a word (`Total:` →
    /// `total`).
    keys: Vec<String>,
}

impl<'a> Line<'a> {
    fn new(l: &'a TextLine) -> Self {
        let keys = l
            .words
            .iter()
            .map(|w| {
                w.text
                    .trim_matches(|c: char| !c.is_alphanumeric() && c != '#')
                    .to_lowercase()
            })
            .collect();
        Self {
            words: &l.words,
            keys,
        }
    }

    fn has(&self, key: &str) -> bool {
        self.keys.iter().any(|k| k == key)
    }

    /// The index of the first word after a customer label ("Customer:",
    /// "Bill to", "Sold to"), if the line has one.
    fn customer_label(&self) -> Option<usize> {
        for (i, k) in self.keys.iter().enumerate() {
            match k.as_str() {
                "customer" | "client" => return Some(i + 1),
                "bill" | "billed" | "sold" | "ship"
                    if self.keys.get(i + 1).is_some_and(|n| n == "to") =>
                {
                    return Some(i + 2);
                }
                _ => {}
            }
        }
        None
    }

    fn conf(&self, range: std::ops::Range<usize>) -> f64 {
        let words = &self.words[range];
        if words.is_empty() {
            return 0.0;
        }
        let sum: f64 = words.iter().map(|w| f64::from(w.conf)).sum();
        sum / words.len() as f64 / 100.0
    }
}

fn field(value: String, confidence: f64) -> Field {
    Field {
        value,
        confidence: (confidence.clamp(0.0, 1.0) * 100.0).round() / 100.0,
    }
}

fn invoice_number(lines: &[Line<'_>]) -> Option<Field> {
    const FILLER: [&str; 8] = ["no", "number", "num", "nr", "#", "", "nbr", "n°"];
    for l in lines {
        for (i, k) in l.keys.iter().enumerate() {
            if !(k == "invoice" || k == "inv" || k == "inv#" || k == "invoice#") {
                continue;
            }
            let mut j = i + 1;
            while j < l.keys.len() && FILLER.contains(&l.keys[j].as_str()) {
                j += 1;
            }
            let Some(word) = l.words.get(j) else { continue };
            let value = word
                .text
                .trim_matches(|c: char| !c.is_ascii_alphanumeric())
                .to_owned();
            let shaped = value.chars().any(|c| c.is_ascii_digit())
                && value
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-/_.".contains(c))
                && parse_date(&value, "US").is_none();
            if shaped {
                return Some(field(value, l.conf(i..j + 1)));
            }
        }
    }
    None
}

fn invoice_date(lines: &[Line<'_>], country: &str) -> Option<Field> {
    let mut by_shape = None;
    for l in lines {
        // "Date: …", or the date printed beside the invoice's number.
        let labelled = l
            .keys
            .iter()
            .any(|k| k == "date" || k == "dated" || k == "invoice")
            && !l.has("due")
            && !l.has("printed");
        for i in 0..l.words.len() {
            // A date may be written over up to three words ("Dec 4, 2026").
            for n in (1..=3).rev() {
                if i + n > l.words.len() {
                    continue;
                }
                let text = l.words[i..i + n]
                    .iter()
                    .map(|w| w.text.as_str())
                    .collect::<Vec<_>>()
                    .join(" ");
                if let Some(date) = parse_date(&text, country) {
                    let value = date.format("%Y-%m-%d").to_string();
                    if labelled {
                        return Some(field(value, l.conf(i..i + n)));
                    }
                    by_shape.get_or_insert_with(|| field(value, l.conf(i..i + n) * BY_SHAPE));
                    break;
                }
            }
        }
    }
    by_shape
}

/// A printed date: ISO (`2026-12-04`), numeric with `/`, `.` or `-`
/// (day and month ordered as `country` writes them unless one is over 12),
/// or with the month's name (`Dec 4, 2026`, `4 December 2026`).
pub fn parse_date(raw: &str, country: &str) -> Option<chrono::NaiveDate> {
    use chrono::NaiveDate;
    let s = raw.trim_matches(|c: char| !c.is_alphanumeric());
    let parts: Vec<&str> = s
        .split(['/', '.', '-', ' ', ','])
        .filter(|p| !p.is_empty())
        .collect();
    if parts.len() != 3 {
        return None;
    }
    let num = |p: &str| -> Option<u32> {
        (p.len() <= 4 && p.chars().all(|c| c.is_ascii_digit()))
            .then(|| p.parse().ok())
            .flatten()
    };
    let year = |p: &str| -> Option<i32> {
        let y = num(p)? as i32;
        match p.len() {
            4 if (1990..=2100).contains(&y) => Some(y),
            2 => Some(2000 + y),
            _ => None,
        }
    };
    if let Some(m) = month_named(parts[0]) {
        return NaiveDate::from_ymd_opt(year(parts[2])?, m, num(parts[1])?);
    }
    if let Some(m) = month_named(parts[1]) {
        return NaiveDate::from_ymd_opt(year(parts[2])?, m, num(parts[0])?);
    }
    if parts[0].len() == 4 {
        return NaiveDate::from_ymd_opt(year(parts[0])?, num(parts[1])?, num(parts[2])?);
    }
    let (a, b, y) = (num(parts[0])?, num(parts[1])?, year(parts[2])?);
    let month_first = matches!(country, "US" | "CA" | "PH") || s.contains('/') && b > 12;
    let (m, d) = if a > 12 {
        (b, a)
    } else if b > 12 || month_first {
        (a, b)
    } else {
        (b, a)
    };
    NaiveDate::from_ymd_opt(y, m, d)
}

fn month_named(word: &str) -> Option<u32> {
    const MONTHS: [&str; 12] = [
        "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
    ];
    let w = word.to_lowercase();
    if w.len() < 3 || !w.chars().all(|c| c.is_alphabetic()) {
        return None;
    }
    MONTHS
        .iter()
        .position(|m| w.starts_with(m))
        .map(|i| i as u32 + 1)
}

/// An amount of money as printed: `$1,234.50`, `1.234,50 €`, `-3.00`, with
/// exactly two decimals (so quantities and percentages are not taken for
/// money). Minor units.
pub fn parse_amount(raw: &str) -> Option<i64> {
    if raw.contains('%') {
        return None;
    }
    let s: String = raw
        .trim_matches(|c: char| !c.is_ascii_digit() && c != '-')
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    let (negative, s) = match s.strip_prefix('-') {
        Some(rest) => (true, rest.trim_start_matches(|c: char| !c.is_ascii_digit())),
        None => (false, s.as_str()),
    };
    if s.len() < 4 {
        return None;
    }
    let (whole, cents) = s.split_at(s.len() - 3);
    let mut sep = cents.chars();
    if !matches!(sep.next(), Some('.' | ',')) || !cents[1..].chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    if !whole
        .chars()
        .all(|c| c.is_ascii_digit() || c == ',' || c == '.')
        || !whole.starts_with(|c: char| c.is_ascii_digit())
    {
        return None;
    }
    let digits: String = whole.chars().filter(char::is_ascii_digit).collect();
    let minor = digits.parse::<i64>().ok()?.checked_mul(100)? + cents[1..].parse::<i64>().ok()?;
    Some(if negative { -minor } else { minor })
}

fn decimal(minor: i64) -> String {
    let sign = if minor < 0 { "-" } else { "" };
    format!(
        "{sign}{}.{:02}",
        minor.unsigned_abs() / 100,
        minor.unsigned_abs() % 100
    )
}

/// The last amount on a line, and where it was.
fn last_amount(l: &Line<'_>) -> Option<(i64, usize)> {
    (0..l.words.len()).rev().find_map(|i| {
        let next_is_percent = l.words.get(i + 1).is_some_and(|w| w.text.starts_with('%'));
        (!next_is_percent)
            .then(|| parse_amount(&l.words[i].text))
            .flatten()
            .map(|m| (m, i))
    })
}

fn total(lines: &[Line<'_>]) -> Option<Field> {
    // "Total due" or "Amount due" beats a plain "Total"; among equals the
    // last one printed (totals close the document) wins.
    let mut best: Option<(u8, Field)> = None;
    for l in lines {
        let subtotal = l.keys.iter().enumerate().any(|(i, k)| {
            k == "subtotal"
                || k == "sub-total"
                || (k == "sub" && l.keys.get(i + 1).is_some_and(|n| n == "total"))
        });
        if subtotal || l.has("tax") && !l.has("incl") {
            continue;
        }
        let rank = if (l.has("total") || l.has("amount") || l.has("balance")) && l.has("due")
            || l.has("grand")
        {
            2
        } else if l.has("total") {
            1
        } else {
            continue;
        };
        let Some((minor, at)) = last_amount(l) else {
            continue;
        };
        let label = l
            .keys
            .iter()
            .position(|k| k == "total" || k == "due" || k == "grand")
            .unwrap_or(at);
        let f = field(
            decimal(minor),
            (l.conf(label..label + 1) + l.conf(at..at + 1)) / 2.0,
        );
        if best.as_ref().is_none_or(|(r, _)| rank >= *r) {
            best = Some((rank, f));
        }
    }
    best.map(|(_, f)| f)
}

fn tax(lines: &[Line<'_>]) -> Option<Field> {
    for l in lines {
        let Some(label) = l
            .keys
            .iter()
            .position(|k| matches!(k.as_str(), "tax" | "vat" | "gst" | "hst" | "pst"))
        else {
            continue;
        };
        // "(no tax)" beside a line item, "total before tax": not the tax.
        let negated = label > 0
            && matches!(
                l.keys[label - 1].as_str(),
                "no" | "non" | "without" | "excl" | "before" | "pre"
            );
        if negated || l.has("before") || l.has("excl") {
            continue;
        }
        if let Some((minor, at)) = last_amount(l)
            && at > label
        {
            return Some(field(
                decimal(minor),
                (l.conf(label..label + 1) + l.conf(at..at + 1)) / 2.0,
            ));
        }
    }
    None
}

fn customer_name(lines: &[Line<'_>]) -> Option<Field> {
    for (n, l) in lines.iter().enumerate() {
        let Some(from) = l.customer_label() else {
            continue;
        };
        // "Customer: Jane Doe", or the name on the line below "Bill to".
        let from = from + usize::from(l.keys.get(from).is_some_and(|k| k == "name"));
        let (line, from) = if l.words[from.min(l.words.len())..]
            .iter()
            .any(|w| w.text.chars().any(char::is_alphabetic))
        {
            (l, from)
        } else if let Some(next) = lines.get(n + 1) {
            (next, 0)
        } else {
            continue;
        };
        let words: Vec<&str> = line.words[from..]
            .iter()
            .map(|w| w.text.as_str())
            .take_while(|w| !w.contains('@') && parse_amount(w).is_none())
            .collect();
        let name = words
            .join(" ")
            .trim_matches(|c: char| !c.is_alphanumeric())
            .to_owned();
        if name.chars().any(char::is_alphabetic) {
            return Some(field(name, line.conf(from..from + words.len())));
        }
    }
    None
}

/// A phone or e-mail address of the customer: within the customer's block
/// (the label's line and the six after it) when there is one; otherwise
/// the first found after the document's top lines (where the shop's own
/// number is printed), by shape only.
fn contact(
    lines: &[Line<'_>],
    customer_at: Option<usize>,
    find: impl Fn(&Line<'_>) -> Option<(String, std::ops::Range<usize>)>,
) -> Option<Field> {
    let (range, factor) = match customer_at {
        Some(at) => (at..(at + 7).min(lines.len()), 1.0),
        None => (5.min(lines.len())..lines.len(), BY_SHAPE),
    };
    lines[range].iter().find_map(|l| {
        let (value, words) = find(l)?;
        Some(field(value, l.conf(words) * factor))
    })
}

fn phone_in(l: &Line<'_>, country: &str) -> Option<(String, std::ops::Range<usize>)> {
    for start in 0..l.words.len() {
        let mut raw = String::new();
        for end in start..l.words.len().min(start + 4) {
            let w = &l.words[end].text;
            if !w
                .chars()
                .all(|c| c.is_ascii_digit() || "+()-./".contains(c))
            {
                break;
            }
            raw.push_str(w);
            raw.push(' ');
            let digits = raw.chars().filter(char::is_ascii_digit).count();
            if (10..=15).contains(&digits)
                && let Ok(phone) = Phone::parse(&raw, country)
            {
                return Some((phone.as_str().to_owned(), start..end + 1));
            }
        }
    }
    None
}

fn email_in(l: &Line<'_>) -> Option<(String, std::ops::Range<usize>)> {
    l.words.iter().enumerate().find_map(|(i, w)| {
        let t = w
            .text
            .trim_matches(|c: char| !c.is_alphanumeric())
            .to_lowercase();
        crate::values::Email::parse(&t)
            .ok()
            .map(|e| (e.as_str().to_owned(), i..i + 1))
    })
}

fn plate(lines: &[Line<'_>]) -> Option<Field> {
    for l in lines {
        for (i, k) in l.keys.iter().enumerate() {
            if !matches!(
                k.as_str(),
                "plate" | "license" | "licence" | "lic" | "tag" | "registration" | "reg"
            ) {
                continue;
            }
            let mut j = i + 1;
            while j < l.keys.len()
                && matches!(
                    l.keys[j].as_str(),
                    "plate" | "no" | "number" | "#" | "" | "state"
                )
            {
                j += 1;
            }
            let Some(w) = l.words.get(j) else { continue };
            let value = w
                .text
                .trim_matches(|c: char| !c.is_ascii_alphanumeric())
                .to_uppercase();
            if (2..=10).contains(&value.len())
                && value.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
                && value.chars().any(|c| c.is_ascii_digit())
            {
                return Some(field(value, l.conf(i..j + 1)));
            }
        }
    }
    None
}

fn vin(lines: &[Line<'_>]) -> Option<Field> {
    let mut by_shape = None;
    for l in lines {
        for (i, w) in l.words.iter().enumerate() {
            let t = w
                .text
                .trim_matches(|c: char| !c.is_ascii_alphanumeric())
                .to_uppercase();
            if t.len() != 17 || !t.chars().all(|c| c.is_ascii_alphanumeric()) {
                continue;
            }
            // A VIN never has I, O or Q: those are misread 1s and 0s.
            let value: String = t
                .chars()
                .map(|c| match c {
                    'I' => '1',
                    'O' | 'Q' => '0',
                    c => c,
                })
                .collect();
            if !value.chars().any(|c| c.is_ascii_digit())
                || !value.chars().any(|c| c.is_ascii_alphabetic())
            {
                continue;
            }
            let conf = l.conf(i..i + 1);
            if vin_check_digit_ok(&value) || l.has("vin") {
                return Some(field(value, conf));
            }
            by_shape.get_or_insert_with(|| field(value, conf * BY_SHAPE));
        }
    }
    by_shape
}

/// The North American check digit (position 9).
pub fn vin_check_digit_ok(vin: &str) -> bool {
    const WEIGHTS: [u32; 17] = [8, 7, 6, 5, 4, 3, 2, 10, 0, 9, 8, 7, 6, 5, 4, 3, 2];
    let value = |c: char| -> Option<u32> {
        Some(match c {
            '0'..='9' => c as u32 - '0' as u32,
            'A' | 'J' => 1,
            'B' | 'K' | 'S' => 2,
            'C' | 'L' | 'T' => 3,
            'D' | 'M' | 'U' => 4,
            'E' | 'N' | 'V' => 5,
            'F' | 'W' => 6,
            'G' | 'P' | 'X' => 7,
            'H' | 'Y' => 8,
            'R' | 'Z' => 9,
            _ => return None,
        })
    };
    let chars: Vec<char> = vin.chars().collect();
    if chars.len() != 17 {
        return false;
    }
    let mut sum = 0;
    for (c, w) in chars.iter().zip(WEIGHTS) {
        match value(*c) {
            Some(v) => sum += v * w,
            None => return false,
        }
    }
    let check = match sum % 11 {
        10 => 'X',
        n => char::from_digit(n, 10).unwrap_or('?'),
    };
    chars[8] == check
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A TSV as Tesseract writes it, from lines of text (every word 90 %
    /// sure unless it ends in `~`, then 40 %).
    fn tsv(text: &str) -> String {
        let mut out = String::from(
            "level\tpage_num\tblock_num\tpar_num\tline_num\tword_num\tleft\ttop\twidth\theight\tconf\ttext\n",
        );
        for (n, line) in text.lines().enumerate() {
            // Rows 40 px apart, words 100 px apart, each 80 × 20.
            let top = n * 40;
            out.push_str(&format!("4\t1\t1\t1\t{n}\t0\t0\t{top}\t0\t20\t-1\t\n"));
            for (w, word) in line.split_whitespace().enumerate() {
                let (word, conf) = match word.strip_suffix('~') {
                    Some(w) => (w, 40),
                    None => (word, 90),
                };
                let left = w * 100;
                out.push_str(&format!(
                    "5\t1\t1\t1\t{n}\t{w}\t{left}\t{top}\t80\t20\t{conf}\t{word}\n"
                ));
            }
        }
        out
    }

    fn read(text: &str, country: &str) -> InvoiceFields {
        read_fields(&Reading::from_tsv(&tsv(text)), country)
    }

    fn value(f: &Option<Field>) -> Option<&str> {
        f.as_ref().map(|f| f.value.as_str())
    }

    #[test]
    fn tsv_rows_become_lines_of_words() {
        let r = Reading::from_tsv(&tsv("Invoice INV-00042\nTotal $12.00"));
        assert_eq!(r.text(), "Invoice INV-00042\nTotal $12.00");
        assert_eq!(r.lines[0].words[1].conf, 90.0);
    }

    #[test]
    fn amounts_read_as_a_column_of_their_own_rejoin_their_labels() {
        let head = "level\tpage_num\tblock_num\tpar_num\tline_num\tword_num\tleft\ttop\twidth\theight\tconf\ttext\n";
        // Labels in block 1, the right-aligned amounts in block 2, a pixel
        // or two lower, as Tesseract reads a printed invoice.
        let tsv = format!(
            "{head}\
             5\t1\t1\t1\t1\t1\t100\t400\t120\t30\t95\tSubtotal\n\
             5\t1\t1\t1\t2\t1\t100\t440\t60\t30\t95\tTax\n\
             5\t1\t1\t1\t3\t1\t100\t480\t80\t30\t95\tTotal\n\
             5\t1\t2\t1\t1\t1\t900\t402\t120\t30\t93\t$155.00\n\
             5\t1\t2\t1\t2\t1\t900\t441\t120\t30\t93\t$12.38\n\
             5\t1\t2\t1\t3\t1\t900\t483\t120\t30\t93\t$167.38\n"
        );
        let r = Reading::from_tsv(&tsv);
        assert_eq!(r.text(), "Subtotal $155.00\nTax $12.38\nTotal $167.38");
        let f = read_fields(&r, "US");
        assert_eq!(value(&f.total), Some("167.38"));
        assert_eq!(value(&f.tax), Some("12.38"));
    }

    #[test]
    fn pitwalls_own_invoice_is_read() {
        let f = read(
            "Hillside Auto\n555 Main Street\n+1 415 555 0100\n\
             Invoice INV-00042 2026-12-04\nCustomer: Jane Doe\nStatus: draft\n\
             Brakes $230.00\nPads · 1 × $230.00 $230.00\nDisposal · 1 × $5.00 (no tax) $5.00\nSubtotal $230.00\n\
             Tax (8.250 %) $18.98\nTotal $248.98",
            "US",
        );
        assert_eq!(value(&f.invoice_number), Some("INV-00042"));
        assert_eq!(value(&f.invoice_date), Some("2026-12-04"));
        assert_eq!(value(&f.total), Some("248.98"));
        assert_eq!(value(&f.tax), Some("18.98"));
        assert_eq!(value(&f.customer_name), Some("Jane Doe"));
        // The shop's own number in the letterhead is not the customer's.
        assert_eq!(value(&f.phone), None);
        assert_eq!(f.total.as_ref().map(|t| t.confidence), Some(0.9));
    }

    #[test]
    fn a_pos_invoice_with_a_bill_to_block() {
        let f = read(
            "MAIN ST GARAGE  Tel (415) 555-0100\nINVOICE # 10-4471\nDate: 12/03/2026\n\
             Bill To:\nJohn Q. Public\nPhone: (415) 555-0199\njohn@example.com\n\
             Vehicle: 2019 Honda Civic  Plate: 7ABC123\nVIN: 1HGCM82633A004352\n\
             Oil change 49.95\nSubtotal 49.95\nSales Tax 4.12\nGrand Total 54.07\nTotal Paid 0.00",
            "US",
        );
        assert_eq!(value(&f.invoice_number), Some("10-4471"));
        assert_eq!(value(&f.invoice_date), Some("2026-12-03"));
        assert_eq!(value(&f.customer_name), Some("John Q. Public"));
        assert_eq!(value(&f.phone), Some("+14155550199"));
        assert_eq!(value(&f.email), Some("john@example.com"));
        assert_eq!(value(&f.plate), Some("7ABC123"));
        assert_eq!(value(&f.vin), Some("1HGCM82633A004352"));
        assert_eq!(value(&f.tax), Some("4.12"));
        assert_eq!(value(&f.total), Some("54.07"));
    }

    #[test]
    fn european_dates_and_amounts() {
        let f = read(
            "Rechnung\nInvoice no: R-2026-118\nDate 04.12.2026\nVAT 19% 38,00\nTotal due 1.238,00 EUR",
            "DE",
        );
        assert_eq!(value(&f.invoice_number), Some("R-2026-118"));
        assert_eq!(value(&f.invoice_date), Some("2026-12-04"));
        assert_eq!(value(&f.tax), Some("38.00"));
        assert_eq!(value(&f.total), Some("1238.00"));
    }

    #[test]
    fn unsure_words_lower_the_confidence() {
        let sure = read("Total $10.00", "US").total.unwrap();
        let unsure = read("Total $10.00~", "US").total.unwrap();
        assert!(unsure.confidence < sure.confidence, "{unsure:?} {sure:?}");
        // A date found without its label is less certain.
        let bare = read("Thanks\nDec 4, 2026", "US").invoice_date.unwrap();
        assert_eq!(bare.value, "2026-12-04");
        assert!(bare.confidence < 0.9 * 0.7);
    }

    #[test]
    fn nothing_is_made_up() {
        let f = read("Thank you for your business\nQty 2.50 hours", "US");
        assert_eq!(f, InvoiceFields::default());
    }

    #[test]
    fn dates_amounts_and_vins_by_their_rules() {
        assert_eq!(
            parse_date("12/03/2026", "US")
                .map(|d| d.to_string())
                .as_deref(),
            Some("2026-12-03")
        );
        assert_eq!(
            parse_date("12/03/2026", "GB")
                .map(|d| d.to_string())
                .as_deref(),
            Some("2026-03-12")
        );
        assert_eq!(
            parse_date("25/03/2026", "US")
                .map(|d| d.to_string())
                .as_deref(),
            Some("2026-03-25")
        );
        assert_eq!(
            parse_date("4 December 2026", "US")
                .map(|d| d.to_string())
                .as_deref(),
            Some("2026-12-04")
        );
        assert_eq!(parse_date("31/02/2026", "GB"), None);
        assert_eq!(parse_date("INV-00042", "US"), None);
        assert_eq!(parse_amount("$1,234.50"), Some(123_450));
        assert_eq!(parse_amount("1.234,50"), Some(123_450));
        assert_eq!(parse_amount("-$3.00"), Some(-300));
        assert_eq!(parse_amount("8.250"), None);
        assert_eq!(parse_amount("8.25%"), None);
        assert_eq!(parse_amount("2026-12-04"), None);
        assert!(vin_check_digit_ok("1HGCM82633A004352"));
        assert!(!vin_check_digit_ok("1HGCM82643A004352"));
        assert_eq!(
            DocumentType::sniff(b"%PDF-1.4 ..."),
            Some(DocumentType::Pdf)
        );
        assert_eq!(DocumentType::sniff(b"GIF89a"), None);
        for s in OcrStatus::ALL {
            assert_eq!(OcrStatus::parse(s.as_str()), Some(s));
        }
    }
}
