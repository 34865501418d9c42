//! Tests of the public `Schema` API: compile-time rejections, validation
//! messages per keyword, and the request-time pipeline.

mod compile;
mod validation;

use serde_json::Value;

use super::Schema;

const BASE: &str = "spec.versions[0].schema.openAPIV3Schema";

/// Compiles a schema that must be valid.
fn compiled(schema: Value) -> Schema {
    match Schema::compile(&schema, BASE) {
        Ok(schema) => schema,
        Err(errors) => panic!("schema rejected: {:#?}", rendered(&errors)),
    }
}

/// The rejection messages of a schema that must be invalid.
fn rejected(schema: Value) -> Vec<String> {
    match Schema::compile(&schema, BASE) {
        Ok(_) => panic!("schema accepted: {schema}"),
        Err(errors) => rendered(&errors),
    }
}

fn rendered(errors: &[apiserver::validation::FieldError]) -> Vec<String> {
    errors.iter().map(ToString::to_string).collect()
}
