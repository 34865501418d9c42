//! Whole-object tests: a CRD as a client sends it, defaulted and prepared as
//! upstream does, then validated.

use super::*;

fn schema() -> Value {
    json!({"type": "object", "properties": {
        "spec": {"type": "object", "properties": {
            "replicas": {"type": "integer"},
            "color": {"type": "string"},
        }},
        "status": {"type": "object", "properties": {"replicas": {"type": "integer"}}},
    }})
}

/// A valid one-version CRD, as a client would send it.
fn crontab() -> Value {
    json!({
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "crontabs.stable.example.com"},
        "spec": {
            "group": "stable.example.com",
            "scope": "Namespaced",
            "names": {"plural": "crontabs", "kind": "CronTab", "shortNames": ["ct"]},
            "versions": [{
                "name": "v1", "served": true, "storage": true,
                "schema": {"openAPIV3Schema": schema()},
            }],
        },
    })
}

fn add_version(crd: &mut Value, version: Value) {
    if let Some(versions) = crd["spec"]["versions"].as_array_mut() {
        versions.push(version);
    }
}

fn remove(object: &mut Value, key: &str) {
    if let Some(map) = object.as_object_mut() {
        map.remove(key);
    }
}

fn created(mut crd: Value) -> Vec<String> {
    apply_defaults(&mut crd);
    prepare_for_create(&mut crd);
    validate_create(&crd)
        .iter()
        .map(ToString::to_string)
        .collect()
}

fn updated(mut new: Value, old: &Value) -> Vec<String> {
    apply_defaults(&mut new);
    prepare_for_update(&mut new, old);
    validate_update(&new, old)
        .iter()
        .map(ToString::to_string)
        .collect()
}

/// The stored form of `crd` after a successful create, established.
fn stored(mut crd: Value) -> Value {
    apply_defaults(&mut crd);
    prepare_for_create(&mut crd);
    let verdict = names_accepted(&crd, &ClaimedNames::default());
    crd["status"]["acceptedNames"] = verdict.accepted_names.clone();
    set_condition(&mut crd, &verdict.condition(), "2024-01-01T00:00:00Z");
    set_condition(&mut crd, &Condition::established(), "2024-01-01T00:00:00Z");
    crd
}

#[test]
fn a_good_crd_is_accepted() {
    assert_eq!(created(crontab()), Vec::<String>::new());
}

#[test]
fn name_must_match_plural_and_group() {
    let mut crd = crontab();
    crd["metadata"]["name"] = json!("crontab.stable.example.com");
    assert_eq!(
        created(crd),
        ["metadata.name: Invalid value: \"crontab.stable.example.com\": must be spec.names.plural+\".\"+spec.group"]
    );
}

#[test]
fn scope_is_required_and_known() {
    let mut crd = crontab();
    crd["spec"]["scope"] = json!("Global");
    assert_eq!(
        created(crd.clone()),
        ["spec.scope: Unsupported value: \"Global\": supported values: \"Cluster\", \"Namespaced\""]
    );
    remove(&mut crd["spec"], "scope");
    assert_eq!(created(crd), ["spec.scope: Required value"]);
}

#[test]
fn no_storage_version_is_reported_twice() {
    let mut crd = crontab();
    crd["spec"]["versions"][0]["storage"] = json!(false);
    let errors = created(crd);
    assert_eq!(errors.len(), 2);
    assert!(errors[0].starts_with("spec.versions: Invalid value: "));
    assert!(errors[0].ends_with(": must have exactly one version marked as storage version"));
    assert_eq!(
        errors[1],
        "status.storedVersions: Invalid value: []: must have at least one stored version"
    );
}

#[test]
fn a_missing_schema_is_required() {
    let mut crd = crontab();
    remove(&mut crd["spec"]["versions"][0], "schema");
    assert_eq!(
        created(crd),
        ["spec.versions[0].schema.openAPIV3Schema: Required value"]
    );
}

