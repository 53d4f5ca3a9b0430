//! The committed JSON Schemas under `specs/` and validation against them, for the tests of
//! every command that prints JSON.

use serde_json::Value;

/// The committed schema `specs/NAME` (`suggest.schema.json`).
pub fn committed_schema(name: &str) -> Value {
    let path = crate::fixtures::root().join("specs").join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Panics with every error when `doc` does not validate against `schema`.
pub fn assert_valid(schema: &Value, doc: &Value) {
    let validator = jsonschema::validator_for(schema).unwrap_or_else(|e| panic!("{e}"));
    let errors: Vec<String> = validator
        .iter_errors(doc)
        .map(|e| format!("{e} at {}", e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "{errors:#?}");
}
