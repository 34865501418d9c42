//! Custom resources checked against their version's OpenAPI v3 schema, as
//! upstream's apiextensions-apiserver does: each violated constraint is one
//! cause of a 422 Invalid, with upstream's field path and wording; defaults
//! from the schema fill in on create, update and read; unknown fields are
//! pruned, refused (`fieldValidation=Strict`, kubectl's default) or warned
//! about (`Warn`); and the Kubernetes extensions (int-or-string, nullable,
//! preserve-unknown-fields, embedded resources, list and map types) hold.

mod crd_support;
mod support;

use crd_support::{
    assert_cause, assert_exact_cause, causes, define, eventually, get, post, put, warnings, SETTLE,
};
use serde_json::{json, Value};
use support::{fails, get_json, ok, write_file, Backend, Cluster};

const WIDGETS_CRD: &str = "widgets.validation.example.com";
const NS: &str = "checks";

fn widgets() -> String {
    format!("/apis/validation.example.com/v1/namespaces/{NS}/widgets")
}

/// The Widget CRD: one field per constraint the tests break.
fn widget_crd() -> String {
    r#"apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: widgets.validation.example.com
spec:
  group: validation.example.com
  scope: Namespaced
  names: {plural: widgets, singular: widget, kind: Widget}
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
            required: [name, size]
            properties:
              name: {type: string, minLength: 3, maxLength: 12, pattern: '^[a-z][a-z0-9-]*$'}
              size: {type: string, enum: [small, medium, large]}
              replicas: {type: integer, minimum: 1, maximum: 10}
              ratio: {type: number, minimum: 0, maximum: 1, exclusiveMaximum: true}
              started: {type: string, format: date-time}
              address: {type: string, format: ipv4}
              tags:
                type: array
                minItems: 1
                maxItems: 3
                items: {type: string}
                x-kubernetes-list-type: set
              ports:
                type: array
                x-kubernetes-list-type: map
                x-kubernetes-list-map-keys: [name]
                items:
                  type: object
                  required: [name]
                  properties:
                    name: {type: string}
                    port: {type: integer}
              args:
                type: array
                x-kubernetes-list-type: atomic
                items: {type: string}
              labels:
                type: object
                minProperties: 1
                maxProperties: 2
                additionalProperties: {type: string}
              selector:
                type: object
                x-kubernetes-map-type: atomic
                properties:
                  app: {type: string}
              target:
                x-kubernetes-int-or-string: true
              note:
                type: string
                nullable: true
              extra:
                type: object
                x-kubernetes-preserve-unknown-fields: true
              template:
                type: object
                x-kubernetes-embedded-resource: true
                x-kubernetes-preserve-unknown-fields: true
              mode:
                type: string
                default: fast
              retries:
                type: integer
                default: 3
              policy:
                type: object
                default: {}
                properties:
                  action: {type: string, default: restart}
                  limit: {type: integer, default: 5}
          status:
            type: object
            properties:
              phase: {type: string}
"#
    .to_string()
}