#[test]
fn one_version_reports_columns_at_the_top_level() {
    let mut crd = crontab();
    crd["spec"]["versions"][0]["additionalPrinterColumns"] =
        json!([{"name": "Color", "type": "color", "jsonPath": ".spec.color"}]);
    assert_eq!(
        created(crd),
        ["spec.additionalPrinterColumns[0].type: Invalid value: \"color\": must be one of boolean,date,integer,number,string"]
    );
}

#[test]
fn differing_versions_report_columns_per_version() {
    let mut crd = crontab();
    let mut v2 = crd["spec"]["versions"][0].clone();
    v2["name"] = json!("v2");
    v2["storage"] = json!(false);
    v2["additionalPrinterColumns"] =
        json!([{"name": "Color", "type": "string", "jsonPath": "spec.color"}]);
    add_version(&mut crd, v2);
    assert_eq!(
        created(crd),
        ["spec.versions[1].additionalPrinterColumns[0].JSONPath: Invalid value: \"spec.color\": must be a simple json path starting with ."]
    );
}

#[test]
fn scale_subresource_paths_are_checked() {
    let mut crd = crontab();
    crd["spec"]["versions"][0]["subresources"] = json!({"status": {}, "scale": {"specReplicasPath": ".status.replicas", "statusReplicasPath": ".status.replicas"}});
    assert_eq!(
        created(crd),
        ["spec.subresources.scale.specReplicasPath: Invalid value: \".status.replicas\": should be a json path under .spec"]
    );
}

#[test]
fn status_subresource_limits_the_schema_root() {
    let mut crd = crontab();
    crd["spec"]["versions"][0]["subresources"] = json!({"status": {}});
    crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["minProperties"] = json!(1);
    let errors = created(crd);
    assert_eq!(errors.len(), 1);
    assert!(errors[0].starts_with("spec.validation.openAPIV3Schema: Invalid value: "));
}

#[test]
fn selectable_fields_on_one_version_use_the_shared_schema() {
    let mut crd = crontab();
    crd["spec"]["versions"][0]["selectableFields"] =
        json!([{"jsonPath": ".spec.color"}, {"jsonPath": ".spec.size"}]);
    assert_eq!(
        created(crd),
        ["spec.selectableFields[1].jsonPath: Invalid value: \".spec.size\": is an invalid path: does not refer to a valid field"]
    );
}

/// Regression for kubernetes#140689 as upstream behaves: shared selectable
/// fields with differing schemas are refused.
#[test]
fn shared_selectable_fields_with_differing_schemas_are_refused() {
    let mut crd = crontab();
    crd["spec"]["versions"][0]["selectableFields"] = json!([{"jsonPath": ".spec.color"}]);
    let mut v2 = crd["spec"]["versions"][0].clone();
    v2["name"] = json!("v2");
    v2["storage"] = json!(false);
    v2["schema"]["openAPIV3Schema"]["description"] = json!("second");
    add_version(&mut crd, v2);
    assert_eq!(
        created(crd),
        ["spec.selectableFields: Invalid value: \"\": may only be set when validations.schema is included"]
    );
}

#[test]
fn preserve_unknown_fields_is_refused() {
    let mut crd = crontab();
    crd["spec"]["preserveUnknownFields"] = json!(true);
    assert_eq!(
        created(crd),
        ["spec.preserveUnknownFields: Invalid value: true: cannot set to true, set x-kubernetes-preserve-unknown-fields to true in spec.versions[*].schema instead"]
    );
}

#[test]
fn defaults_need_pruning() {
    let mut crd = crontab();
    crd["spec"]["preserveUnknownFields"] = json!(true);
    crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]["properties"]
        ["color"]["default"] = json!("red");
    let errors = created(crd);
    assert_eq!(
        errors[0],
        "spec.preserveUnknownFields: Invalid value: true: must be false in order to use defaults in the schema"
    );
}

#[test]
fn an_unchanged_update_is_accepted() {
    let old = stored(crontab());
    assert_eq!(updated(crontab(), &old), Vec::<String>::new());
}

