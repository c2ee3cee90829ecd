//! Inspection sheets: what a technician rates, item by item, and how a sheet
//! travels as JSON or CSV. Pure rules, no storage.
//!
//! A sheet is edited as a whole and stored as one document; an inspection
//! keeps its own copy, so editing a sheet never changes inspections already
//! started.

use serde::{Deserialize, Serialize};

use crate::access::string_enum;
use crate::tickets::{LineItemKind, quantity_milli};

string_enum!(
    /// What an item records.
    ItemKind {
        Condition = "condition",
        Measurement = "measurement",
        Tire = "tire",
        Text = "text",
    }
);

string_enum!(
    /// When a finding needs a photo before the inspection may be submitted.
    PhotoRule {
        Never = "never",
        OnAttention = "on_attention",
        Always = "always",
    }
);

string_enum!(
    /// A finding's rating; `not_checked` until the technician rates it.
    Condition {
        NotChecked = "not_checked",
        Good = "good",
        NeedsAttention = "needs_attention",
        Urgent = "urgent",
    }
);

pub const MAX_SECTIONS: usize = 30;
pub const MAX_ITEMS: usize = 200;
pub const MAX_LINE_ITEMS: usize = 20;

/// A sheet's content: named sections of items.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Sheet {
    pub sections: Vec<Section>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Section {
    pub name: String,
    pub items: Vec<Item>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Item {
    /// Stable across edits and visits: findings and last visit's
    /// measurements are matched by it. `a-z`, `0-9` and `_`.
    pub key: String,
    pub label: String,
    pub kind: ItemKind,
    /// Measurements only: `mm`, `psi`, `%`...
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit: Option<String>,
    pub photo: PhotoRule,
    /// What the item is, in plain words, for the customer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub explanation: Option<String>,
    /// The service a finding on this item usually becomes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<RecommendedService>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecommendedService {
    pub title: String,
    #[serde(default)]
    pub line_items: Vec<ServiceLine>,
}

/// A line of a recommended service; money in minor units (cents).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceLine {
    pub kind: LineItemKind,
    pub description: String,
    pub quantity: f64,
    pub unit_price: i64,
    #[serde(default)]
    pub taxable: bool,
}

/// One problem of a sheet: where (a JSON pointer, or `rows/{n}/{column}`
/// for CSV) and what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SheetProblem {
    pub field: String,
    pub message: String,
}

fn problem(field: String, message: impl Into<String>) -> SheetProblem {
    SheetProblem {
        field,
        message: message.into(),
    }
}

fn text(out: &mut Vec<SheetProblem>, field: String, value: &str, max: usize, required: bool) {
    let t = value.trim();
    if required && t.is_empty() {
        out.push(problem(field, "is required"));
    } else if t.chars().count() > max {
        out.push(problem(field, format!("must be at most {max} characters")));
    } else if t.len() != value.len() {
        out.push(problem(field, "must not start or end with spaces"));
    }
}

/// Where each item of a sheet came from, to name problems in the input's
/// own terms (a JSON pointer, or a CSV row).
pub trait Locate {
    fn section(&self, s: usize) -> String;
    fn item(&self, s: usize, i: usize, field: &str) -> String;
}

/// Problems named by JSON pointer into the sheet (`sections/0/items/3/key`).
pub struct JsonPaths;

impl Locate for JsonPaths {
    fn section(&self, s: usize) -> String {
        format!("sections/{s}/name")
    }
    fn item(&self, s: usize, i: usize, field: &str) -> String {
        format!("sections/{s}/items/{i}/{field}")
    }
}

impl Sheet {
    pub fn item_count(&self) -> usize {
        self.sections.iter().map(|s| s.items.len()).sum()
    }

    pub fn items(&self) -> impl Iterator<Item = (&Section, &Item)> {
        self.sections
            .iter()
            .flat_map(|s| s.items.iter().map(move |i| (s, i)))
    }

