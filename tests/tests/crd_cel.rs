//! x-kubernetes-validations: CEL rules in a CRD's schema, evaluated on
//! create and update as upstream's apiextensions-apiserver does, with
//! `self`, `oldSelf` transition rules, `message`, `messageExpression`,
//! `fieldPath` and `reason`, and the Kubernetes CEL libraries CRD authors
//! use (strings, lists, regex, quantity, url, format). Rules that do not
//! compile make the CRD invalid.
//!
//! The text upstream puts between "Invalid value:" and the message changed
//! between releases (the schema type, then the value), so causes are
//! checked by field, reason and the message the rule gives.

mod crd_support;
mod support;

use crd_support::{assert_cause, causes, define, get, merge_patch, post};
use serde_json::{json, Value};
use support::{fails, ok, write_file, Backend, Cluster};

const GADGETS_CRD: &str = "gadgets.cel.example.com";
const NS: &str = "rules";

fn gadgets() -> String {
    format!("/apis/cel.example.com/v1/namespaces/{NS}/gadgets")
}

fn gadget_crd() -> String {
    r#"apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: gadgets.cel.example.com
spec:
  group: cel.example.com
  scope: Namespaced
  names: {plural: gadgets, singular: gadget, kind: Gadget}
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            required: [name, replicas, minReplicas, maxReplicas]
            x-kubernetes-validations:
            - rule: self.minReplicas <= self.replicas
              message: replicas must be greater than or equal to minReplicas
            - rule: self.replicas <= self.maxReplicas
              messageExpression: "'replicas ' + string(self.replicas) + ' exceeds maxReplicas ' + string(self.maxReplicas)"
              fieldPath: .replicas
              reason: FieldValueForbidden
            - rule: "!has(self.endpoint) || (isURL(self.endpoint) && url(self.endpoint).getScheme() == 'https')"
              message: endpoint must be an https URL
              fieldPath: .endpoint
            properties:
              name:
                type: string
                maxLength: 63
                x-kubernetes-validations:
                - rule: self == self.lowerAscii()
                  message: name must be lowercase
                - rule: "!format.dns1123Label().validate(self).hasValue()"
                  message: name must be a DNS label
              replicas: {type: integer}
              minReplicas: {type: integer}
              maxReplicas: {type: integer}
              serial:
                type: string
                maxLength: 64
                x-kubernetes-validations:
                - rule: self == oldSelf
                  message: serial is immutable
              memory:
                type: string
                maxLength: 32
                x-kubernetes-validations:
                - rule: isQuantity(self) && quantity(self).isLessThan(quantity('1Gi'))
                  message: memory must be a quantity below 1Gi
              tags:
                type: array
                maxItems: 10
                items: {type: string, maxLength: 32}
                x-kubernetes-validations:
                - rule: self.isSorted()
                  message: tags must be sorted
              version:
                type: string
                maxLength: 32
                x-kubernetes-validations:
                - rule: self.matches('^v[0-9]+$')
                - rule: self.find('[0-9]+') != '0'
                  message: version 0 is not allowed
              endpoint: {type: string, maxLength: 256}
"#
    .to_string()
}

/// A valid spec with `changes` merged in.
fn spec_with(changes: Value) -> Value {
    let mut spec = json!({
        "name": "gizmo",
        "replicas": 3,
        "minReplicas": 1,
        "maxReplicas": 5,
        "serial": "sn-001",
        "memory": "512Mi",
        "tags": ["alpha", "beta"],
        "version": "v2",
        "endpoint": "https://gizmo.example.com/api",
    });
    if let (Some(spec), Some(changes)) = (spec.as_object_mut(), changes.as_object()) {
        for (k, v) in changes {
            spec.insert(k.clone(), v.clone());
        }
    }
    spec
}