#[test]
fn group_and_plural_never_change() {
    let old = stored(crontab());
    let mut new = crontab();
    new["spec"]["group"] = json!("other.example.com");
    new["spec"]["names"]["plural"] = json!("tabs");
    let errors = updated(new, &old);
    assert!(errors.contains(
        &"spec.group: Invalid value: \"other.example.com\": field is immutable".to_string()
    ));
    assert!(errors
        .contains(&"spec.names.plural: Invalid value: \"tabs\": field is immutable".to_string()));
}

#[test]
fn scope_and_kind_freeze_once_established() {
    let old = stored(crontab());
    let mut new = crontab();
    new["spec"]["scope"] = json!("Cluster");
    new["spec"]["names"]["kind"] = json!("Tab");
    assert_eq!(
        updated(new.clone(), &old),
        [
            "spec.scope: Invalid value: \"Cluster\": field is immutable",
            "spec.names.kind: Invalid value: \"Tab\": field is immutable",
        ]
    );
    let mut not_established = old.clone();
    remove_condition(&mut not_established, ESTABLISHED);
    assert_eq!(updated(new, &not_established), Vec::<String>::new());
}

#[test]
fn a_stored_version_cannot_be_dropped() {
    let mut with_v2 = crontab();
    let mut v2 = with_v2["spec"]["versions"][0].clone();
    v2["name"] = json!("v2");
    v2["storage"] = json!(false);
    add_version(&mut with_v2, v2);
    let old = stored(with_v2.clone());
    // Move storage to v2: storedVersions becomes [v1, v2].
    let mut moved = with_v2.clone();
    moved["spec"]["versions"][0]["storage"] = json!(false);
    moved["spec"]["versions"][1]["storage"] = json!(true);
    assert_eq!(updated(moved.clone(), &old), Vec::<String>::new());
    let mut after_move = moved.clone();
    apply_defaults(&mut after_move);
    prepare_for_update(&mut after_move, &old);
    // Now drop v1.
    let mut dropped = moved;
    if let Some(versions) = dropped["spec"]["versions"].as_array_mut() {
        versions.remove(0);
    }
    assert_eq!(
        updated(dropped, &after_move),
        ["status.storedVersions[0]: Invalid value: \"v1\": missing from spec.versions; v1 was previously a storage version, and must remain in spec.versions until a storage migration ensures no data remains persisted in v1 and removes v1 from status.storedVersions"]
    );
}

#[test]
fn update_of_a_schemaless_crd_needs_schemas_only_for_served_versions() {
    let mut old_crd = crontab();
    remove(&mut old_crd["spec"]["versions"][0], "schema");
    let old = stored(old_crd.clone());
    assert_eq!(
        updated(old_crd.clone(), &old),
        ["spec.versions[0].schema.openAPIV3Schema: Required value: because otherwise all fields are pruned"]
    );
    old_crd["spec"]["versions"][0]["served"] = json!(false);
    assert_eq!(updated(old_crd, &old), Vec::<String>::new());
}

#[test]
fn stored_preserve_unknown_fields_may_stay() {
    let mut old = stored(crontab());
    old["spec"]["preserveUnknownFields"] = json!(true);
    let mut new = crontab();
    new["spec"]["preserveUnknownFields"] = json!(true);
    assert_eq!(updated(new, &old), Vec::<String>::new());
}

#[test]
fn status_update_checks_accepted_names() {
    let old = stored(crontab());
    let mut new = old.clone();
    new["status"]["acceptedNames"]["plural"] = json!("Crontabs");
    let errors = validate_status_update(&new, &old);
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0].field, "status.acceptedNames.plural");
}

#[test]
fn schema_locations_name_the_paths_for_other_validators() {
    let crd = crontab();
    let locations = schema_locations(&crd);
    assert_eq!(locations.len(), 1);
    assert_eq!(locations[0].path, "spec.validation.openAPIV3Schema");
    assert_eq!(locations[0].versions, ["v1"]);
    assert!(!locations[0].status_enabled);
}
