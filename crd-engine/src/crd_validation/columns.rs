//! `additionalPrinterColumns`: the extra columns `kubectl get` shows.

use apiserver::validation::FieldError;
use serde_json::{json, Value};

use super::subresources::simple_json_path_errors;
use super::text;

/// Upstream lists these sorted and comma-joined in its messages.
const TYPES: &[&str] = &["boolean", "date", "integer", "number", "string"];
const FORMATS: &[&str] = &[
    "byte",
    "date",
    "date-time",
    "double",
    "float",
    "int32",
    "int64",
    "password",
];

/// Errors for the column list at `path` (`spec.additionalPrinterColumns` or
/// `spec.versions[i].additionalPrinterColumns`).
pub(super) fn errors(columns: &[Value], path: &str) -> Vec<FieldError> {
    columns
        .iter()
        .enumerate()
        .flat_map(|(index, column)| column_errors(column, &format!("{path}[{index}]")))
        .collect()
}

/// One column. The path segment for the JSON path is upstream's internal
/// field name `JSONPath`, not the v1 key `jsonPath`.
fn column_errors(column: &Value, path: &str) -> Vec<FieldError> {
    let mut errors = Vec::new();
    if text(column, "name").is_empty() {
        errors.push(FieldError::required(format!("{path}.name"), ""));
    }
    let types = format!("must be one of {}", TYPES.join(","));
    match text(column, "type") {
        "" => errors.push(FieldError::required(format!("{path}.type"), types)),
        known if TYPES.contains(&known) => {}
        other => errors.push(FieldError::invalid(
            format!("{path}.type"),
            json!(other),
            types,
        )),
    }
    let format = text(column, "format");
    if !format.is_empty() && !FORMATS.contains(&format) {
        errors.push(FieldError::invalid(
            format!("{path}.format"),
            json!(format),
            format!("must be one of {}", FORMATS.join(",")),
        ));
    }
    let json_path = text(column, "jsonPath");
    let field = format!("{path}.JSONPath");
    if json_path.is_empty() {
        errors.push(FieldError::required(field, ""));
    } else {
        errors.extend(simple_json_path_errors(json_path, &field));
    }
    errors
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rendered(columns: Value) -> Vec<String> {
        let columns = columns.as_array().cloned().unwrap_or_default();
        errors(&columns, "spec.additionalPrinterColumns")
            .iter()
            .map(ToString::to_string)
            .collect()
    }

    #[test]
    fn empty_column_lists_what_is_required() {
        assert_eq!(
            rendered(json!([{}])),
            [
                "spec.additionalPrinterColumns[0].name: Required value",
                "spec.additionalPrinterColumns[0].type: Required value: must be one of boolean,date,integer,number,string",
                "spec.additionalPrinterColumns[0].JSONPath: Required value",
            ]
        );
    }

    #[test]
    fn type_format_and_path_are_checked() {
        assert_eq!(
            rendered(json!([{"name": "Age", "type": "int", "format": "uuid", "jsonPath": "spec.age"}])),
            [
                "spec.additionalPrinterColumns[0].type: Invalid value: \"int\": must be one of boolean,date,integer,number,string",
                "spec.additionalPrinterColumns[0].format: Invalid value: \"uuid\": must be one of byte,date,date-time,double,float,int32,int64,password",
                "spec.additionalPrinterColumns[0].JSONPath: Invalid value: \"spec.age\": must be a simple json path starting with .",
            ]
        );
    }

    #[test]
    fn good_column_passes() {
        assert!(rendered(
            json!([{"name": "Replicas", "type": "integer", "format": "int32",
            "jsonPath": ".spec.replicas", "priority": 1}])
        )
        .is_empty());
    }
}