    /// Every problem of the sheet at once, named by `at`.
    pub fn problems(&self, at: &dyn Locate) -> Vec<SheetProblem> {
        let mut out = Vec::new();
        if self.sections.is_empty() {
            out.push(problem("sections".into(), "needs at least one section"));
        }
        if self.sections.len() > MAX_SECTIONS {
            out.push(problem(
                "sections".into(),
                format!("must be at most {MAX_SECTIONS}"),
            ));
        }
        if self.item_count() > MAX_ITEMS {
            out.push(problem(
                "sections".into(),
                format!("must hold at most {MAX_ITEMS} items in all"),
            ));
        }
        let mut keys = std::collections::HashSet::new();
        for (s, section) in self.sections.iter().enumerate() {
            text(&mut out, at.section(s), &section.name, 80, true);
            if section.items.is_empty() {
                out.push(problem(at.section(s), "the section has no items"));
            }
            for (i, item) in section.items.iter().enumerate() {
                let key_ok = !item.key.is_empty()
                    && item.key.len() <= 40
                    && item
                        .key
                        .chars()
                        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
                if !key_ok {
                    out.push(problem(
                        at.item(s, i, "key"),
                        "must be 1 to 40 of a-z, 0-9 and _",
                    ));
                } else if !keys.insert(item.key.as_str()) {
                    out.push(problem(
                        at.item(s, i, "key"),
                        format!("{:?} is used by another item", item.key),
                    ));
                }
                text(&mut out, at.item(s, i, "label"), &item.label, 120, true);
                match (&item.kind, &item.unit) {
                    (ItemKind::Measurement, None) => out.push(problem(
                        at.item(s, i, "unit"),
                        "is required for a measurement",
                    )),
                    (ItemKind::Measurement, Some(u)) => {
                        text(&mut out, at.item(s, i, "unit"), u, 12, true)
                    }
                    (_, Some(_)) => {
                        out.push(problem(at.item(s, i, "unit"), "is only for measurements"))
                    }
                    (_, None) => {}
                }
                if let Some(e) = &item.explanation {
                    text(&mut out, at.item(s, i, "explanation"), e, 500, true);
                }
                if let Some(svc) = &item.service {
                    text(
                        &mut out,
                        at.item(s, i, "service/title"),
                        &svc.title,
                        200,
                        true,
                    );
                    if svc.line_items.len() > MAX_LINE_ITEMS {
                        out.push(problem(
                            at.item(s, i, "service/line_items"),
                            format!("must be at most {MAX_LINE_ITEMS}"),
                        ));
                    }
                    for (l, line) in svc.line_items.iter().enumerate() {
                        let f =
                            |name: &str| at.item(s, i, &format!("service/line_items/{l}/{name}"));
                        text(&mut out, f("description"), &line.description, 300, true);
                        if let Err(e) = quantity_milli(line.quantity) {
                            out.push(problem(f("quantity"), e.0));
                        }
                        if !(0..=100_000_000).contains(&line.unit_price) {
                            out.push(problem(
                                f("unit_price"),
                                "must be from 0 to 100000000 (minor units)",
                            ));
                        }
                    }
                }
            }
        }
        out
    }

    pub fn to_json(&self) -> String {
        // A sheet is plain data; serialising it cannot fail.
        serde_json::to_string_pretty(self).unwrap_or_default()
    }
}

/// The CSV columns, in order: one row per item.
pub const CSV_COLUMNS: &[&str] = &[
    "section",
    "key",
    "label",
    "kind",
    "unit",
    "photo",
    "explanation",
    "service_title",
    "service_line_items",
];

/// CSV rows are numbered from 1 after the header, as a spreadsheet shows
/// them (the header is row 1, so the first item is row 2).
struct CsvRows(Vec<(usize, usize, usize)>);

impl Locate for CsvRows {
    fn section(&self, s: usize) -> String {
        let row = self
            .0
            .iter()
            .find(|(sec, _, _)| *sec == s)
            .map_or(0, |r| r.2);
        format!("rows/{row}/section")
    }
    fn item(&self, s: usize, i: usize, field: &str) -> String {
        let row = self
            .0
            .iter()
            .find(|(sec, it, _)| *sec == s && *it == i)
            .map_or(0, |r| r.2);
        let column = match field.split('/').next().unwrap_or(field) {
            "service" if field.contains("line_items") => "service_line_items",
            "service" => "service_title",
            other => other,
        };
        format!("rows/{row}/{column}")
    }
}

/// Writes a sheet as CSV: the header, then one row per item in order.
/// A service's line items are one JSON array in their column.
pub fn to_csv(sheet: &Sheet) -> String {
    let mut out = String::new();
    out.push_str(&CSV_COLUMNS.join(","));
    out.push('\n');
    for (section, item) in sheet.items() {
        let lines = item
            .service
            .as_ref()
            .filter(|s| !s.line_items.is_empty())
            .map(|s| serde_json::to_string(&s.line_items).unwrap_or_default())
            .unwrap_or_default();
        let cells = [
            section.name.as_str(),
            item.key.as_str(),
            item.label.as_str(),
            item.kind.as_str(),
            item.unit.as_deref().unwrap_or(""),
            item.photo.as_str(),
            item.explanation.as_deref().unwrap_or(""),
            item.service.as_ref().map_or("", |s| s.title.as_str()),
            lines.as_str(),
        ];
        let row: Vec<String> = cells.iter().map(|c| csv_cell(c)).collect();
        out.push_str(&row.join(","));
        out.push('\n');
    }
    out
}

