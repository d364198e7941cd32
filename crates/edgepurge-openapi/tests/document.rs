//! The committed OpenAPI document is the generated one, and it holds together.

use serde_json::Value;
use std::path::Path;

fn committed() -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/openapi.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{} is not JSON: {e}", path.display()))
}

#[test]
fn committed_document_is_current() {
    assert!(
        committed() == edgepurge_openapi::document(),
        "docs/openapi.json is out of date: run `cargo run -p edgepurge-openapi > docs/openapi.json`"
    );
}

/// Every `$ref` in `value`, as JSON pointers into the document.
fn refs<'a>(value: &'a Value, found: &mut Vec<&'a str>) {
    match value {
        Value::Object(map) => {
            for (key, v) in map {
                match (key.as_str(), v) {
                    ("$ref", Value::String(r)) => found.push(r),
                    _ => refs(v, found),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|v| refs(v, found)),
        _ => {}
    }
}

#[test]
fn every_reference_resolves() {
    let doc = edgepurge_openapi::document();
    let mut found = Vec::new();
    refs(&doc, &mut found);
    assert!(found.len() > 50, "only {} references: the document lost its schemas", found.len());
    for r in found {
        let pointer = r.strip_prefix('#').unwrap_or_else(|| panic!("{r} is not a local reference"));
        assert!(doc.pointer(pointer).is_some(), "{r} resolves to nothing");
    }
}

#[test]
fn every_secured_operation_documents_its_refusals() {
    let doc = edgepurge_openapi::document();
    let paths = doc["paths"].as_object().expect("paths");
    let mut secured = 0;
    for (path, item) in paths {
        for (method, op) in item.as_object().expect("path item") {
            let needs_credentials = op["security"]
                .as_array()
                .is_some_and(|s| !s.is_empty() && s.iter().all(|r| r != &serde_json::json!({})));
            if needs_credentials {
                secured += 1;
                for status in ["401", "403", "429"] {
                    assert!(op["responses"].get(status).is_some(), "{method} {path} lacks its {status}");
                }
            }
            if op.get("requestBody").is_some() {
                for status in ["400", "413", "415"] {
                    assert!(op["responses"].get(status).is_some(), "{method} {path} reads a body but lacks {status}");
                }
            }
            assert!(op["operationId"].is_string(), "{method} {path} has no operationId");
        }
    }
    assert!(secured >= 20, "only {secured} operations need credentials");
}

#[test]
fn problem_responses_name_every_kind() {
    let doc = edgepurge_openapi::document();
    let text = doc["components"]["responses"].to_string();
    for kind in edgepurge_core::error::ErrorKind::ALL {
        assert!(text.contains(&kind.problem_type()), "{} is in no problem response", kind.problem_type());
    }
}

/// Every (method, path) the document has, upper-case methods.
fn documented(doc: &Value) -> std::collections::BTreeSet<(String, String)> {
    let mut found = std::collections::BTreeSet::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for method in item.as_object().expect("path item").keys() {
            found.insert((method.to_ascii_uppercase(), path.clone()));
        }
    }
    found
}

#[test]
fn the_document_and_the_route_table_agree_both_ways() {
    use edgepurge_core::routes::ROUTES;
    let routed: std::collections::BTreeSet<(String, String)> =
        ROUTES.iter().map(|r| (r.method.to_owned(), r.pattern.to_owned())).collect();
    for doc in [edgepurge_openapi::document(), committed()] {
        let documented = documented(&doc);
        let unrouted: Vec<_> = documented.difference(&routed).collect();
        let undocumented: Vec<_> = routed.difference(&documented).collect();
        assert!(unrouted.is_empty(), "documented but not routed: {unrouted:?}");
        assert!(undocumented.is_empty(), "routed but not documented: {undocumented:?}");
        for r in ROUTES {
            let op = &doc["paths"][r.pattern][r.method.to_ascii_lowercase()];
            assert_eq!(op["operationId"], r.id, "{} {}", r.method, r.pattern);
            for status in r.problems {
                assert!(op["responses"].get(status.to_string()).is_some(), "{} lacks its {status}", r.id);
            }
        }
    }
}

#[test]
fn head_health_and_verifys_422_are_documented() {
    let doc = edgepurge_openapi::document();
    assert!(doc["paths"]["/api/health"]["head"]["responses"]["200"].is_object());
    assert!(doc["paths"]["/api/verify"]["post"]["responses"]["422"].is_object());
    let verify = doc["paths"]["/api/verify"]["post"]["description"].as_str().unwrap_or_default();
    assert!(verify.contains("`HEAD`") && !verify.contains("`GET`"), "{verify}");
}
