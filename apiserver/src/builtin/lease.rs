//! coordination.k8s.io/v1 Leases, the records leader election writes.

use serde_json::{json, Value};

use super::str_at;
use crate::resource::{age_cell, Column, Strategy, AGE_COLUMN};
use crate::validation::FieldError;

/// coordination.k8s.io/v1 Leases.
pub struct LeaseStrategy;

impl Strategy for LeaseStrategy {
    /// Upstream `ValidateLeaseSpec`: durations positive, transitions not
    /// negative.
    fn validate(&self, object: &Value) -> Vec<FieldError> {
        let mut errors = Vec::new();
        let number = |field: &str| {
            object
                .pointer(&format!("/spec/{field}"))
                .and_then(Value::as_i64)
        };
        if let Some(seconds) = number("leaseDurationSeconds").filter(|s| *s <= 0) {
            errors.push(FieldError::invalid(
                "spec.leaseDurationSeconds",
                json!(seconds),
                "must be greater than 0",
            ));
        }
        if let Some(count) = number("leaseTransitions").filter(|c| *c < 0) {
            errors.push(FieldError::invalid(
                "spec.leaseTransitions",
                json!(count),
                "must be greater than or equal to 0",
            ));
        }
        errors
    }

    fn columns(&self) -> Vec<Column> {
        vec![
            Column::new("Holder", "string", "holderIdentity contains the identity of the holder of a current lease. If Coordinated Leader Election is used, the holder identity must be equal to the elected LeaseCandidate.metadata.name field."),
            AGE_COLUMN,
        ]
    }

    fn cells(&self, object: &Value) -> Vec<Value> {
        vec![
            json!(str_at(object, "/spec/holderIdentity")),
            age_cell(object),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn holder_is_shown_and_durations_checked() {
        let lease = json!({"spec": {"holderIdentity": "node-1", "leaseDurationSeconds": 0}});
        assert_eq!(LeaseStrategy.cells(&lease)[0], "node-1");
        let errors = LeaseStrategy.validate(&lease);
        assert_eq!(
            errors[0].to_string(),
            "spec.leaseDurationSeconds: Invalid value: 0: must be greater than 0"
        );
        assert_eq!(LeaseStrategy.cells(&json!({}))[0], "");
    }
}