fn csv_cell(s: &str) -> String {
    // A cell a spreadsheet would run as a formula is written as text.
    let s = if s.starts_with(['=', '+', '-', '@']) {
        format!("'{s}")
    } else {
        s.to_owned()
    };
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s
    }
}

fn csv_uncell(s: &str) -> String {
    match s.strip_prefix('\'') {
        Some(rest) if rest.starts_with(['=', '+', '-', '@']) => rest.to_owned(),
        _ => s.to_owned(),
    }
}

/// Splits CSV text into rows of cells (RFC 4180: quoted cells may hold
/// commas, quotes and line breaks).
fn csv_rows(text: &str) -> Result<Vec<Vec<String>>, SheetProblem> {
    let mut rows = Vec::new();
    let mut row = Vec::new();
    let mut cell = String::new();
    let mut quoted = false;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if quoted {
            match c {
                '"' if chars.peek() == Some(&'"') => {
                    chars.next();
                    cell.push('"');
                }
                '"' => quoted = false,
                c => cell.push(c),
            }
            continue;
        }
        match c {
            '"' if cell.is_empty() => quoted = true,
            ',' => row.push(std::mem::take(&mut cell)),
            '\r' => {}
            '\n' => {
                row.push(std::mem::take(&mut cell));
                rows.push(std::mem::take(&mut row));
            }
            c => cell.push(c),
        }
    }
    if quoted {
        return Err(problem(
            format!("rows/{}", rows.len() + 1),
            "a quoted cell is not closed",
        ));
    }
    if !cell.is_empty() || !row.is_empty() {
        row.push(cell);
        rows.push(row);
    }
    Ok(rows)
}

/// Reads a sheet from CSV, naming every problem by row and column.
pub fn from_csv(text: &str) -> Result<Sheet, Vec<SheetProblem>> {
    let rows = csv_rows(text).map_err(|p| vec![p])?;
    let mut rows = rows.into_iter();
    let header = rows.next().unwrap_or_default();
    if header
        .iter()
        .map(String::as_str)
        .ne(CSV_COLUMNS.iter().copied())
    {
        return Err(vec![problem(
            "rows/1".into(),
            format!("the header must be {}", CSV_COLUMNS.join(",")),
        )]);
    }
    let mut problems = Vec::new();
    let mut sheet = Sheet { sections: vec![] };
    let mut places = Vec::new();
    for (n, cells) in rows.enumerate() {
        let row = n + 2;
        if cells.iter().all(|c| c.trim().is_empty()) {
            continue;
        }
        if cells.len() != CSV_COLUMNS.len() {
            problems.push(problem(
                format!("rows/{row}"),
                format!("has {} cells, needs {}", cells.len(), CSV_COLUMNS.len()),
            ));
            continue;
        }
        let cell = |i: usize| csv_uncell(&cells[i]);
        let opt = |i: usize| Some(cell(i)).filter(|s| !s.is_empty());
        let kind = ItemKind::parse(&cell(3));
        if kind.is_none() {
            problems.push(problem(
                format!("rows/{row}/kind"),
                "must be condition, measurement, tire or text",
            ));
        }
        let photo = PhotoRule::parse(&cell(5));
        if photo.is_none() {
            problems.push(problem(
                format!("rows/{row}/photo"),
                "must be never, on_attention or always",
            ));
        }
        let line_items = match opt(8) {
            None => Vec::new(),
            Some(json) => match serde_json::from_str::<Vec<ServiceLine>>(&json) {
                Ok(l) => l,
                Err(e) => {
                    problems.push(problem(
                        format!("rows/{row}/service_line_items"),
                        format!("must be a JSON array of line items: {e}"),
                    ));
                    Vec::new()
                }
            },
        };
        let service = match opt(7) {
            Some(title) => Some(RecommendedService { title, line_items }),
            None if !line_items.is_empty() => {
                problems.push(problem(
                    format!("rows/{row}/service_title"),
                    "is required with service_line_items",
                ));
                None
            }
            None => None,
        };
        let (Some(kind), Some(photo)) = (kind, photo) else {
            continue;
        };
        let section_name = cell(0);
        let s = match sheet.sections.last() {
            Some(last) if last.name == section_name => sheet.sections.len() - 1,
            _ => {
                sheet.sections.push(Section {
                    name: section_name,
                    items: vec![],
                });
                sheet.sections.len() - 1
            }
        };
        places.push((s, sheet.sections[s].items.len(), row));
        sheet.sections[s].items.push(Item {
            key: cell(1),
            label: cell(2),
            kind,
            unit: opt(4),
            photo,
            explanation: opt(6),
            service,
        });
    }
    problems.extend(sheet.problems(&CsvRows(places)));
    if problems.is_empty() {
        Ok(sheet)
    } else {
        Err(problems)
    }
}