fn gadget(name: &str, spec: Value) -> Value {
    json!({
        "apiVersion": "cel.example.com/v1",
        "kind": "Gadget",
        "metadata": {"name": name},
        "spec": spec,
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cel_rules_validate_custom_resources() {
    let cluster = Cluster::start(Backend::Embedded, &[]).await;
    ok(&cluster, &["create", "namespace", NS]);
    define(&cluster, "gadget-crd.yaml", &gadget_crd(), GADGETS_CRD);
    a_resource_meeting_every_rule_is_stored(&cluster).await;
    each_broken_rule_is_a_cause_at_its_field(&cluster).await;
    transition_rules_compare_with_the_stored_object(&cluster).await;
    schema_errors_hold_back_the_rules(&cluster).await;
    kubectl_prints_the_rule_message(&cluster);
    rules_that_do_not_compile_make_the_crd_invalid(&cluster).await;
}

async fn a_resource_meeting_every_rule_is_stored(cluster: &Cluster) {
    let created = post(cluster, &gadgets(), &gadget("good", spec_with(json!({}))))
        .await
        .expect(201);
    assert_eq!(created["spec"]["serial"], "sn-001");
}

/// One object per broken rule: the cause sits at the rule's field (or its
/// fieldPath), with its reason, and carries message, messageExpression's
/// result, or upstream's "failed rule: RULE".
async fn each_broken_rule_is_a_cause_at_its_field(cluster: &Cluster) {
    let cases: Vec<(&str, Value, &str, &str, &str)> = vec![
        (
            "under-min",
            json!({"minReplicas": 4}),
            "spec",
            "FieldValueInvalid",
            "replicas must be greater than or equal to minReplicas",
        ),
        (
            "over-max",
            json!({"replicas": 9}),
            "spec.replicas",
            "FieldValueForbidden",
            "replicas 9 exceeds maxReplicas 5",
        ),
        (
            "plain-http",
            json!({"endpoint": "http://gizmo.example.com/api"}),
            "spec.endpoint",
            "FieldValueInvalid",
            "endpoint must be an https URL",
        ),
        (
            "not-a-url",
            json!({"endpoint": "gizmo"}),
            "spec.endpoint",
            "FieldValueInvalid",
            "endpoint must be an https URL",
        ),
        (
            "underscore",
            json!({"name": "giz_mo"}),
            "spec.name",
            "FieldValueInvalid",
            "name must be a DNS label",
        ),
        (
            "too-big",
            json!({"memory": "2Gi"}),
            "spec.memory",
            "FieldValueInvalid",
            "memory must be a quantity below 1Gi",
        ),
        (
            "not-a-quantity",
            json!({"memory": "lots"}),
            "spec.memory",
            "FieldValueInvalid",
            "memory must be a quantity below 1Gi",
        ),
        (
            "unsorted",
            json!({"tags": ["beta", "alpha"]}),
            "spec.tags",
            "FieldValueInvalid",
            "tags must be sorted",
        ),
        (
            "no-v",
            json!({"version": "x2"}),
            "spec.version",
            "FieldValueInvalid",
            "failed rule: self.matches('^v[0-9]+$')",
        ),
        (
            "zero",
            json!({"version": "v0"}),
            "spec.version",
            "FieldValueInvalid",
            "version 0 is not allowed",
        ),
    ];
    for (name, changes, field, reason, message) in cases {
        let response = post(cluster, &gadgets(), &gadget(name, spec_with(changes))).await;
        let status = response.expect_failure(422, "Invalid");
        let text = status["message"].as_str().unwrap_or_default();
        assert!(
            text.starts_with(&format!("Gadget.cel.example.com \"{name}\" is invalid: ")),
            "{text}"
        );
        assert_cause(&status, field, reason, |m| m.ends_with(message));
        assert_eq!(causes(&status).len(), 1, "{name}: {status}");
        get(cluster, &format!("{}/{name}", gadgets()))
            .await
            .expect_failure(404, "NotFound");
    }

    // A forbidden reason is worded as upstream's Forbidden error.
    let status = post(
        cluster,
        &gadgets(),
        &gadget("over-max-again", spec_with(json!({"replicas": 7}))),
    )
    .await
    .expect_failure(422, "Invalid");
    assert_cause(&status, "spec.replicas", "FieldValueForbidden", |m| {
        m == "Forbidden: replicas 7 exceeds maxReplicas 5"
    });

    // Every broken rule is reported, here two on one field.
    let status = post(
        cluster,
        &gadgets(),
        &gadget("shouty", spec_with(json!({"name": "Gizmo"}))),
    )
    .await
    .expect_failure(422, "Invalid");
    assert_cause(&status, "spec.name", "FieldValueInvalid", |m| {
        m.ends_with("name must be lowercase")
    });
    assert_cause(&status, "spec.name", "FieldValueInvalid", |m| {
        m.ends_with("name must be a DNS label")
    });
    assert_eq!(causes(&status).len(), 2, "{status}");
}

/// `oldSelf` rules are skipped on create and checked on update against
/// the stored value.
async fn transition_rules_compare_with_the_stored_object(cluster: &Cluster) {
    let path = format!("{}/good", gadgets());
    let status = merge_patch(cluster, &path, &json!({"spec": {"serial": "sn-999"}}))
        .await
        .expect_failure(422, "Invalid");
    assert_cause(&status, "spec.serial", "FieldValueInvalid", |m| {
        m.ends_with("serial is immutable")
    });
    let kept = get(cluster, &path).await.expect(200);
    assert_eq!(kept["spec"]["serial"], "sn-001");

    let changed = merge_patch(cluster, &path, &json!({"spec": {"replicas": 4}}))
        .await
        .expect(200);
    assert_eq!(changed["spec"]["replicas"], 4);
    assert_eq!(changed["spec"]["serial"], "sn-001");

    // Update rules see the new object too.
    let status = merge_patch(cluster, &path, &json!({"spec": {"replicas": 0}}))
        .await
        .expect_failure(422, "Invalid");
    assert_cause(&status, "spec", "FieldValueInvalid", |m| {
        m.ends_with("replicas must be greater than or equal to minReplicas")
    });
}

/// A schema error that blocks evaluation (a wrong type) stops the rules:
/// upstream adds one cause without a field saying so.
async fn schema_errors_hold_back_the_rules(cluster: &Cluster) {
    let status = post(
        cluster,
        &gadgets(),
        &gadget(
            "typed",
            spec_with(json!({"replicas": "three", "minReplicas": 9})),
        ),
    )
    .await
    .expect_failure(422, "Invalid");
    assert_cause(&status, "spec.replicas", "FieldValueTypeInvalid", |m| {
        m.contains("spec.replicas in body must be of type integer")
    });
    assert_cause(&status, "<nil>", "FieldValueInvalid", |m| {
        m.ends_with(
            "some validation rules were not checked because the object was invalid; correct the existing errors to complete validation",
        )
    });
    assert!(
        !causes(&status)
            .iter()
            .any(|(_, _, m)| m.contains("minReplicas")),
        "no rule ran: {status}"
    );
}

fn kubectl_prints_the_rule_message(cluster: &Cluster) {
    let manifest = format!(
        "apiVersion: cel.example.com/v1\nkind: Gadget\nmetadata: {{name: low, namespace: {NS}}}\nspec: {{name: low, replicas: 1, minReplicas: 2, maxReplicas: 5}}\n"
    );
    let refused = fails(
        cluster,
        &["apply", "-f", &write_file(cluster, "low.yaml", &manifest)],
    );
    assert!(
        refused.contains("The Gadget \"low\" is invalid: spec: "),
        "{refused}"
    );
    assert!(
        refused.contains("replicas must be greater than or equal to minReplicas"),
        "{refused}"
    );
}

/// A rule that does not compile (an unknown field) is a 422 on the CRD at
/// the rule's path; so is a message with a line break.
async fn rules_that_do_not_compile_make_the_crd_invalid(cluster: &Cluster) {
    let crd = |plural: &str, rules: Value| {
        json!({
            "apiVersion": "apiextensions.k8s.io/v1",
            "kind": "CustomResourceDefinition",
            "metadata": {"name": format!("{plural}.cel.example.com")},
            "spec": {
                "group": "cel.example.com",
                "scope": "Namespaced",
                "names": {"plural": plural, "singular": plural.trim_end_matches('s'), "kind": "Broken"},
                "versions": [{
                    "name": "v1", "served": true, "storage": true,
                    "schema": {"openAPIV3Schema": {
                        "type": "object",
                        "properties": {"spec": {
                            "type": "object",
                            "properties": {"size": {"type": "integer"}},
                            "x-kubernetes-validations": rules
                        }}
                    }}
                }]
            }
        })
    };
    let rule_path = "spec.validation.openAPIV3Schema.properties[spec].x-kubernetes-validations[0]";

    let status = post(
        cluster,
        "/apis/apiextensions.k8s.io/v1/customresourcedefinitions",
        &crd("brokens", json!([{"rule": "self.nope > 1"}])),
    )
    .await
    .expect_failure(422, "Invalid");
    assert_cause(
        &status,
        &format!("{rule_path}.rule"),
        "FieldValueInvalid",
        |m| m.contains("compilation failed: "),
    );

    let status = post(
        cluster,
        "/apis/apiextensions.k8s.io/v1/customresourcedefinitions",
        &crd(
            "lines",
            json!([{"rule": "self.size > 1", "message": "too\nsmall"}]),
        ),
    )
    .await
    .expect_failure(422, "Invalid");
    assert_cause(
        &status,
        &format!("{rule_path}.message"),
        "FieldValueInvalid",
        |m| m.ends_with("message must not contain line breaks"),
    );

    let status = post(
        cluster,
        "/apis/apiextensions.k8s.io/v1/customresourcedefinitions",
        &crd("numbers", json!([{"rule": "self.size + 1"}])),
    )
    .await
    .expect_failure(422, "Invalid");
    assert_cause(
        &status,
        &format!("{rule_path}.rule"),
        "FieldValueInvalid",
        |m| m.ends_with("cel expression must evaluate to a bool"),
    );
}
