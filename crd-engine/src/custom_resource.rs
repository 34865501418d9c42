//! How one served version of a CRD behaves: the strategy its resources are
//! served with. Everything is compiled when the CRD is (re)registered, never
//! per request: the schema, its CEL rules, the printer columns' and
//! selectable fields' paths, the scale paths.

use std::borrow::Cow;
use std::sync::Arc;

use apiserver::error::ApiError;
use apiserver::resource::{
    age_cell, age_since, Column, ScaleSelector, ScaleSpec, SelectableField, Strategy, AGE_COLUMN,
};
use apiserver::validation::{FieldError, FieldErrorKind};
use serde_json::{json, Value};

use crate::cel::Rules;
use crate::conversion::Conversion;
use crate::jsonpath::{self, JsonPath};
use crate::schema::Schema;

/// One printer column and where its cells come from.
pub struct PrinterColumn {
    pub column: Column,
    pub path: JsonPath,
}

/// The strategy of one served version of a CRD.
pub struct CustomResourceStrategy {
    /// `group/version` of this version, and of the storage version.
    pub api_version: String,
    pub storage_api_version: String,
    pub schema: Arc<Schema>,
    pub schema_json: Value,
    pub rules: Arc<Rules>,
    pub has_status: bool,
    pub scale: Option<ScaleSpec>,
    pub columns: Vec<PrinterColumn>,
    pub selectable: Vec<(String, JsonPath)>,
    /// The Warning a deprecated version answers every request with.
    pub deprecation: Option<String>,
    /// The CRD is being deleted: no new objects.
    pub terminating: bool,
    pub kind: String,
    /// How objects move between this version and the storage version.
    pub conversion: Arc<Conversion>,
}

impl CustomResourceStrategy {
    /// `object` in `desired` (`group/version`).
    fn convert(&self, object: Value, desired: &str) -> Result<Value, ApiError> {
        let from = object
            .get("apiVersion")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        let gvk = format!("{from}, Kind={}", self.kind);
        self.conversion.convert(object, desired, &gvk)
    }
}

impl CustomResourceStrategy {
    /// Schema first; the CEL rules only run on values of the types they
    /// were compiled for, so a wrong type or an unsupported enum value
    /// holds them back, with upstream's cause saying so.
    fn check(&self, object: &Value, old: Option<&Value>) -> Vec<FieldError> {
        let mut errors = self.schema.validate(object);
        if self.rules.is_empty() {
            return errors;
        }
        let blocking = errors.iter().any(|e| {
            matches!(
                e.kind,
                FieldErrorKind::TypeInvalid | FieldErrorKind::NotSupported
            )
        });
        if blocking {
            errors.push(FieldError::invalid(
                "<nil>",
                Value::Null,
                "some validation rules were not checked because the object was invalid; correct the existing errors to complete validation",
            ));
        } else {
            errors.extend(self.rules.validate(object, old));
        }
        errors
    }
}

impl Strategy for CustomResourceStrategy {
    fn prepare_for_create(&self, object: &mut Value) {
        if self.has_status {
            // Status is written through /status only.
            if let Some(map) = object.as_object_mut() {
                map.remove("status");
            }
        }
        self.schema.apply_defaults(object);
    }

    fn prepare_for_update(&self, object: &mut Value, _old: &Value) {
        self.schema.apply_defaults(object);
    }

    fn validate(&self, object: &Value) -> Vec<FieldError> {
        self.check(object, None)
    }

    fn validate_update(&self, object: &Value, old: &Value) -> Vec<FieldError> {
        self.check(object, Some(old))
    }

    fn tracks_generation(&self) -> bool {
        true
    }

    fn generation_part(&self, object: &Value) -> Value {
        // Without the status subresource, status is content like any other.
        let mut part = object.clone();
        if let Some(map) = part.as_object_mut() {
            map.remove("metadata");
            if self.has_status {
                map.remove("status");
            }
        }
        part
    }

    fn columns(&self) -> Vec<Column> {
        if self.columns.is_empty() {
            return vec![AGE_COLUMN];
        }
        self.columns.iter().map(|c| c.column.clone()).collect()
    }

    fn cells(&self, object: &Value) -> Vec<Value> {
        if self.columns.is_empty() {
            return vec![age_cell(object)];
        }
        self.columns
            .iter()
            .map(|c| cell(&c.column.type_, c.path.first(object)))
            .collect()
    }

    fn to_stored(&self, object: Value) -> Result<Value, ApiError> {
        self.convert(object, &self.storage_api_version)
    }

    fn read_stored(&self, stored: Value) -> Result<Value, ApiError> {
        // Defaults of this version apply to what is read, as upstream.
        let mut object = self.convert(stored, &self.api_version)?;
        self.schema.apply_defaults(&mut object);
        Ok(object)
    }

