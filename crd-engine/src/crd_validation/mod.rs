//! Defaulting and validation of the CustomResourceDefinition object itself
//! (apiextensions.k8s.io/v1), and the status conditions the CRD controllers
//! write, in upstream's words.
//!
//! Upstream validates the *internal* form of a CRD, which the v1 object is
//! converted into first. That conversion hoists every per-version field
//! (schema, subresources, additionalPrinterColumns, selectableFields) that is
//! identical in all versions to a top-level field, and copies the first
//! version's name to `spec.version`. A client sees the internal form in error
//! paths: a one-version CRD reports a bad printer column at
//! `spec.additionalPrinterColumns[0].type` and a schema problem under
//! `spec.validation.openAPIV3Schema`, never under `spec.versions[0]`.
//! [`internal_form`] reproduces the hoisting so every path here matches, and
//! [`schema_locations`] tells the schema and CEL validators which path and
//! context each schema is judged under.
//!
//! Not here: the openAPIV3Schema's own structural, value and CEL rules (other
//! modules return those; the caller concatenates), and generic metadata rules
//! (labels, annotations, immutable name), which the generic write path applies.
//! The rules here that read a schema are the ones upstream keys to
//! subresources or versions: the root-of-schema limits when the status
//! subresource is on, and where selectable fields may point.

mod approval;
mod columns;
mod conditions;
mod conversion;
mod defaults;
mod go_url;
mod internal_form;
mod names;
mod naming;
mod schema_root;
mod selectable_fields;
mod subresources;
mod versions;

use std::collections::BTreeSet;

use apiserver::validation::FieldError;
use serde_json::{json, Value};

pub use conditions::{
    find_condition, is_condition_true, remove_condition, set_condition, Condition, ConditionStatus,
    ESTABLISHED, NAMES_ACCEPTED, TERMINATING,
};
pub use defaults::{apply_defaults, prepare_for_create, prepare_for_update, storage_version};
pub use naming::{has_pending_names, names_accepted, ClaimedNames, NamesVerdict};

use internal_form::InternalForm;

/// Upstream's `ValidateCustomResourceDefinition` for a new CRD, without the
/// openAPIV3Schema's own rules (see the module doc).
///
/// Expects the object as upstream validates it: defaulted
/// ([`apply_defaults`]) and prepared ([`prepare_for_create`], which sets
/// `status.storedVersions`).
pub fn validate_create(crd: &Value) -> Vec<FieldError> {
    let form = InternalForm::of(crd);
    let rules = Rules::for_create();
    let mut errors = names::metadata_name_errors(crd);
    errors.extend(spec_errors(crd, &form, &rules));
    errors.extend(status_errors(crd));
    errors.extend(versions::stored_versions_errors(crd));
    errors.extend(approval::errors(crd, None));
    errors.extend(preserve_unknown_fields_errors(crd, None));
    errors
}

/// Upstream's `ValidateCustomResourceDefinitionUpdate`: the create rules
/// (loosened where the stored object already broke them, so an upgrade never
/// strands a CRD) plus the immutable fields.
///
/// Expects `new` after [`prepare_for_update`] (status carried over from `old`).
pub fn validate_update(new: &Value, old: &Value) -> Vec<FieldError> {
    let form = InternalForm::of(new);
    let old_form = InternalForm::of(old);
    let rules = Rules::for_update(&form, old, &old_form);
    let mut errors = spec_errors(new, &form, &rules);
    errors.extend(immutable_field_errors(new, old));
    errors.extend(status_errors(new));
    errors.extend(versions::stored_versions_errors(new));
    errors.extend(approval::errors(new, Some(old)));
    errors.extend(preserve_unknown_fields_errors(new, Some(old)));
    errors
}

/// Upstream's `ValidateUpdateCustomResourceDefinitionStatus`: a write to the
/// status subresource checks only the accepted names.
pub fn validate_status_update(new: &Value, _old: &Value) -> Vec<FieldError> {
    status_errors(new)
}

/// Where one openAPIV3Schema sits in upstream's internal form, for the schema
/// and CEL validators.
#[derive(Debug, Clone, PartialEq)]
pub struct SchemaLocation<'a> {
    /// The field path upstream reports the schema's errors under, e.g.
    /// `spec.validation.openAPIV3Schema` or
    /// `spec.versions[1].schema.openAPIV3Schema`.
    pub path: String,
    /// The schema (the value of `openAPIV3Schema`).
    pub schema: &'a Value,
    /// The versions this schema applies to.
    pub versions: Vec<String>,
    /// Whether a version using this schema has the status subresource.
    pub status_enabled: bool,
}

/// Every schema of the CRD with the path upstream judges it under: one
/// top-level schema when all versions share it, else one per version.
pub fn schema_locations(crd: &Value) -> Vec<SchemaLocation<'_>> {
    InternalForm::of(crd).schema_locations()
}

/// What upstream loosens on update when the stored object already broke a
/// newer rule (its `validationOptions`).
struct Rules {
    /// Every version must carry a schema.
    require_schema: bool,
    /// Webhook conversion must name a ConversionReview version we speak.
    require_recognized_review_version: bool,
    /// A caBundle that does not parse is let through.
    allow_invalid_ca_bundle: bool,
    /// Selectable-field lists ("" for the top level, else the version name)
    /// allowed past the limit because they were stored that way unchanged.
    oversized_selectable_fields: BTreeSet<String>,
}

