//! The v1 CRD seen as upstream's internal form, which is what upstream
//! validates and so what its error paths name.
//!
//! Converting v1 to internal looks at four per-version fields one at a time:
//! when a field is equal in every version (absent counts as a value), it moves
//! to the top level (`spec.validation`, `spec.subresources`,
//! `spec.additionalPrinterColumns`, `spec.selectableFields`) and is cleared in
//! every version. Each field decides alone, so a CRD whose versions share
//! selectable fields but not schemas ends with top-level selectable fields and
//! per-version schemas; upstream then rejects it (kubernetes#140689), and so
//! do we.

use serde_json::Value;

use super::{list, present, text, SchemaLocation};

/// One version after hoisting: the fields that moved to the top level are
/// `None`/empty here.
pub(super) struct Version<'a> {
    pub name: &'a str,
    pub raw: &'a Value,
    pub served: bool,
    pub storage: bool,
    /// The `schema` wrapper (holding `openAPIV3Schema`), if kept per version.
    pub schema: Option<&'a Value>,
    pub subresources: Option<&'a Value>,
    pub columns: &'a [Value],
    pub selectable_fields: &'a [Value],
}

pub(super) struct InternalForm<'a> {
    pub versions: Vec<Version<'a>>,
    /// The hoisted `schema` wrapper (upstream's `spec.validation`).
    pub schema: Option<&'a Value>,
    pub subresources: Option<&'a Value>,
    pub columns: &'a [Value],
    pub selectable_fields: &'a [Value],
}

impl<'a> InternalForm<'a> {
    pub fn of(crd: &'a Value) -> Self {
        let raw_versions = crd
            .pointer("/spec/versions")
            .and_then(Value::as_array)
            .map(Vec::as_slice)
            .unwrap_or(&[]);
        let mut form = InternalForm {
            versions: raw_versions.iter().map(Version::of).collect(),
            schema: None,
            subresources: None,
            columns: &[],
            selectable_fields: &[],
        };
        let Some(first) = raw_versions.first() else {
            return form;
        };
        let all_equal = |key: &str| {
            let normal = |v: &'a Value| normalized(v, key);
            raw_versions.iter().all(|v| normal(v) == normal(first))
        };
        if all_equal("schema") {
            form.schema = present(first, "schema");
            form.versions.iter_mut().for_each(|v| v.schema = None);
        }
        if all_equal("subresources") {
            form.subresources = present(first, "subresources");
            form.versions.iter_mut().for_each(|v| v.subresources = None);
        }
        if all_equal("additionalPrinterColumns") {
            form.columns = list(first, "additionalPrinterColumns");
            form.versions.iter_mut().for_each(|v| v.columns = &[]);
        }
        if all_equal("selectableFields") {
            form.selectable_fields = list(first, "selectableFields");
            form.versions
                .iter_mut()
                .for_each(|v| v.selectable_fields = &[]);
        }
        form
    }

    /// Whether every version has an openAPIV3Schema (through the top level or
    /// its own), upstream's `allVersionsSpecifyOpenAPISchema`.
    pub fn every_version_has_schema(&self) -> bool {
        has_open_api_schema(self.schema)
            || self.versions.iter().all(|v| has_open_api_schema(v.schema))
    }

    /// Whether any version has the status subresource.
    pub fn any_status_enabled(&self) -> bool {
        has_status(self.subresources) || self.versions.iter().any(|v| has_status(v.subresources))
    }

    /// Whether the given version has the status subresource, from its own
    /// subresources or the hoisted ones.
    pub fn status_enabled(&self, version: &Version) -> bool {
        has_status(version.subresources.or(self.subresources))
    }

    /// Whether any schema sets `default` anywhere (upstream's
    /// `specHasDefaults`).
    pub fn any_schema_has_default(&self) -> bool {
        std::iter::once(self.schema)
            .chain(self.versions.iter().map(|v| v.schema))
            .filter_map(open_api_schema)
            .any(|schema| schema_has(schema, &|s| present(s, "default").is_some()))
    }

    pub fn schema_locations(&self) -> Vec<SchemaLocation<'a>> {
        if let Some(schema) = open_api_schema(self.schema) {
            return vec![SchemaLocation {
                path: "spec.validation.openAPIV3Schema".into(),
                schema,
                versions: self.versions.iter().map(|v| v.name.to_string()).collect(),
                status_enabled: self.any_status_enabled(),
            }];
        }
        self.versions
            .iter()
            .enumerate()
            .filter_map(|(index, version)| {
                Some(SchemaLocation {
                    path: format!("spec.versions[{index}].schema.openAPIV3Schema"),
                    schema: open_api_schema(version.schema)?,
                    versions: vec![version.name.to_string()],
                    status_enabled: self.status_enabled(version),
                })
            })
            .collect()
    }
}

