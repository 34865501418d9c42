//! The CustomResourceDefinition resource itself (apiextensions.k8s.io/v1):
//! its descriptor and strategy. What a CRD makes the server serve is the
//! controller's business ([`crate::controller`]).

use std::borrow::Cow;
use std::sync::Arc;

use apiserver::object;
use apiserver::resource::{Column, ResourceDescriptor, Strategy, AGE_COLUMN, ALL_VERBS};
use apiserver::validation::FieldError;
use serde_json::{json, Value};

use crate::cel::Rules;
use crate::crd_validation::{self, Condition, ConditionStatus, TERMINATING};
use crate::schema::Schema;

pub const GROUP: &str = "apiextensions.k8s.io";
pub const VERSION: &str = "v1";
pub const PLURAL: &str = "customresourcedefinitions";

/// Keeps a CRD until its custom resources are gone, as upstream's.
pub const CLEANUP_FINALIZER: &str = "customresourcecleanup.apiextensions.k8s.io";

pub fn descriptor() -> ResourceDescriptor {
    ResourceDescriptor {
        group: GROUP.into(),
        version: VERSION.into(),
        kind: "CustomResourceDefinition".into(),
        plural: PLURAL.into(),
        singular: "customresourcedefinition".into(),
        short_names: vec!["crd".into(), "crds".into()],
        categories: vec!["api-extensions".into()],
        namespaced: false,
        verbs: ALL_VERBS.iter().map(|v| v.to_string()).collect(),
        has_status: true,
        storage_path: format!("{GROUP}/{PLURAL}"),
        strategy: Arc::new(DefinitionStrategy),
    }
}

pub struct DefinitionStrategy;

impl Strategy for DefinitionStrategy {
    fn prepare_for_create(&self, crd: &mut Value) {
        crd_validation::apply_defaults(crd);
        crd_validation::prepare_for_create(crd);
    }

    fn prepare_for_update(&self, crd: &mut Value, old: &Value) {
        crd_validation::apply_defaults(crd);
        crd_validation::prepare_for_update(crd, old);
    }

    fn validate(&self, crd: &Value) -> Vec<FieldError> {
        let mut errors = crd_validation::validate_create(crd);
        errors.extend(schema_errors(crd));
        errors
    }

    fn validate_update(&self, crd: &Value, old: &Value) -> Vec<FieldError> {
        let mut errors = crd_validation::validate_update(crd, old);
        errors.extend(schema_errors(crd));
        errors
    }

    fn tracks_generation(&self) -> bool {
        true
    }

    fn columns(&self) -> Vec<Column> {
        // Upstream's default table: the creation time as a date column,
        // described as AGE is.
        vec![Column {
            name: Cow::Borrowed("Created At"),
            type_: Cow::Borrowed("date"),
            ..AGE_COLUMN
        }]
    }

    fn cells(&self, crd: &Value) -> Vec<Value> {
        vec![json!(
            object::meta_str(crd, "creationTimestamp").unwrap_or_default()
        )]
    }

    fn prepare_for_delete(&self, crd: &mut Value) -> bool {
        // The first delete marks the CRD and hands it to the controller,
        // which deletes the custom resources, then the CRD.
        let finalizers = object::metadata_mut(crd)
            .entry("finalizers")
            .or_insert_with(|| json!([]));
        if let Some(list) = finalizers.as_array_mut() {
            if !list.iter().any(|f| f == CLEANUP_FINALIZER) {
                list.push(json!(CLEANUP_FINALIZER));
            }
        }
        let pending = Condition {
            type_: TERMINATING,
            status: ConditionStatus::True,
            reason: "InstanceDeletionPending".into(),
            message: "CustomResourceDefinition marked for deletion; CustomResource deletion will begin soon".into(),
        };
        crd_validation::set_condition(crd, &pending, &object::now_timestamp());
        true
    }
}

pub fn versions(crd: &Value) -> Vec<Value> {
    crd.pointer("/spec/versions")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default()
}

/// The schemas' own errors: structure, then CEL rules that do not compile,
/// each under the path upstream judges the schema at.
fn schema_errors(crd: &Value) -> Vec<FieldError> {
    let mut errors = Vec::new();
    for location in crd_validation::schema_locations(crd) {
        if let Err(e) = Schema::compile(location.schema, &location.path) {
            errors.extend(e);
            continue;
        }
        if let Err(e) = Rules::compile(location.schema, &location.path) {
            errors.extend(e);
        }
    }
    errors
}