impl Rules {
    fn for_create() -> Self {
        Rules {
            require_schema: true,
            require_recognized_review_version: true,
            // Not established yet, so nothing has used the bundle.
            allow_invalid_ca_bundle: true,
            oversized_selectable_fields: BTreeSet::new(),
        }
    }

    fn for_update(form: &InternalForm, old: &Value, old_form: &InternalForm) -> Self {
        Rules {
            require_schema: old_form.every_version_has_schema(),
            require_recognized_review_version: conversion::has_recognized_review_version_or_none(
                old,
            ),
            allow_invalid_ca_bundle: !is_condition_true(old, ESTABLISHED)
                || conversion::has_invalid_ca_bundle(old),
            oversized_selectable_fields: selectable_fields::unchanged_oversized(form, old_form),
        }
    }
}

/// Upstream's `validateCustomResourceDefinitionSpec`, in its order.
fn spec_errors(crd: &Value, form: &InternalForm, rules: &Rules) -> Vec<FieldError> {
    let spec = crd.get("spec").unwrap_or(&Value::Null);
    let mut errors = names::group_errors(spec);
    errors.extend(scope_errors(spec));
    errors.extend(versions::schema_presence_errors(
        form,
        rules.require_schema,
        preserves_unknown_fields(crd),
    ));
    if preserves_unknown_fields(crd) && form.any_schema_has_default() {
        errors.push(FieldError::invalid(
            "spec.preserveUnknownFields",
            json!(true),
            "must be false in order to use defaults in the schema",
        ));
    }
    for (index, version) in form.versions.iter().enumerate() {
        errors.extend(versions::version_errors(form, index, version, rules));
    }
    errors.extend(versions::set_errors(form));
    errors.extend(names::spec_names_errors(spec));
    errors.extend(schema_root::errors(
        form.schema,
        form.any_status_enabled(),
        "spec.validation",
    ));
    errors.extend(subresources::errors(form.subresources, "spec.subresources"));
    errors.extend(columns::errors(
        form.columns,
        "spec.additionalPrinterColumns",
    ));
    errors.extend(selectable_fields::top_level_errors(form, rules));
    errors.extend(conversion::errors(crd, rules));
    errors
}

fn scope_errors(spec: &Value) -> Vec<FieldError> {
    match text(spec, "scope") {
        "" => vec![FieldError::required("spec.scope", "")],
        "Cluster" | "Namespaced" => Vec::new(),
        other => vec![FieldError::not_supported(
            "spec.scope",
            json!(other),
            &["Cluster", "Namespaced"],
        )],
    }
}

/// Upstream's `ValidateCustomResourceDefinitionStatus`: accepted names obey
/// the same shape rules as requested ones.
fn status_errors(crd: &Value) -> Vec<FieldError> {
    let accepted = crd.pointer("/status/acceptedNames").unwrap_or(&Value::Null);
    names::names_errors(accepted, "status.acceptedNames")
}

/// The fields no update may change, and those that freeze once the CRD is
/// established (they decide where and how objects are stored).
fn immutable_field_errors(new: &Value, old: &Value) -> Vec<FieldError> {
    let mut checked = Vec::new();
    if is_condition_true(old, ESTABLISHED) {
        checked.push(("spec.scope", "/spec/scope"));
        checked.push(("spec.names.kind", "/spec/names/kind"));
    }
    checked.push(("spec.group", "/spec/group"));
    checked.push(("spec.names.plural", "/spec/names/plural"));
    checked
        .into_iter()
        .filter_map(|(field, pointer)| {
            let now = new.pointer(pointer).and_then(Value::as_str).unwrap_or("");
            let before = old.pointer(pointer).and_then(Value::as_str).unwrap_or("");
            (now != before).then(|| FieldError::invalid(field, json!(now), "field is immutable"))
        })
        .collect()
}

/// `spec.preserveUnknownFields: true` is a v1beta1 leftover: kept where it was
/// stored, refused anywhere new.
fn preserve_unknown_fields_errors(crd: &Value, old: Option<&Value>) -> Vec<FieldError> {
    if old.is_some_and(preserves_unknown_fields) || !preserves_unknown_fields(crd) {
        return Vec::new();
    }
    vec![FieldError::invalid(
        "spec.preserveUnknownFields",
        json!(true),
        "cannot set to true, set x-kubernetes-preserve-unknown-fields to true in spec.versions[*].schema instead",
    )]
}

fn preserves_unknown_fields(crd: &Value) -> bool {
    crd.pointer("/spec/preserveUnknownFields")
        .and_then(Value::as_bool)
        .unwrap_or(false)
}

/// A string field of an object, "" when absent or not a string (upstream's
/// zero value).
fn text<'a>(object: &'a Value, key: &str) -> &'a str {
    object.get(key).and_then(Value::as_str).unwrap_or("")
}

/// A field that is present and not null (upstream's non-nil pointer).
fn present<'a>(object: &'a Value, key: &str) -> Option<&'a Value> {
    object.get(key).filter(|v| !v.is_null())
}

/// A list field, empty when absent (upstream treats nil and empty alike).
fn list<'a>(object: &'a Value, key: &str) -> &'a [Value] {
    object
        .get(key)
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or(&[])
}

#[cfg(test)]
mod tests;
