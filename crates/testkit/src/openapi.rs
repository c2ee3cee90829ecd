//! Checks answers against the committed OpenAPI document
//! (`openapi/pitwall.json`): the status must be one the operation declares,
//! and a JSON body must match the declared schema. A failure names the
//! operation and the field (a JSON pointer into the body).
//!
//! The document is OpenAPI 3.0; its schemas become JSON Schema 2020-12
//! here: `nullable: true` turns into "this or null", and every object with
//! declared properties refuses properties it does not declare (a field the
//! server sends but the document does not describe is a lie by omission).

use std::collections::HashMap;
use std::sync::{Arc, LazyLock, Mutex};

use serde_json::{Map, Value, json};

/// One operation of the document.
#[derive(Debug, Clone)]
pub struct Operation {
    pub id: String,
    pub method: String,
    pub path: String,
    segments: Vec<String>,
    responses: Value,
}

impl Operation {
    fn matches(&self, method: &str, segments: &[&str]) -> bool {
        self.method.eq_ignore_ascii_case(method)
            && self.segments.len() == segments.len()
            && self
                .segments
                .iter()
                .zip(segments)
                .all(|(t, s)| t.starts_with('{') || t == s)
    }

    fn literal_segments(&self) -> usize {
        self.segments.iter().filter(|t| !t.starts_with('{')).count()
    }
}

pub struct Document {
    pub operations: Vec<Operation>,
    schemas: Value,
    validators: Mutex<HashMap<String, Arc<jsonschema::Validator>>>,
}

/// The committed document, read once per test process.
pub fn committed() -> &'static Document {
    static DOC: LazyLock<Document> = LazyLock::new(|| {
        let path =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../openapi/pitwall.json");
        let text = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
        let spec: Value = serde_json::from_str(&text).expect("openapi/pitwall.json is JSON");
        Document::new(&spec)
    });
    &DOC
}

impl Document {
    pub fn new(spec: &Value) -> Self {
        let mut operations = Vec::new();
        for (path, item) in spec["paths"].as_object().into_iter().flatten() {
            for (method, op) in item.as_object().into_iter().flatten() {
                operations.push(Operation {
                    id: op["operationId"]
                        .as_str()
                        .map(str::to_owned)
                        .unwrap_or_else(|| format!("{} {path}", method.to_uppercase())),
                    method: method.to_uppercase(),
                    path: path.clone(),
                    segments: path.split('/').map(str::to_owned).collect(),
                    responses: op["responses"].clone(),
                });
            }
        }
        Self {
            operations,
            schemas: convert(&spec["components"]["schemas"], true),
            validators: Mutex::new(HashMap::new()),
        }
    }

    /// The operation a request goes to, if the document has it. The most
    /// literal template wins (`/tickets/batch` over `/tickets/{external_id}`).
    pub fn operation(&self, method: &str, path: &str) -> Option<&Operation> {
        let path = path.split('?').next().unwrap_or_default();
        let segments: Vec<&str> = path.split('/').collect();
        self.operations
            .iter()
            .filter(|o| o.matches(method, &segments))
            .max_by_key(|o| o.literal_segments())
    }

    /// Checks one answer. `Ok(None)` for a path the document does not
    /// cover (pages, webhooks, probes); `Ok(Some(id))` names the operation
    /// whose declaration the answer matches; `Err` says what does not.
    pub fn check(
        &self,
        method: &str,
        path: &str,
        status: u16,
        body: &Value,
    ) -> Result<Option<String>, String> {
        let Some(op) = self.operation(method, path) else {
            return Ok(None);
        };
        let name = format!("{} ({} {})", op.id, op.method, op.path);
        let Some(response) = op.responses.get(status.to_string()) else {
            return Err(format!(
                "{name} answered {status}, a status the document does not declare: {body}"
            ));
        };
        let Some(content) = response["content"].as_object() else {
            return Ok(Some(op.id.clone()));
        };
        let Some(schema) = content
            .iter()
            .find(|(media, _)| media.starts_with("application/json"))
            .map(|(_, m)| &m["schema"])
        else {
            // Event streams and other bodies that are not JSON.
            return Ok(Some(op.id.clone()));
        };
        let validator = self.validator(schema)?;
        let errors: Vec<String> = validator
            .iter_errors(body)
            .map(|e| {
                let at = e.instance_path().to_string();
                let field = if at.is_empty() { "/".to_owned() } else { at };
                format!("field {field}: {e}")
            })
            .collect();
        if errors.is_empty() {
            Ok(Some(op.id.clone()))
        } else {
            Err(format!(
                "{name} answered {status} with a body the document does not describe:\n  {}\nbody: {body}",
                errors.join("\n  ")
            ))
        }
    }