/// A sheet as a JSON file: its name and its sections.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SheetFile {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    pub sections: Vec<Section>,
}

/// Writes a sheet as its JSON file.
pub fn to_json_file(name: &str, sheet: &Sheet) -> String {
    let file = SheetFile {
        name: Some(name.to_owned()),
        sections: sheet.sections.clone(),
    };
    serde_json::to_string_pretty(&file).unwrap_or_default() + "\n"
}

/// Reads a sheet's JSON file (`{"name", "sections": [...]}`): the name, if
/// it has one, and the sheet.
pub fn from_json(text: &str) -> Result<(Option<String>, Sheet), Vec<SheetProblem>> {
    let file: SheetFile = serde_json::from_str(text).map_err(|e| {
        // The whole text: the caller names the field it came in.
        vec![problem(
            String::new(),
            format!(
                "is not a sheet (line {}, column {}): {e}",
                e.line(),
                e.column()
            ),
        )]
    })?;
    let sheet = Sheet {
        sections: file.sections,
    };
    let problems = sheet.problems(&JsonPaths);
    if problems.is_empty() {
        Ok((file.name, sheet))
    } else {
        Err(problems)
    }
}

/// The multi-point sheet every new shop starts with.
pub fn multipoint() -> Sheet {
    // Checked by a test below: the built-in sheet is valid.
    serde_json::from_str(include_str!("inspections_multipoint.json"))
        .unwrap_or(Sheet { sections: vec![] })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_multipoint_sheet_is_valid_and_about_thirty_items() {
        let s = multipoint();
        assert_eq!(s.problems(&JsonPaths), vec![]);
        assert!((28..=40).contains(&s.item_count()), "{}", s.item_count());
    }

    #[test]
    fn csv_and_json_round_trip() {
        let s = multipoint();
        let csv = to_csv(&s);
        let back = from_csv(&csv).expect("reads its own CSV");
        assert_eq!(back, s);
        assert_eq!(to_csv(&back), csv);
        let json = to_json_file("Multi-point", &s);
        let (name, back) = from_json(&json).expect("reads its own JSON");
        assert_eq!((name.as_deref(), &back), (Some("Multi-point"), &s));
        assert_eq!(to_json_file("Multi-point", &back), json);
    }

    #[test]
    fn csv_names_the_row_and_column() {
        let mut csv = to_csv(&multipoint());
        csv.push_str("Extra,wipers_rear,Rear wiper,colour,,never,,,\n");
        csv.push_str("Extra,bad key,Oops,condition,,sometimes,,,\n");
        let rows = csv.lines().count();
        let problems = from_csv(&csv).unwrap_err();
        let fields: Vec<&str> = problems.iter().map(|p| p.field.as_str()).collect();
        assert!(
            fields.contains(&format!("rows/{}/kind", rows - 1).as_str()),
            "{problems:?}"
        );
        assert!(
            fields.contains(&format!("rows/{rows}/photo").as_str()),
            "{problems:?}"
        );
        let dup = to_csv(&multipoint()) + "Extra,oil_level,Again,condition,,never,,,\n";
        let problems = from_csv(&dup).unwrap_err();
        let last = dup.lines().count();
        assert_eq!(
            problems[0].field,
            format!("rows/{last}/key"),
            "{problems:?}"
        );
    }

    #[test]
    fn csv_cells_that_look_like_formulas_stay_text() {
        let mut s = multipoint();
        s.sections[0].items[0].label = "=HYPERLINK(\"x\")".into();
        let csv = to_csv(&s);
        assert!(csv.contains("\"'=HYPERLINK(\"\"x\"\")\""), "{csv}");
        assert_eq!(from_csv(&csv).unwrap(), s);
    }
}
