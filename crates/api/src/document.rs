//! The OpenAPI document as published: poem-openapi's output with one
//! repair, so that `/openapi.json`, `/docs` and `openapi/pitwall.json` are
//! the same document and read well in generated clients.
//!
//! A field whose type is another schema and that carries its own
//! description or `nullable` comes out of poem-openapi as
//! `allOf: [{$ref}, {description, nullable}]`, with the same keys repeated
//! beside the `allOf`. Generators read that two-part `allOf` as a new
//! anonymous type (`TicketOutAdvisorType1` instead of `PersonOut` in
//! openapi-python-client). The second part says nothing the outer object
//! does not, so it is dropped: `{nullable, description, allOf: [{$ref}]}`.
//!
//! poem-openapi makes an operation's summary of its doc comment's whole
//! first paragraph, line breaks included. A summary is the one line beside
//! the path in `/docs`: it keeps the first sentence on one line, and the
//! rest of the paragraph opens the description.

use indexmap::IndexMap;
use serde::{Deserialize, Serialize};

/// A JSON value that keeps its keys in order (serde_json's `Value` sorts
/// them), so that fields read in the order the code declares them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
enum Node {
    Null,
    Bool(bool),
    Number(serde_json::Number),
    String(String),
    Array(Vec<Node>),
    Object(IndexMap<String, Node>),
}

/// Keys poem-openapi copies from a field into the second `allOf` part.
const FIELD_KEYS: &[&str] = &[
    "description",
    "nullable",
    "readOnly",
    "writeOnly",
    "deprecated",
    "default",
    "title",
    "example",
];

/// The repaired document, pretty-printed like poem-openapi's.
pub fn tidy(raw: &str) -> String {
    let Ok(mut doc) = serde_json::from_str::<Node>(raw) else {
        // poem-openapi always writes JSON; if it ever did not, publish what
        // it wrote rather than nothing.
        return raw.to_owned();
    };
    repair(&mut doc);
    if let Node::Object(root) = &mut doc
        && let Some(Node::Object(paths)) = root.get_mut("paths")
    {
        for item in paths.values_mut() {
            if let Node::Object(methods) = item {
                for op in methods.values_mut() {
                    if let Node::Object(op) = op {
                        one_line_summary(op);
                    }
                }
            }
        }
    }
    serde_json::to_string_pretty(&doc).unwrap_or_else(|_| raw.to_owned())
}

fn one_line_summary(op: &mut IndexMap<String, Node>) {
    let Some(Node::String(summary)) = op.get("summary") else {
        return;
    };
    let joined = summary.split_whitespace().collect::<Vec<_>>().join(" ");
    let (first, rest) = match joined.find(". ") {
        Some(i) => (joined[..=i].to_owned(), joined[i + 2..].to_owned()),
        None => (joined, String::new()),
    };
    op.insert("summary".into(), Node::String(first));
    if !rest.is_empty() {
        let description = match op.get("description") {
            Some(Node::String(d)) => format!("{rest}\n\n{d}"),
            _ => rest,
        };
        op.insert("description".into(), Node::String(description));
    }
}

fn repair(v: &mut Node) {
    match v {
        Node::Object(m) => {
            let redundant = match m.get("allOf") {
                Some(Node::Array(parts)) if parts.len() == 2 => {
                    matches!(&parts[0], Node::Object(r) if r.contains_key("$ref"))
                        && matches!(&parts[1], Node::Object(extra) if extra
                            .iter()
                            .all(|(k, x)| FIELD_KEYS.contains(&k.as_str()) && m.get(k) == Some(x)))
                }
                _ => false,
            };
            if redundant && let Some(Node::Array(parts)) = m.get_mut("allOf") {
                parts.truncate(1);
            }
            for x in m.values_mut() {
                repair(x);
            }
        }
        Node::Array(a) => a.iter_mut().for_each(repair),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    #[test]
    fn a_described_nullable_reference_keeps_one_all_of_part() {
        let raw = json!({"properties": {"advisor": {
            "description": "Who", "nullable": true,
            "allOf": [{"$ref": "#/components/schemas/PersonOut"}, {"description": "Who", "nullable": true}]
        }}});
        let out: Value = serde_json::from_str(&tidy(&raw.to_string())).unwrap();
        assert_eq!(
            out["properties"]["advisor"],
            json!({"description": "Who", "nullable": true,
                   "allOf": [{"$ref": "#/components/schemas/PersonOut"}]})
        );
    }

    #[test]
    fn a_second_part_that_adds_something_stays() {
        let raw = json!({"allOf": [{"$ref": "#/x"}, {"properties": {"a": {}}}]});
        let out: Value = serde_json::from_str(&tidy(&raw.to_string())).unwrap();
        assert_eq!(out["allOf"].as_array().map(Vec::len), Some(2));
    }

    #[test]
    fn a_summary_is_its_first_sentence_on_one_line() {
        let raw = json!({"paths": {"/x": {"get": {
            "summary": "Create or update a ticket. Idempotent: the same\nbody twice makes one.",
            "description": "More.",
        }, "put": {"summary": "Short\nand wrapped"}}}});
        let out: Value = serde_json::from_str(&tidy(&raw.to_string())).unwrap();
        let get = &out["paths"]["/x"]["get"];
        assert_eq!(get["summary"], "Create or update a ticket.");
        assert_eq!(
            get["description"],
            "Idempotent: the same body twice makes one.\n\nMore."
        );
        assert_eq!(out["paths"]["/x"]["put"]["summary"], "Short and wrapped");
    }

    #[test]
    fn keys_keep_their_order() {
        let raw = r#"{"z": 1, "a": {"y": null, "b": [true, "x", 1.5]}}"#;
        assert_eq!(
            tidy(raw),
            "{\n  \"z\": 1,\n  \"a\": {\n    \"y\": null,\n    \"b\": [\n      true,\n      \"x\",\n      1.5\n    ]\n  }\n}"
        );
    }
}
