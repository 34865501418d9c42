//! `x-kubernetes-validations`: the CEL rules of a CRD version's schema,
//! compiled once when the CRD is stored and run on every create and update
//! of its custom resources, as upstream's apiextensions-apiserver does.
//!
//! - [`schema`] reads the parts of the openAPIV3Schema rules depend on;
//! - [`compile`] checks each rule's fields and compiles its expressions,
//!   with [`checker`] standing in for cel-go's type checker;
//! - [`values`] turns JSON into CEL values typed by the schema;
//! - [`evaluate`] walks an object and its old version and runs the rules;
//! - [`library`] is the CEL environment, with the Kubernetes functions.
//!
//! Not modelled: the cost budget (estimated at compile time and metered at
//! run time upstream), ratcheting of unchanged values, and rules inside
//! `anyOf`/`oneOf` or nested below `allOf`.

mod checker;
mod compile;
mod evaluate;
mod library;
mod schema;
mod values;

use apiserver::validation::FieldError;
use schema::Node;
use serde_json::Value;

/// Every `x-kubernetes-validations` rule of one CRD version's
/// openAPIV3Schema, compiled.
#[derive(Debug)]
pub struct Rules {
    root: Node,
}

impl Rules {
    /// Compiles every rule in `schema` (a JSONSchemaProps as JSON). Errors
    /// carry upstream's paths, starting at `base_path` (such as
    /// `spec.versions[0].schema.openAPIV3Schema`), and wording, e.g.
    /// `…properties[spec].x-kubernetes-validations[0].rule: Invalid value:
    /// "self.x": compilation failed: ERROR: <input>:1:5: undefined field 'x'`.
    pub fn compile(schema: &Value, base_path: &str) -> Result<Rules, Vec<FieldError>> {
        let mut root = Node::parse(schema, true);
        let mut compiler = compile::Compiler { errors: Vec::new() };
        compiler.attach(&mut root, schema, base_path, None);
        if compiler.errors.is_empty() {
            Ok(Rules { root })
        } else {
            Err(compiler.errors)
        }
    }

    /// Whether the schema has no rules, so validation can be skipped.
    pub fn is_empty(&self) -> bool {
        !self.root.has_rules
    }

    /// Runs every rule against `object`; `old` is the stored object on
    /// update. Transition rules (naming `oldSelf`) run only where an old
    /// value correlates with the new one, unless `optionalOldSelf` is set.
    /// Returns one error per failing rule; an error at the object's root
    /// has upstream's `<nil>` path.
    pub fn validate(&self, object: &Value, old: Option<&Value>) -> Vec<FieldError> {
        let mut errors = Vec::new();
        evaluate::walk(&self.root, "", object, old, &mut errors);
        errors
    }
}

#[cfg(test)]
mod tests;