/// A Widget named `name` with this spec, as JSON.
fn widget(name: &str, spec: Value) -> Value {
    json!({
        "apiVersion": "validation.example.com/v1",
        "kind": "Widget",
        "metadata": {"name": name},
        "spec": spec,
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn custom_resources_follow_their_openapi_schema() {
    let cluster = Cluster::start(Backend::Embedded, &[]).await;
    ok(&cluster, &["create", "namespace", NS]);
    define(&cluster, "widget-crd.yaml", &widget_crd(), WIDGETS_CRD);
    every_violation_is_one_cause_in_upstream_words(&cluster).await;
    each_constraint_is_checked_on_its_own(&cluster).await;
    kubectl_prints_the_invalid_sentence(&cluster);
    extensions_shape_what_is_accepted_and_kept(&cluster).await;
    defaults_fill_in_on_create_update_and_read(&cluster).await;
    unknown_fields_are_pruned_refused_or_warned_about(&cluster).await;
}

/// One object breaking nine constraints: a 422 Invalid naming the
/// object, with exactly one cause per violation.
async fn every_violation_is_one_cause_in_upstream_words(cluster: &Cluster) {
    let bad = widget(
        "bad",
        json!({
            "name": "ab",
            "size": "huge",
            "replicas": 11,
            "ratio": 1,
            "started": "yesterday",
            "tags": ["a", "b", "c", "d"],
            "labels": {},
            "target": true,
            "ports": [{"name": "http", "port": 80}, {"name": "http", "port": 81}],
        }),
    );
    let response = post(cluster, &widgets(), &bad).await;
    let status = response.expect_failure(422, "Invalid");
    let message = status["message"].as_str().unwrap_or_default();
    assert!(
        message.starts_with("Widget.validation.example.com \"bad\" is invalid: "),
        "{message}"
    );
    assert_eq!(status["details"]["name"], "bad");
    assert_eq!(status["details"]["group"], "validation.example.com");
    assert_eq!(status["details"]["kind"], "Widget");
    assert_eq!(
        causes(&status).len(),
        9,
        "one cause per violation: {status}"
    );
    assert_exact_cause(
        &status,
        "spec.name",
        "FieldValueInvalid",
        "Invalid value: \"ab\": spec.name in body should be at least 3 chars long",
    );
    assert_exact_cause(
        &status,
        "spec.size",
        "FieldValueNotSupported",
        "Unsupported value: \"huge\": supported values: \"small\", \"medium\", \"large\"",
    );
    assert_exact_cause(
        &status,
        "spec.replicas",
        "FieldValueInvalid",
        "Invalid value: 11: spec.replicas in body should be less than or equal to 10",
    );
    assert_exact_cause(
        &status,
        "spec.ratio",
        "FieldValueInvalid",
        "Invalid value: 1: spec.ratio in body should be less than 1",
    );
    assert_exact_cause(
        &status,
        "spec.started",
        "FieldValueTypeInvalid",
        "Invalid value: \"yesterday\": spec.started in body must be of type date-time: \"yesterday\"",
    );
    assert_exact_cause(
        &status,
        "spec.tags",
        "FieldValueTooMany",
        "Too many: 4: must have at most 3 items",
    );
    assert_cause(&status, "spec.labels", "FieldValueInvalid", |m| {
        m.ends_with("spec.labels in body should have at least 1 properties")
    });
    assert_cause(&status, "spec.target", "FieldValueTypeInvalid", |m| {
        m.contains("spec.target in body must be of type integer,string")
    });
    assert_cause(&status, "spec.ports[1]", "FieldValueDuplicate", |m| {
        m.starts_with("Duplicate value: ") && m.contains("http")
    });
    get(cluster, &format!("{}/bad", widgets()))
        .await
        .expect_failure(404, "NotFound");
}

/// The remaining constraints, one object each.
async fn each_constraint_is_checked_on_its_own(cluster: &Cluster) {
    let base = json!({"name": "okay", "size": "small"});
    let with = |changes: Value| {
        let mut spec = base.clone();
        if let (Some(spec), Some(changes)) = (spec.as_object_mut(), changes.as_object()) {
            for (k, v) in changes {
                spec.insert(k.clone(), v.clone());
            }
        }
        spec
    };
    let cases: Vec<(&str, Value, &str, &str, &str)> = vec![
        (
            "short-pattern",
            with(json!({"name": "Abc"})),
            "spec.name",
            "FieldValueInvalid",
            "Invalid value: \"Abc\": spec.name in body should match '^[a-z][a-z0-9-]*$'",
        ),
        (
            "low",
            with(json!({"replicas": 0})),
            "spec.replicas",
            "FieldValueInvalid",
            "Invalid value: 0: spec.replicas in body should be greater than or equal to 1",
        ),
        (
            "wordy",
            with(json!({"replicas": "three"})),
            "spec.replicas",
            "FieldValueTypeInvalid",
            "Invalid value: \"string\": spec.replicas in body must be of type integer: \"string\"",
        ),
        (
            "fraction",
            with(json!({"replicas": 1.5})),
            "spec.replicas",
            "FieldValueTypeInvalid",
            "Invalid value: \"number\": spec.replicas in body must be of type integer: \"number\"",
        ),
        (
            "bad-ip",
            with(json!({"address": "300.1.1.1"})),
            "spec.address",
            "FieldValueTypeInvalid",
            "Invalid value: \"300.1.1.1\": spec.address in body must be of type ipv4: \"300.1.1.1\"",
        ),
        (
            "dup-tags",
            with(json!({"tags": ["a", "b", "a"]})),
            "spec.tags[2]",
            "FieldValueDuplicate",
            "Duplicate value: \"a\"",
        ),
        (
            "objectish",
            with(json!({"selector": "app=x"})),
            "spec.selector",
            "FieldValueTypeInvalid",
            "Invalid value: \"string\": spec.selector in body must be of type object: \"string\"",
        ),
    ];
    for (name, spec, field, reason, message) in cases {
        let status = post(cluster, &widgets(), &widget(name, spec))
            .await
            .expect_failure(422, "Invalid");
        assert_exact_cause(&status, field, reason, message);
        assert_eq!(causes(&status).len(), 1, "{name}: {status}");
    }

    // Messages whose exact wording moved between releases: the stable part.
    let loose: Vec<(&str, Value, &str, &str, &str)> = vec![
        (
            "long",
            with(json!({"name": "abcdefghijklmn"})),
            "spec.name",
            "FieldValueTooLong",
            "12",
        ),
        (
            "empty-tags",
            with(json!({"tags": []})),
            "spec.tags",
            "FieldValueInvalid",
            "spec.tags in body should have at least 1 items",
        ),
        (
            "crowded",
            with(json!({"labels": {"a": "1", "b": "2", "c": "3"}})),
            "spec.labels",
            "FieldValueTooMany",
            "must have at most 2",
        ),
        (
            "no-name",
            with(json!({"template": {"apiVersion": "v1", "metadata": {"name": "x"}}})),
            "spec.template.kind",
            "FieldValueRequired",
            "Required value",
        ),
    ];
    for (name, spec, field, reason, part) in loose {
        let status = post(cluster, &widgets(), &widget(name, spec))
            .await
            .expect_failure(422, "Invalid");
        assert_cause(&status, field, reason, |m| m.contains(part));
    }

    let status = post(cluster, &widgets(), &widget("bare", json!({})))
        .await
        .expect_failure(422, "Invalid");
    assert_exact_cause(&status, "spec.name", "FieldValueRequired", "Required value");
    assert_exact_cause(&status, "spec.size", "FieldValueRequired", "Required value");
    assert_eq!(causes(&status).len(), 2, "{status}");

    // An update is checked as a create is.
    let created = post(cluster, &widgets(), &widget("valid", base.clone()))
        .await
        .expect(201);
    let mut changed = created.clone();
    changed["spec"]["replicas"] = json!(42);
    let status = put(cluster, &format!("{}/valid", widgets()), &changed)
        .await
        .expect_failure(422, "Invalid");
    assert_exact_cause(
        &status,
        "spec.replicas",
        "FieldValueInvalid",
        "Invalid value: 42: spec.replicas in body should be less than or equal to 10",
    );
    let stored = get(cluster, &format!("{}/valid", widgets()))
        .await
        .expect(200);
    assert!(stored["spec"].get("replicas").is_none(), "{stored}");
}

/// kubectl prints the Status message as upstream words it.
fn kubectl_prints_the_invalid_sentence(cluster: &Cluster) {
    let manifest = format!(
        "apiVersion: validation.example.com/v1\nkind: Widget\nmetadata: {{name: crowded, namespace: {NS}}}\nspec: {{name: crowded, size: small, replicas: 11}}\n"
    );
    let refused = fails(
        cluster,
        &[
            "apply",
            "-f",
            &write_file(cluster, "too-many.yaml", &manifest),
        ],
    );
    assert!(
        refused.contains(
            "The Widget \"crowded\" is invalid: spec.replicas: Invalid value: 11: spec.replicas in body should be less than or equal to 10"
        ),
        "{refused}"
    );
}

/// int-or-string takes both; nullable keeps null; preserve-unknown-fields
/// keeps a free-form subtree; an embedded resource keeps its body; list
/// and map types accept well-formed values.
async fn extensions_shape_what_is_accepted_and_kept(cluster: &Cluster) {
    for (name, target) in [("port-number", json!(8080)), ("port-name", json!("http"))] {
        let created = post(
            cluster,
            &widgets(),
            &widget(
                name,
                json!({"name": "okay", "size": "small", "target": target}),
            ),
        )
        .await
        .expect(201);
        assert_eq!(created["spec"]["target"], target, "{name}");
    }

    let free_form = json!({"anything": {"deep": [1, "two", {"three": 3}]}, "flag": true});
    let template = json!({
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "inner", "labels": {"app": "inner"}},
        "data": {"key": "value"}
    });
    let created = post(
        cluster,
        &widgets(),
        &widget(
            "shapes",
            json!({
                "name": "shapes",
                "size": "medium",
                "note": null,
                "extra": free_form,
                "template": template,
                "tags": ["x", "y"],
                "ports": [{"name": "http", "port": 80}, {"name": "https", "port": 443}],
                "args": ["a", "a"],
                "labels": {"team": "core"},
                "selector": {"app": "web"},
            }),
        ),
    )
    .await
    .expect(201);
    let read = get(cluster, &format!("{}/shapes", widgets()))
        .await
        .expect(200);
    for object in [&created, &read] {
        let spec = &object["spec"];
        assert!(
            spec.get("note").is_some_and(Value::is_null),
            "nullable keeps null: {spec}"
        );
        assert_eq!(spec["extra"], free_form, "preserved as sent");
        assert_eq!(spec["template"]["data"], json!({"key": "value"}));
        assert_eq!(spec["template"]["kind"], "ConfigMap");
        assert_eq!(spec["template"]["metadata"]["name"], "inner");
        assert_eq!(spec["args"], json!(["a", "a"]), "atomic lists may repeat");
        assert_eq!(spec["ports"][1]["port"], 443);
        assert_eq!(spec["selector"], json!({"app": "web"}));
    }

    // null for a field that is neither nullable nor defaulted is dropped.
    let created = post(
        cluster,
        &widgets(),
        &widget(
            "nulls",
            json!({"name": "nulls", "size": "large", "address": null}),
        ),
    )
    .await
    .expect(201);
    assert!(
        created["spec"].get("address").is_none(),
        "a non-nullable null is pruned: {created}"
    );
}

/// Defaults apply to absent fields (and to null ones that are not
/// nullable), nest inside defaulted objects, come back on update, and
/// reach objects stored before the default existed when they are read.
async fn defaults_fill_in_on_create_update_and_read(cluster: &Cluster) {
    let created = post(
        cluster,
        &widgets(),
        &widget("plain", json!({"name": "plain", "size": "small"})),
    )
    .await
    .expect(201);
    let spec = &created["spec"];
    assert_eq!(spec["mode"], "fast", "{spec}");
    assert_eq!(spec["retries"], 3);
    assert_eq!(spec["policy"], json!({"action": "restart", "limit": 5}));

    let created = post(
        cluster,
        &widgets(),
        &widget(
            "given",
            json!({"name": "given", "size": "small", "mode": "slow", "policy": {"action": "stop"}, "retries": null}),
        ),
    )
    .await
    .expect(201);
    let spec = &created["spec"];
    assert_eq!(spec["mode"], "slow", "given values stay: {spec}");
    assert_eq!(spec["policy"], json!({"action": "stop", "limit": 5}));
    assert_eq!(spec["retries"], 3, "a non-nullable null takes the default");

    // An update that drops defaulted fields gets them again.
    let mut replaced = created.clone();
    if let Some(spec) = replaced["spec"].as_object_mut() {
        spec.remove("mode");
        spec.remove("policy");
    }
    let updated = put(cluster, &format!("{}/given", widgets()), &replaced)
        .await
        .expect(200);
    assert_eq!(updated["spec"]["mode"], "fast", "{updated}");
    assert_eq!(
        updated["spec"]["policy"],
        json!({"action": "restart", "limit": 5})
    );

    let listed = get_json(cluster, &["widgets", "-n", NS, "plain"]);
    assert_eq!(listed["spec"]["mode"], "fast");

    // A default added later shows on objects stored without it.
    let with_color = widget_crd().replace(
        "              mode:\n",
        "              color:\n                type: string\n                default: teal\n              mode:\n",
    );
    ok(
        cluster,
        &[
            "apply",
            "-f",
            &write_file(cluster, "widget-crd-color.yaml", &with_color),
        ],
    );
    let path = format!("{}/plain", widgets());
    eventually(
        "a default added to the CRD is applied on read",
        SETTLE,
        || async {
            let object = get(cluster, &path).await.expect(200);
            if object["spec"]["color"] == "teal" {
                Ok(())
            } else {
                Err(object.to_string())
            }
        },
    )
    .await;
    let list = get(cluster, &widgets()).await.expect(200);
    let plain = list["items"]
        .as_array()
        .and_then(|items| items.iter().find(|i| i["metadata"]["name"] == "plain"))
        .unwrap_or_else(|| panic!("{list}"));
    assert_eq!(plain["spec"]["color"], "teal", "lists are defaulted too");
}

/// Unknown fields: dropped with `Ignore`, a 400 naming each with
/// `Strict`, a warning each with `Warn` (also the default); kubectl's
/// `--validate` picks among them.
async fn unknown_fields_are_pruned_refused_or_warned_about(cluster: &Cluster) {
    let with_unknown = |name: &str| {
        let mut object = widget(
            name,
            json!({"name": "extras", "size": "small", "colour": "red", "policy": {"action": "stop", "bogus": 1}}),
        );
        object["junk"] = json!(true);
        object
    };

    let ignored = post(
        cluster,
        &format!("{}?fieldValidation=Ignore", widgets()),
        &with_unknown("ignored"),
    )
    .await;
    assert!(warnings(&ignored).is_empty(), "{:?}", ignored.headers);
    let created = ignored.expect(201);
    let read = get(cluster, &format!("{}/ignored", widgets()))
        .await
        .expect(200);
    for object in [&created, &read] {
        assert!(object.get("junk").is_none(), "{object}");
        assert!(object["spec"].get("colour").is_none(), "{object}");
        assert_eq!(
            object["spec"]["policy"],
            json!({"action": "stop", "limit": 5})
        );
    }

    let strict = post(
        cluster,
        &format!("{}?fieldValidation=Strict", widgets()),
        &with_unknown("strict"),
    )
    .await;
    let status = strict.expect_failure(400, "BadRequest");
    let message = status["message"].as_str().unwrap_or_default();
    assert!(message.contains("strict decoding error: "), "{message}");
    for field in ["junk", "spec.colour", "spec.policy.bogus"] {
        assert!(
            message.contains(&format!("unknown field \"{field}\"")),
            "{field} in {message}"
        );
    }
    get(cluster, &format!("{}/strict", widgets()))
        .await
        .expect_failure(404, "NotFound");

    for (name, query) in [("warned", "?fieldValidation=Warn"), ("defaulted", "")] {
        let response = post(
            cluster,
            &format!("{}{query}", widgets()),
            &with_unknown(name),
        )
        .await;
        let mut said = warnings(&response);
        said.sort();
        assert_eq!(
            said,
            [
                "unknown field \"junk\"",
                "unknown field \"spec.colour\"",
                "unknown field \"spec.policy.bogus\"",
            ],
            "{name}"
        );
        let created = response.expect(201);
        assert!(created["spec"].get("colour").is_none(), "{created}");
    }

    let manifest = format!(
        "apiVersion: validation.example.com/v1\nkind: Widget\nmetadata: {{name: NAME, namespace: {NS}}}\nspec: {{name: extras, size: small, colour: red}}\n"
    );
    let file = |name: &str| {
        write_file(
            cluster,
            &format!("{name}.yaml"),
            &manifest.replace("NAME", name),
        )
    };
    let refused = fails(cluster, &["create", "-f", &file("by-kubectl")]);
    assert!(
        refused.contains("Error from server (BadRequest)"),
        "{refused}"
    );
    assert!(
        refused.contains("strict decoding error: unknown field \"spec.colour\""),
        "{refused}"
    );

    let warned = cluster.kubectl(&[
        "create",
        "--validate=warn",
        "-f",
        &file("warned-by-kubectl"),
    ]);
    let stderr = String::from_utf8_lossy(&warned.stderr);
    assert!(warned.status.success(), "{stderr}");
    assert!(
        stderr.contains("Warning: unknown field \"spec.colour\""),
        "{stderr}"
    );

    let quiet = cluster.kubectl(&[
        "create",
        "--validate=false",
        "-f",
        &file("quiet-by-kubectl"),
    ]);
    let stderr = String::from_utf8_lossy(&quiet.stderr);
    assert!(quiet.status.success(), "{stderr}");
    assert!(!stderr.contains("unknown field"), "{stderr}");
    let stored = get(cluster, &format!("{}/quiet-by-kubectl", widgets()))
        .await
        .expect(200);
    assert!(stored["spec"].get("colour").is_none(), "{stored}");
}