impl<'a> Version<'a> {
    fn of(raw: &'a Value) -> Self {
        Version {
            name: text(raw, "name"),
            raw,
            served: raw.get("served").and_then(Value::as_bool).unwrap_or(false),
            storage: raw.get("storage").and_then(Value::as_bool).unwrap_or(false),
            schema: present(raw, "schema"),
            subresources: present(raw, "subresources"),
            columns: list(raw, "additionalPrinterColumns"),
            selectable_fields: list(raw, "selectableFields"),
        }
    }
}

/// A per-version field as upstream compares it: null is absent, and an empty
/// list equals an absent one.
fn normalized<'a>(version: &'a Value, key: &str) -> Option<&'a Value> {
    present(version, key).filter(|v| v.as_array().is_none_or(|items| !items.is_empty()))
}

/// The `openAPIV3Schema` inside a `schema` wrapper.
pub(super) fn open_api_schema(wrapper: Option<&Value>) -> Option<&Value> {
    wrapper.and_then(|w| present(w, "openAPIV3Schema"))
}

pub(super) fn has_open_api_schema(wrapper: Option<&Value>) -> bool {
    open_api_schema(wrapper).is_some()
}

pub(super) fn has_status(subresources: Option<&Value>) -> bool {
    subresources.is_some_and(|s| present(s, "status").is_some())
}

/// Whether `predicate` holds for the schema or any schema nested in it,
/// walking every place upstream's `SchemaHas` does.
pub(super) fn schema_has(schema: &Value, predicate: &dyn Fn(&Value) -> bool) -> bool {
    if !schema.is_object() {
        return false;
    }
    if predicate(schema) {
        return true;
    }
    let single = ["not", "additionalProperties", "additionalItems", "items"];
    let lists = ["allOf", "anyOf", "oneOf", "items"];
    let maps = [
        "properties",
        "patternProperties",
        "definitions",
        "dependencies",
    ];
    single
        .iter()
        .filter_map(|key| schema.get(*key))
        .any(|s| schema_has(s, predicate))
        || lists
            .iter()
            .filter_map(|key| schema.get(*key).and_then(Value::as_array))
            .flatten()
            .any(|s| schema_has(s, predicate))
        || maps
            .iter()
            .filter_map(|key| schema.get(*key).and_then(Value::as_object))
            .flat_map(|m| m.values())
            .any(|s| schema_has(s, predicate))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn crd(versions: Value) -> Value {
        json!({"spec": {"versions": versions}})
    }

    #[test]
    fn identical_fields_move_to_the_top_level() {
        let schema = json!({"openAPIV3Schema": {"type": "object"}});
        let crd = crd(json!([
            {"name": "v1", "schema": schema, "additionalPrinterColumns": []},
            {"name": "v2", "schema": schema},
        ]));
        let form = InternalForm::of(&crd);
        assert_eq!(form.schema, Some(&schema));
        assert!(form.versions.iter().all(|v| v.schema.is_none()));
        assert!(form.columns.is_empty());
    }

    #[test]
    fn differing_fields_stay_per_version() {
        let crd = crd(json!([
            {"name": "v1", "subresources": {"status": {}}},
            {"name": "v2"},
        ]));
        let form = InternalForm::of(&crd);
        assert!(form.subresources.is_none());
        assert!(form.status_enabled(&form.versions[0]));
        assert!(!form.status_enabled(&form.versions[1]));
        assert!(form.any_status_enabled());
    }

    #[test]
    fn schema_locations_follow_hoisting() {
        let one = crd(json!([{"name": "v1", "schema": {"openAPIV3Schema": {"type": "object"}}}]));
        let paths: Vec<String> = schema_locations_of(&one);
        assert_eq!(paths, ["spec.validation.openAPIV3Schema"]);
        let two = crd(json!([
            {"name": "v1", "schema": {"openAPIV3Schema": {"type": "object"}}},
            {"name": "v2", "schema": {"openAPIV3Schema": {"type": "object", "description": "x"}}},
        ]));
        assert_eq!(
            schema_locations_of(&two),
            [
                "spec.versions[0].schema.openAPIV3Schema",
                "spec.versions[1].schema.openAPIV3Schema"
            ]
        );
    }

    fn schema_locations_of(crd: &Value) -> Vec<String> {
        InternalForm::of(crd)
            .schema_locations()
            .into_iter()
            .map(|l| l.path)
            .collect()
    }

    #[test]
    fn schema_has_finds_nested_defaults() {
        let schema = json!({"properties": {"spec": {"items": {"default": 1}}}});
        assert!(schema_has(&schema, &|s| s.get("default").is_some()));
        let schema = json!({"properties": {"spec": {"type": "string"}}});
        assert!(!schema_has(&schema, &|s| s.get("default").is_some()));
    }
}
