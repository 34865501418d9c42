//! The OpenAPI v3 schema of one custom resource version, compiled once and
//! then used on every request: pruning unknown fields, applying defaults
//! and validating, each as apiextensions-apiserver does, with upstream's
//! field paths and messages.
//!
//! Compiling checks what apiextensions checks of a v1 CRD schema (the
//! OpenAPI rules, structural schema rules, and that defaults are pruned and
//! valid), so a schema that compiles is structural. The
//! `x-kubernetes-validations` (CEL) rules are accepted here and evaluated
//! elsewhere.
//!
//! Validation is a walker written for kube-openapi's semantics rather than
//! a general JSON Schema engine: mapping a generic engine's errors back to
//! kube-openapi's names, messages and quirks would be lossier than walking
//! the (structural, hence simple) schema directly.

mod defaults;
mod embedded;
mod formats;
mod list_type;
mod messages;
mod node;
mod openapi_rules;
mod pattern;
mod prune;
mod structural;
mod validate;

#[cfg(test)]
mod tests;

use apiserver::validation::FieldError;
use serde_json::Value;

use messages::Root;
use node::Node;

/// A compiled `openAPIV3Schema`. Immutable and `Send + Sync`; share it in an
/// `Arc` between requests.
#[derive(Debug, Clone)]
pub struct Schema {
    root: Node,
}

impl Schema {
    /// Checks `schema` as apiextensions validates a v1 CRD version's
    /// `openAPIV3Schema` and compiles it. Every violation comes back as a
    /// field error under `base_path` (e.g.
    /// `spec.versions[0].schema.openAPIV3Schema`): structural errors first
    /// (sorted, as upstream sorts them), then default errors, then the
    /// OpenAPI rule errors.
    pub fn compile(schema: &Value, base_path: &str) -> Result<Schema, Vec<FieldError>> {
        let mut errors = structural::check(schema, base_path);
        let root = Node::build(schema);
        if errors.is_empty() {
            errors.extend(defaults::check(&root, base_path));
        }
        errors.extend(openapi_rules::check(schema, base_path));
        if errors.is_empty() {
            Ok(Schema { root })
        } else {
            Err(errors)
        }
    }

    /// Drops the fields the schema does not specify, keeping `apiVersion`,
    /// `kind` and `metadata` of the resource and of embedded resources, and
    /// everything under `x-kubernetes-preserve-unknown-fields`. Returns the
    /// dropped paths, sorted, as upstream names them in
    /// `unknown field "spec.foo"` (e.g. `spec.foo`, `spec.items[0].bar`).
    pub fn prune(&self, object: &mut Value) -> Vec<String> {
        prune::prune(object, &self.root, true)
    }

    /// Applies the schema's defaults in place: non-nullable `null`s without
    /// a default are removed, then missing properties (and non-nullable
    /// `null`s) get their defaults, all the way down through array items
    /// and `additionalProperties`.
    pub fn apply_defaults(&self, object: &mut Value) {
        defaults::apply(object, &self.root);
    }

    /// Validates a whole custom resource: the schema's value validations
    /// (kube-openapi), then embedded resources' `apiVersion`/`kind`/
    /// `metadata`, then `x-kubernetes-list-type` uniqueness, one field error
    /// per violation. The resource's own ObjectMeta is the generic path's to
    /// validate; only what the schema says of `metadata.name` and
    /// `metadata.generateName` is checked here.
    pub fn validate(&self, object: &Value) -> Vec<FieldError> {
        let mut errors = Vec::new();
        validate::validate(&self.root, object, "", Root { base: None }, &mut errors);
        embedded::validate("", object, &self.root, false, &mut errors);
        if let Value::Object(map) = object {
            list_type::validate("", map, &self.root, &mut errors);
        }
        errors
    }
}