    fn rewrites_stored(&self) -> bool {
        true
    }

    fn storage_api_version(&self) -> Option<String> {
        Some(self.storage_api_version.clone())
    }

    fn selectable_fields(&self, object: &Value) -> Vec<SelectableField> {
        self.selectable
            .iter()
            .map(|(name, path)| {
                let value = path.first(object).map(jsonpath::print).unwrap_or_default();
                (Cow::Owned(name.clone()), value)
            })
            .collect()
    }

    fn prune(&self, object: &mut Value) -> Option<Vec<String>> {
        Some(self.schema.prune(object))
    }

    fn openapi_schema(&self) -> Option<&Value> {
        Some(&self.schema_json)
    }

    fn scale(&self) -> Option<ScaleSpec> {
        self.scale.clone()
    }

    fn hidden_verbs(&self) -> &'static [&'static str] {
        // Upstream's discovery of a terminating CRD's resources; update and
        // patch stay served so finalizers can still be removed.
        if self.terminating {
            &["create", "patch", "update"]
        } else {
            &[]
        }
    }

    fn refusal(&self, verb: &str) -> Option<String> {
        (self.terminating && verb == "create").then(|| {
            "create not allowed while custom resource definition is terminating".to_string()
        })
    }

    fn deprecation_warning(&self) -> Option<String> {
        self.deprecation.clone()
    }
}

/// A printer column's cell, as upstream's table convertor makes it: the
/// first value the path reaches, in the column's type (dates as ages).
fn cell(type_: &str, value: Option<&Value>) -> Value {
    let Some(value) = value else {
        return Value::Null;
    };
    match type_ {
        "integer" => value
            .as_i64()
            .or_else(|| value.as_f64().map(|f| f as i64))
            .map_or(Value::Null, |n| json!(n)),
        "number" => value.as_f64().map_or(Value::Null, |n| json!(n)),
        "boolean" => value.as_bool().map_or(Value::Null, |b| json!(b)),
        "date" => match value.as_str() {
            Some(text) => json!(age_since(text).unwrap_or_else(|| "<invalid>".into())),
            None => Value::Null,
        },
        _ => json!(jsonpath::print(value)),
    }
}

/// Builds the `/scale` view's paths from a CRD's `subresources.scale`.
pub fn scale_spec(scale: &Value) -> Option<ScaleSpec> {
    let pointer = |field: &str| {
        scale
            .get(field)
            .and_then(Value::as_str)
            .and_then(|p| JsonPath::parse(p).ok())
            .and_then(|p| p.to_pointer())
    };
    Some(ScaleSpec {
        spec_replicas: pointer("specReplicasPath")?,
        status_replicas: pointer("statusReplicasPath")?,
        selector: match pointer("labelSelectorPath") {
            Some(p) => ScaleSelector::StringAt(p),
            None => ScaleSelector::None,
        },
    })
}

/// The printer columns of a CRD version (`additionalPrinterColumns`).
/// Columns whose path does not parse were refused when the CRD was
/// validated; they are skipped here.
pub fn printer_columns(version: &Value) -> Vec<PrinterColumn> {
    let Some(columns) = version
        .get("additionalPrinterColumns")
        .and_then(Value::as_array)
    else {
        return Vec::new();
    };
    columns
        .iter()
        .filter_map(|c| {
            let text = |f: &str| {
                c.get(f)
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string()
            };
            let path = JsonPath::parse(&text("jsonPath")).ok()?;
            Some(PrinterColumn {
                column: Column {
                    name: Cow::Owned(text("name")),
                    type_: Cow::Owned(text("type")),
                    format: Cow::Owned(text("format")),
                    description: Cow::Owned(text("description")),
                    priority: c.get("priority").and_then(Value::as_u64).unwrap_or(0) as u32,
                },
                path,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_follow_the_column_type() {
        assert_eq!(cell("integer", Some(&json!(3.0))), json!(3));
        assert_eq!(cell("string", Some(&json!(3))), json!("3"));
        assert_eq!(cell("boolean", Some(&json!("x"))), Value::Null);
        assert_eq!(cell("date", Some(&json!("nonsense"))), json!("<invalid>"));
        assert_eq!(cell("string", None), Value::Null);
    }

    #[test]
    fn scale_paths_become_pointers() {
        let spec = scale_spec(&json!({
            "specReplicasPath": ".spec.replicas",
            "statusReplicasPath": ".status.replicas",
            "labelSelectorPath": ".status.labelSelector"
        }))
        .unwrap();
        assert_eq!(spec.spec_replicas, "/spec/replicas");
        assert_eq!(
            spec.selector,
            ScaleSelector::StringAt("/status/labelSelector".into())
        );
    }
}