    fn validator(&self, schema: &Value) -> Result<Arc<jsonschema::Validator>, String> {
        let key = schema.to_string();
        let mut cache = self.validators.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(v) = cache.get(&key) {
            return Ok(v.clone());
        }
        // The response's schema with every component beside it, so that
        // `#/components/schemas/X` resolves inside this one resource.
        let mut root = match convert(schema, false) {
            Value::Object(m) => m,
            other => {
                let mut m = Map::new();
                m.insert("allOf".into(), json!([other]));
                m
            }
        };
        root.insert(
            "$schema".into(),
            json!("https://json-schema.org/draft/2020-12/schema"),
        );
        root.insert("components".into(), json!({"schemas": self.schemas}));
        let v = jsonschema::options()
            .with_draft(jsonschema::Draft::Draft202012)
            .should_validate_formats(true)
            .build(&Value::Object(root))
            .map_err(|e| format!("the document's schema {key} does not compile: {e}"))?;
        let v = Arc::new(v);
        cache.insert(key, v.clone());
        Ok(v)
    }
}

/// OpenAPI 3.0 schema → JSON Schema 2020-12. `map_of_schemas` is true for
/// `components/schemas` and `properties`, whose keys are names, not keywords.
fn convert(v: &Value, map_of_schemas: bool) -> Value {
    let Value::Object(m) = v else {
        return v.clone();
    };
    if map_of_schemas {
        return Value::Object(
            m.iter()
                .map(|(k, x)| (k.clone(), convert(x, false)))
                .collect(),
        );
    }
    let mut out = Map::new();
    for (k, x) in m {
        let x = match k.as_str() {
            // Annotations of OpenAPI 3.0 that are not JSON Schema keywords.
            "nullable" | "example" | "discriminator" | "xml" | "externalDocs" => continue,
            "properties" => convert(x, true),
            "items" | "not" | "additionalProperties" => convert(x, false),
            "allOf" | "anyOf" | "oneOf" => Value::Array(
                x.as_array()
                    .into_iter()
                    .flatten()
                    .map(|s| convert(s, false))
                    .collect(),
            ),
            _ => x.clone(),
        };
        out.insert(k.clone(), x);
    }
    if out.contains_key("properties") && !out.contains_key("additionalProperties") {
        out.insert("unevaluatedProperties".into(), json!(false));
    }
    if m.get("nullable") == Some(&json!(true)) {
        return json!({"anyOf": [Value::Object(out), {"type": "null"}]});
    }
    Value::Object(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc() -> Document {
        Document::new(&json!({
            "paths": {"/api/v1/things/{id}": {"get": {"operationId": "get_thing", "responses": {
                "200": {"content": {"application/json; charset=utf-8": {"schema": {"$ref": "#/components/schemas/Thing"}}}},
                "404": {"content": {"application/json; charset=utf-8": {"schema": {"$ref": "#/components/schemas/Err"}}}}
            }}}},
            "components": {"schemas": {
                "Thing": {"type": "object", "required": ["id"], "properties": {
                    "id": {"type": "string", "format": "uuid"},
                    "owner": {"nullable": true, "allOf": [{"$ref": "#/components/schemas/Err"}]},
                    "note": {"type": "string"}
                }},
                "Err": {"type": "object", "required": ["code"], "properties": {"code": {"type": "string"}}}
            }}
        }))
    }

    #[test]
    fn null_passes_only_where_declared_nullable() {
        let d = doc();
        let id = "0190c0de-0000-7000-8000-000000000000";
        let ok = d.check(
            "GET",
            &format!("/api/v1/things/{id}?x=1"),
            200,
            &json!({"id": id, "owner": null}),
        );
        assert_eq!(ok, Ok(Some("get_thing".to_owned())));
        let err = d
            .check(
                "GET",
                "/api/v1/things/x",
                200,
                &json!({"id": id, "note": null}),
            )
            .unwrap_err();
        assert!(
            err.contains("get_thing") && err.contains("field /note"),
            "{err}"
        );
    }

    #[test]
    fn undeclared_fields_statuses_and_formats_fail() {
        let d = doc();
        let err = d
            .check("GET", "/api/v1/things/x", 200, &json!({"id": "not-a-uuid"}))
            .unwrap_err();
        assert!(err.contains("field /id"), "{err}");
        let err = d
            .check(
                "GET",
                "/api/v1/things/x",
                404,
                &json!({"code": "x", "extra": 1}),
            )
            .unwrap_err();
        assert!(err.contains("extra"), "{err}");
        let err = d
            .check("GET", "/api/v1/things/x", 409, &json!({"code": "x"}))
            .unwrap_err();
        assert!(err.contains("does not declare"), "{err}");
        assert_eq!(d.check("GET", "/app/things", 200, &Value::Null), Ok(None));
    }
}
