//! A small JSON Schema validator: the subset of draft 2020-12 that the pinned card schemas
//! use (`type`, `properties`, `required`, `additionalProperties`, `items`, `minItems`,
//! `minLength`, `enum`, `const`, `anyOf`, `format` `date-time`/`uri`, and local `$ref`s to
//! `#/$defs/<name>`). An unsupported keyword is an error, so a schema can never pass a
//! document by silently ignoring part of itself.

use serde_json::Value;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

const KNOWN: [&str; 18] = [
    "$schema",
    "$id",
    "$defs",
    "$ref",
    "title",
    "description",
    "type",
    "properties",
    "required",
    "additionalProperties",
    "items",
    "minItems",
    "minLength",
    "enum",
    "const",
    "anyOf",
    "format",
    "example",
];

/// One reason a document does not match.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// JSON Pointer of the offending value (`""` for the root).
    pub path: String,
    /// What is wrong.
    pub message: String,
}

impl std::fmt::Display for Violation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let path = if self.path.is_empty() {
            "/"
        } else {
            &self.path
        };
        write!(f, "{path}: {}", self.message)
    }
}

/// Every violation of `doc` against `schema` (empty: valid).
pub fn validate(schema: &Value, doc: &Value) -> Vec<Violation> {
    let mut out = Vec::new();
    check(schema, schema, doc, "", &mut out);
    out
}

fn type_matches(t: &str, v: &Value) -> bool {
    match t {
        "object" => v.is_object(),
        "array" => v.is_array(),
        "string" => v.is_string(),
        "boolean" => v.is_boolean(),
        "number" => v.is_number(),
        "integer" => v.as_i64().is_some() || v.as_u64().is_some(),
        "null" => v.is_null(),
        _ => false,
    }
}

fn format_ok(format: &str, s: &str) -> Option<bool> {
    match format {
        "date-time" => Some(OffsetDateTime::parse(s, &Rfc3339).is_ok()),
        "uri" => Some(reqwest::Url::parse(s).is_ok()),
        _ => None,
    }
}

fn check(root: &Value, schema: &Value, v: &Value, path: &str, out: &mut Vec<Violation>) {
    let mut fail = |message: String| {
        out.push(Violation {
            path: path.to_owned(),
            message,
        });
    };
    let Some(s) = schema.as_object() else {
        if schema == &Value::Bool(false) {
            fail("no value is allowed here".into());
        }
        return;
    };
    if let Some(k) = s.keys().find(|k| !KNOWN.contains(&k.as_str())) {
        fail(format!(
            "schema keyword {k} is not supported by this validator"
        ));
        return;
    }
    if let Some(r) = s.get("$ref").and_then(Value::as_str) {
        match r
            .strip_prefix("#/$defs/")
            .and_then(|name| root.get("$defs")?.get(name))
        {
            Some(target) => check(root, target, v, path, out),
            None => fail(format!("unresolvable $ref {r}")),
        }
        return;
    }
    if let Some(t) = s.get("type").and_then(Value::as_str)
        && !type_matches(t, v)
    {
        fail(format!("must be of type {t}"));
        return;
    }
    if let Some(c) = s.get("const")
        && c != v
    {
        fail(format!("must be {c}"));
    }
    if let Some(e) = s.get("enum").and_then(Value::as_array)
        && !e.contains(v)
    {
        fail(format!("must be one of {}", Value::Array(e.clone())));
    }
    if let Some(text) = v.as_str() {
        if let Some(min) = s.get("minLength").and_then(Value::as_u64)
            && (text.chars().count() as u64) < min
        {
            fail(format!("must have at least {min} character(s)"));
        }
        if let Some(f) = s.get("format").and_then(Value::as_str) {
            match format_ok(f, text) {
                Some(true) => {}
                Some(false) => fail(format!("must be a valid {f}")),
                None => fail(format!("format {f} is not supported by this validator")),
            }
        }
    }
    if let Some(items) = v.as_array() {
        if let Some(min) = s.get("minItems").and_then(Value::as_u64)
            && (items.len() as u64) < min
        {
            fail(format!("must have at least {min} item(s)"));
        }
        if let Some(item_schema) = s.get("items") {
            for (i, item) in items.iter().enumerate() {
                check(root, item_schema, item, &format!("{path}/{i}"), out);
            }
        }
    }
    if let Some(obj) = v.as_object() {
        let props = s.get("properties").and_then(Value::as_object);
        for name in s
            .get("required")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
        {
            if !obj.contains_key(name) {
                out.push(Violation {
                    path: path.to_owned(),
                    message: format!("required field {name} is missing"),
                });
            }
        }
        for (k, child) in obj {
            let child_path = format!("{path}/{}", k.replace('~', "~0").replace('/', "~1"));
            match props.and_then(|p| p.get(k)) {
                Some(ps) => check(root, ps, child, &child_path, out),
                None => match s.get("additionalProperties") {
                    Some(Value::Bool(false)) => out.push(Violation {
                        path: child_path,
                        message: "unknown field".into(),
                    }),
                    Some(extra @ Value::Object(_)) => check(root, extra, child, &child_path, out),
                    _ => {}
                },
            }
        }
    }
    if let Some(any) = s.get("anyOf").and_then(Value::as_array)
        && !any.iter().any(|sub| validate_at(root, sub, v))
    {
        out.push(Violation {
            path: path.to_owned(),
            message: "matches none of the allowed forms".into(),
        });
    }
}

fn validate_at(root: &Value, schema: &Value, v: &Value) -> bool {
    let mut out = Vec::new();
    check(root, schema, v, "", &mut out);
    out.is_empty()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reports_each_problem_with_its_path() {
        let schema = json!({
            "type": "object",
            "properties": {
                "name": {"type": "string", "minLength": 1},
                "when": {"type": "string", "format": "date-time"},
                "tags": {"type": "array", "items": {"$ref": "#/$defs/tag"}, "minItems": 1},
            },
            "required": ["name", "tags"],
            "additionalProperties": false,
            "$defs": {"tag": {"enum": ["a", "b"]}},
        });
        assert!(validate(&schema, &json!({"name": "x", "tags": ["a"]})).is_empty());
        let errs = validate(
            &schema,
            &json!({"name": "", "when": "yesterday", "tags": ["c"], "extra": 1}),
        );
        let shown: Vec<String> = errs.iter().map(ToString::to_string).collect();
        assert_eq!(
            shown,
            [
                "/extra: unknown field",
                "/name: must have at least 1 character(s)",
                "/tags/0: must be one of [\"a\",\"b\"]",
                "/when: must be a valid date-time",
            ]
        );
        assert_eq!(
            validate(&schema, &json!({"tags": []}))
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>(),
            [
                "/: required field name is missing",
                "/tags: must have at least 1 item(s)"
            ]
        );
    }

    #[test]
    fn unsupported_keywords_fail_loudly() {
        let errs = validate(&json!({"pattern": "^a"}), &json!("b"));
        assert_eq!(errs.len(), 1);
        assert!(errs[0].message.contains("not supported"));
    }

    #[test]
    fn any_of_needs_one_match() {
        let schema =
            json!({"type": "object", "anyOf": [{"required": ["name"]}, {"required": ["id"]}]});
        assert!(validate(&schema, &json!({"id": 3})).is_empty());
        assert_eq!(validate(&schema, &json!({})).len(), 1);
    }
}
