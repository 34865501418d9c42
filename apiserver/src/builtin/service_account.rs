//! core/v1 ServiceAccounts: no rules of their own beyond the table.

use serde_json::{json, Value};

use super::array_at;
use crate::resource::{age_cell, Column, Strategy, AGE_COLUMN};

/// core/v1 ServiceAccounts.
pub struct ServiceAccountStrategy;

impl Strategy for ServiceAccountStrategy {
    fn columns(&self) -> Vec<Column> {
        vec![
            Column::new("Secrets", "string", "Secrets is a list of the secrets in the same namespace that pods running using this ServiceAccount are allowed to use. Pods are only limited to this list if this service account has a \"kubernetes.io/enforce-mountable-secrets\" annotation set to \"true\". The \"kubernetes.io/enforce-mountable-secrets\" annotation is deprecated since v1.32. Prefer separate namespaces to isolate access to mounted secrets. This field should not be used to find auto-generated service account token secrets for use outside of pods. Instead, tokens can be requested directly using the TokenRequest API, or service account token secrets can be manually created. More info: https://kubernetes.io/docs/concepts/configuration/secret"),
            AGE_COLUMN,
        ]
    }

    fn cells(&self, object: &Value) -> Vec<Value> {
        vec![json!(array_at(object, "/secrets").len()), age_cell(object)]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_counts_secrets() {
        let sa = json!({"secrets": [{"name": "a"}, {"name": "b"}]});
        assert_eq!(ServiceAccountStrategy.cells(&sa)[0], json!(2));
        assert_eq!(ServiceAccountStrategy.cells(&json!({}))[0], json!(0));
    }
}
