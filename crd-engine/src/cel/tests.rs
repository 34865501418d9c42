//! Rules compiled from small schemas and run against objects, checked
//! against the messages upstream gives.

use super::Rules;
use serde_json::{json, Value};

const BASE: &str = "spec.versions[0].schema.openAPIV3Schema";

/// A root schema with one `spec` object of these properties and rules.
fn spec_schema(properties: Value, rules: Value) -> Value {
    json!({
        "type": "object",
        "properties": {
            "spec": {
                "type": "object",
                "properties": properties,
                "x-kubernetes-validations": rules,
            }
        }
    })
}

fn compile(schema: &Value) -> Rules {
    match Rules::compile(schema, BASE) {
        Ok(rules) => rules,
        Err(errors) => panic!(
            "{:?}",
            errors.iter().map(ToString::to_string).collect::<Vec<_>>()
        ),
    }
}

fn compile_errors(schema: &Value) -> Vec<String> {
    match Rules::compile(schema, BASE) {
        Ok(_) => Vec::new(),
        Err(errors) => errors.iter().map(ToString::to_string).collect(),
    }
}

fn messages(rules: &Rules, object: Value, old: Option<Value>) -> Vec<String> {
    rules
        .validate(&object, old.as_ref())
        .iter()
        .map(ToString::to_string)
        .collect()
}

/// Evaluates one rule on `spec` with these properties.
fn check_rule(properties: Value, rule: &str, spec: Value) -> Vec<String> {
    let rules = compile(&spec_schema(properties, json!([{ "rule": rule }])));
    messages(&rules, json!({ "spec": spec }), None)
}

fn passes(properties: Value, rule: &str, spec: Value) {
    assert_eq!(
        check_rule(properties, rule, spec),
        Vec::<String>::new(),
        "{rule}"
    );
}

fn replicas() -> Value {
    json!({
        "replicas": {"type": "integer"},
        "maxReplicas": {"type": "integer"},
        "name": {"type": "string"},
    })
}

#[test]
fn rules_are_send_and_sync() {
    fn assert_shared<T: Send + Sync>() {}
    assert_shared::<Rules>();
}

#[test]
fn a_failing_rule_reports_its_message_at_its_node() {
    let rules = compile(&spec_schema(
        replicas(),
        json!([{ "rule": "self.replicas <= self.maxReplicas", "message": "replicas must be at most maxReplicas" }]),
    ));
    assert!(!rules.is_empty());
    let object = json!({"spec": {"replicas": 5, "maxReplicas": 3}});
    assert_eq!(
        messages(&rules, object, None),
        ["spec: Invalid value: \"object\": replicas must be at most maxReplicas"]
    );
    let object = json!({"spec": {"replicas": 2, "maxReplicas": 3}});
    assert!(messages(&rules, object, None).is_empty());
}

#[test]
fn without_a_message_the_rule_is_quoted() {
    assert_eq!(
        check_rule(replicas(), "self.replicas < 3", json!({"replicas": 3})),
        ["spec: Invalid value: \"object\": failed rule: self.replicas < 3"]
    );
}

#[test]
fn a_schema_without_rules_is_empty() {
    let rules = compile(&json!({"type": "object", "properties": {"spec": {"type": "object"}}}));
    assert!(rules.is_empty());
    assert!(messages(&rules, json!({"spec": {}}), None).is_empty());
}

#[test]
fn root_rules_report_the_nil_path_and_see_metadata_name() {
    let schema = json!({
        "type": "object",
        "x-kubernetes-validations": [{"rule": "self.metadata.name.startsWith('a')"}],
        "properties": {"spec": {"type": "object"}}
    });
    let rules = compile(&schema);
    assert!(messages(&rules, json!({"metadata": {"name": "abc"}}), None).is_empty());
    assert_eq!(
        messages(
            &rules,
            json!({"metadata": {"name": "xyz", "uid": "1"}}),
            None
        ),
        ["<nil>: Invalid value: \"object\": failed rule: self.metadata.name.startsWith('a')"]
    );
    let hidden = json!({
        "type": "object",
        "x-kubernetes-validations": [{"rule": "has(self.metadata.uid)"}],
    });
    assert!(compile_errors(&hidden)[0].contains("undefined field 'uid'"));
}

#[test]
fn rules_on_scalars_bind_self_to_the_value() {
    let schema = spec_schema(
        json!({"name": {"type": "string", "x-kubernetes-validations": [{"rule": "self.size() <= 3", "message": "too long"}]}}),
        json!([]),
    );
    let rules = compile(&schema);
    assert_eq!(
        messages(&rules, json!({"spec": {"name": "abcd"}}), None),
        ["spec.name: Invalid value: \"string\": too long"]
    );
    assert!(messages(&rules, json!({"spec": {"name": null}}), None).is_empty());
}

#[test]
fn list_items_and_map_values_report_index_and_key_paths() {
    let schema = spec_schema(
        json!({
            "ports": {"type": "array", "items": {"type": "integer", "x-kubernetes-validations": [{"rule": "self > 0"}]}},
            "labels": {"type": "object", "additionalProperties": {"type": "string", "x-kubernetes-validations": [{"rule": "self != ''"}]}}
        }),
        json!([]),
    );
    let rules = compile(&schema);
    assert_eq!(
        messages(
            &rules,
            json!({"spec": {"ports": [1, 0], "labels": {"a": "x", "b": ""}}}),
            None
        ),
        [
            "spec.labels[b]: Invalid value: \"string\": failed rule: self != ''",
            "spec.ports[1]: Invalid value: \"integer\": failed rule: self > 0",
        ]
    );
}

#[test]
fn transition_rules_run_only_on_update() {
    let schema = spec_schema(
        replicas(),
        json!([{"rule": "self.name == oldSelf.name", "message": "name is immutable"}]),
    );
    let rules = compile(&schema);
    let new = json!({"spec": {"name": "b"}});
    assert!(messages(&rules, new.clone(), None).is_empty());
    assert_eq!(
        messages(&rules, new.clone(), Some(json!({"spec": {"name": "a"}}))),
        ["spec: Invalid value: \"object\": name is immutable"]
    );
    assert!(messages(&rules, new.clone(), Some(json!({"spec": {"name": "b"}}))).is_empty());
    assert!(
        messages(&rules, new, Some(json!({"other": 1}))).is_empty(),
        "no old spec"
    );
}

#[test]
fn optional_old_self_runs_on_create_too() {
    let schema = spec_schema(
        replicas(),
        json!([{
            "rule": "oldSelf.hasValue() ? self.replicas >= oldSelf.value().replicas : self.replicas == 1",
            "optionalOldSelf": true
        }]),
    );
    let rules = compile(&schema);
    assert!(messages(&rules, json!({"spec": {"replicas": 1}}), None).is_empty());
    assert_eq!(
        messages(&rules, json!({"spec": {"replicas": 2}}), None).len(),
        1
    );
    let old = json!({"spec": {"replicas": 3}});
    assert_eq!(
        messages(&rules, json!({"spec": {"replicas": 2}}), Some(old.clone())).len(),
        1
    );
    assert!(messages(&rules, json!({"spec": {"replicas": 4}}), Some(old)).is_empty());
}

#[test]
fn map_lists_correlate_items_by_key() {
    let schema = spec_schema(
        json!({"items": {
            "type": "array",
            "x-kubernetes-list-type": "map",
            "x-kubernetes-list-map-keys": ["name"],
            "items": {
                "type": "object",
                "properties": {"name": {"type": "string"}, "size": {"type": "integer"}},
                "x-kubernetes-validations": [{"rule": "self.size >= oldSelf.size", "message": "may not shrink"}]
            }
        }}),
        json!([]),
    );
    let rules = compile(&schema);
    let old = json!({"spec": {"items": [{"name": "a", "size": 5}, {"name": "b", "size": 1}]}});
    let new = json!({"spec": {"items": [{"name": "b", "size": 2}, {"name": "a", "size": 4}, {"name": "c", "size": 0}]}});
    assert_eq!(
        messages(&rules, new, Some(old)),
        ["spec.items[1]: Invalid value: \"object\": may not shrink"]
    );
}

#[test]
fn old_self_is_forbidden_below_atomic_lists() {
    let schema = spec_schema(
        json!({"tags": {"type": "array", "items": {"type": "string", "x-kubernetes-validations": [{"rule": "self == oldSelf"}]}}}),
        json!([]),
    );
    assert_eq!(
        compile_errors(&schema),
        [format!(
            "{BASE}.properties[spec].properties[tags].items.x-kubernetes-validations[0].rule: Invalid value: \"self == oldSelf\": oldSelf cannot be used on the uncorrelatable portion of the schema within {BASE}.properties[spec].properties[tags]"
        )]
    );
}

#[test]
fn message_expression_builds_the_message() {
    let schema = spec_schema(
        replicas(),
        json!([{
            "rule": "self.replicas <= self.maxReplicas",
            "messageExpression": "'replicas ' + string(self.replicas) + ' exceeds ' + string(self.maxReplicas)"
        }]),
    );
    let rules = compile(&schema);
    assert_eq!(
        messages(
            &rules,
            json!({"spec": {"replicas": 5, "maxReplicas": 3}}),
            None
        ),
        ["spec: Invalid value: \"object\": replicas 5 exceeds 3"]
    );
}

#[test]
fn a_message_expression_that_fails_falls_back_to_the_message() {
    let schema = spec_schema(
        replicas(),
        json!([{"rule": "false", "message": "static", "messageExpression": "self.name"}]),
    );
    let rules = compile(&schema);
    assert_eq!(
        messages(&rules, json!({"spec": {}}), None),
        ["spec: Invalid value: \"object\": static"]
    );
}

#[test]
fn field_path_moves_the_error_and_reason_sets_its_kind() {
    let schema = spec_schema(
        replicas(),
        json!([
            {"rule": "self.replicas >= 0", "fieldPath": ".replicas", "reason": "FieldValueForbidden", "message": "must not be negative"},
            {"rule": "has(self.name)", "reason": "FieldValueRequired", "message": "name is required"},
            {"rule": "self.replicas != 7", "reason": "FieldValueDuplicate"}
        ]),
    );
    let rules = compile(&schema);
    assert_eq!(
        messages(&rules, json!({"spec": {"replicas": -1}}), None),
        [
            "spec.replicas: Forbidden: must not be negative",
            "spec: Required value: name is required",
        ]
    );
    assert_eq!(
        messages(&rules, json!({"spec": {"replicas": 7, "name": "x"}}), None),
        ["spec: Duplicate value: \"object\""]
    );
}

#[test]
fn field_paths_into_maps_use_key_form() {
    let schema = spec_schema(
        json!({"limits": {"type": "object", "additionalProperties": {"type": "string"}}}),
        json!([{"rule": "false", "fieldPath": ".limits['cpu']"}]),
    );
    let rules = compile(&schema);
    assert_eq!(
        messages(&rules, json!({"spec": {}}), None),
        ["spec.limits[cpu]: Invalid value: \"object\": failed rule: false"]
    );
}

#[test]
fn compile_errors_name_the_rule_and_position() {
    let schema = spec_schema(replicas(), json!([{"rule": "self.replicaz > 1"}]));
    assert_eq!(
        compile_errors(&schema),
        [format!(
            "{BASE}.properties[spec].x-kubernetes-validations[0].rule: Invalid value: \"self.replicaz > 1\": compilation failed: ERROR: <input>:1:5: undefined field 'replicaz'\n | self.replicaz > 1\n | ....^"
        )]
    );
}

#[test]
fn syntax_errors_are_compile_errors() {
    let errors = compile_errors(&spec_schema(
        replicas(),
        json!([{"rule": "self.replicas >"}]),
    ));
    assert_eq!(errors.len(), 1);
    assert!(
        errors[0].starts_with(&format!(
            "{BASE}.properties[spec].x-kubernetes-validations[0].rule: Invalid value: \"self.replicas >\": compilation failed: ERROR: <input>:1:"
        )),
        "{}",
        errors[0]
    );
}

#[test]
fn checker_reports_undeclared_names_mismatched_operands_and_non_bool_results() {
    let error_of =
        |rule: &str| compile_errors(&spec_schema(replicas(), json!([{ "rule": rule }]))).join("\n");
    assert!(error_of("foo > 1").contains("undeclared reference to 'foo' (in container '')"));
    assert!(error_of("self.replicas == 'three'")
        .contains("found no matching overload for '_==_' applied to '(int, string)'"));
    assert!(error_of("self.name.nosuch()").contains("undeclared reference to 'nosuch'"));
    assert!(error_of("self.replicas").contains(": cel expression must evaluate to a bool"));
    assert!(error_of("self.replicas > 1.5 && self.name.size() > 0").is_empty());
}

#[test]
fn message_expression_must_be_a_string() {
    let schema = spec_schema(
        replicas(),
        json!([{"rule": "true", "messageExpression": "self.replicas"}]),
    );
    assert_eq!(
        compile_errors(&schema),
        [format!(
            "{BASE}.properties[spec].x-kubernetes-validations[0].messageExpression: Invalid value: \"true\": messageExpression must evaluate to a string"
        )]
    );
}

#[test]
fn rule_fields_are_checked_before_compiling() {
    let schema = spec_schema(
        replicas(),
        json!([
            {"rule": " "},
            {"rule": "true", "message": " "},
            {"rule": "true", "reason": "Nope"},
            {"rule": "true", "fieldPath": ".nosuch"},
            {"rule": "true", "optionalOldSelf": true},
        ]),
    );
    let p = format!("{BASE}.properties[spec].x-kubernetes-validations");
    assert_eq!(
        compile_errors(&schema),
        [
            format!("{p}[0].rule: Required value: rule is not specified"),
            format!("{p}[1].message: Invalid value: \" \": message must be non-empty if specified"),
            format!("{p}[2].reason: Unsupported value: \"Nope\": supported values: \"FieldValueDuplicate\", \"FieldValueForbidden\", \"FieldValueInvalid\", \"FieldValueRequired\""),
            format!("{p}[3].fieldPath: Invalid value: \".nosuch\": fieldPath must be a valid path"),
        ]
    );
    let schema = spec_schema(
        replicas(),
        json!([{"rule": "true", "optionalOldSelf": true}]),
    );
    assert_eq!(
        compile_errors(&schema),
        [format!("{p}[0].optionalOldSelf: Invalid value: true: may not be set if oldSelf is not used in rule")]
    );
}

#[test]
fn runtime_errors_render_as_upstream() {
    assert_eq!(
        check_rule(replicas(), "self.replicas > 0", json!({})),
        ["spec: Invalid value: \"object\": no such key: replicas evaluating rule: self.replicas > 0"]
    );
    let int_or_string = json!({"v": {"x-kubernetes-int-or-string": true}});
    assert_eq!(
        check_rule(int_or_string, "self.v > 1", json!({"v": "a"})),
        ["spec: Invalid value: \"object\": 'no such overload': call arguments did not match a supported operator, function or macro signature for rule: self.v > 1"]
    );
}

#[test]
fn values_are_typed_by_the_schema() {
    let properties = json!({
        "count": {"type": "integer"},
        "ratio": {"type": "number"},
        "when": {"type": "string", "format": "date-time"},
        "every": {"type": "string", "format": "duration"},
        "blob": {"type": "string", "format": "byte"},
        "some-name": {"type": "string"},
        "namespace": {"type": "string"},
    });
    let spec = json!({
        "count": 3, "ratio": 2, "when": "2024-01-02T03:04:05Z", "every": "1h30m",
        "blob": "aGk=", "some-name": "x", "namespace": "ns"
    });
    for rule in [
        "type(self.count) == int",
        "type(self.ratio) == double && self.ratio == 2.0",
        "self.when.getFullYear() == 2024",
        "self.every == duration('90m')",
        "self.blob == b'hi'",
        "self.some__dash__name == 'x'",
        "self.__namespace__ == 'ns'",
    ] {
        passes(properties.clone(), rule, spec.clone());
    }
}

#[test]
fn standard_macros_and_string_functions_work() {
    let properties =
        json!({"tags": {"type": "array", "items": {"type": "string"}}, "name": {"type": "string"}});
    let spec = json!({"tags": ["a", "bb", "ccc"], "name": "Hello World"});
    for rule in [
        "self.tags.all(t, t.size() <= 3)",
        "self.tags.exists(t, t == 'bb')",
        "self.tags.exists_one(t, t.startsWith('c'))",
        "self.tags.map(t, t.size()) == [1, 2, 3]",
        "self.tags.filter(t, t.size() > 1) == ['bb', 'ccc']",
        "self.name.matches('^H.*d$') && self.name.contains('lo W') && self.name.endsWith('ld')",
        "self.name.lowerAscii() == 'hello world' && self.name.upperAscii() == 'HELLO WORLD'",
        "'  x '.trim() == 'x' && self.name.replace('l', 'L') == 'HeLLo WorLd'",
        "self.name.split(' ') == ['Hello', 'World'] && self.tags.join('-') == 'a-bb-ccc'",
        "self.name.substring(6) == 'World' && self.name.indexOf('o') == 4 && self.name.lastIndexOf('o') == 7",
        "self.name.charAt(1) == 'e'",
        "'%s-%d'.format(['a', 1]) == 'a-1'",
        "self.tags.sortBy(t, -t.size()) == ['ccc', 'bb', 'a'] && self.tags.reverse()[0] == 'ccc'",
    ] {
        passes(properties.clone(), rule, spec.clone());
    }
}

#[test]
fn kubernetes_list_functions_work() {
    let properties = json!({"n": {"type": "array", "items": {"type": "integer"}}});
    let spec = json!({"n": [1, 2, 3, 2]});
    for rule in [
        "[1, 2, 3].isSorted() && !self.n.isSorted()",
        "self.n.sum() == 8 && self.n.min() == 1 && self.n.max() == 3",
        "self.n.indexOf(2) == 1 && self.n.lastIndexOf(2) == 3 && self.n.indexOf(9) == -1",
        "sets.contains(self.n, [1, 3]) && sets.intersects(self.n, [3, 9]) && sets.equivalent([1, 2], [2, 1, 1])",
    ] {
        passes(properties.clone(), rule, spec.clone());
    }
    assert_eq!(
        check_rule(properties, "self.n.min() > 0", json!({"n": []})),
        ["spec: Invalid value: \"object\": min called on empty list evaluating rule: self.n.min() > 0"]
    );
}

#[test]
fn regex_functions_work() {
    let properties = json!({"s": {"type": "string"}});
    let spec = json!({"s": "abc 123 def 456"});
    for rule in [
        "self.s.find('[0-9]+') == '123' && self.s.find('x') == ''",
        "self.s.findAll('[0-9]+') == ['123', '456'] && self.s.findAll('[a-z]+', 1) == ['abc']",
    ] {
        passes(properties.clone(), rule, spec.clone());
    }
}

#[test]
fn url_functions_work() {
    let properties = json!({"u": {"type": "string"}});
    let spec = json!({"u": "https://example.com:8080/a/b?x=1&x=2&y=z"});
    for rule in [
        "isURL(self.u) && !isURL('not a url')",
        "url(self.u).getScheme() == 'https' && url(self.u).getHost() == 'example.com:8080'",
        "url(self.u).getHostname() == 'example.com' && url(self.u).getPort() == '8080'",
        "url(self.u).getEscapedPath() == '/a/b' && url(self.u).getQuery() == {'x': ['1', '2'], 'y': ['z']}",
    ] {
        passes(properties.clone(), rule, spec.clone());
    }
}

#[test]
fn quantity_functions_work() {
    let properties = json!({"q": {"type": "string"}});
    let spec = json!({"q": "1.5Gi"});
    for rule in [
        "isQuantity(self.q) && !isQuantity('200K')",
        "quantity(self.q).isGreaterThan(quantity('1Gi')) && quantity('1k').isLessThan(quantity('1Ki'))",
        "quantity('200M').compareTo(quantity('0.2G')) == 0 && quantity('200M') == quantity('0.2G')",
        "quantity('50k').add(quantity('20k')) == quantity('70k') && quantity('50k').add(20) == quantity('50020')",
        "quantity('50k').sub(20000) == quantity('30k') && quantity('50k').sub(quantity('20k')) == quantity('30k')",
        "quantity('50k').asInteger() == 50000 && quantity('1.5').asApproximateFloat() == 1.5",
        "quantity('50k').isInteger() && !quantity('1m').isInteger() && quantity('-1').sign() == -1",
    ] {
        passes(properties.clone(), rule, spec.clone());
    }
    assert_eq!(
        check_rule(properties, "quantity(self.q).sign() == 1", json!({"q": "Three"})),
        ["spec: Invalid value: \"object\": quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$' evaluating rule: quantity(self.q).sign() == 1"]
    );
}

#[test]
fn ip_and_cidr_functions_work() {
    let properties = json!({"addr": {"type": "string"}, "net": {"type": "string"}});
    let spec = json!({"addr": "10.1.2.3", "net": "10.1.0.0/16"});
    for rule in [
        "isIP(self.addr) && !isIP('10.1.2') && ip(self.addr).family() == 4",
        "ip('::1').isLoopback() && ip('0.0.0.0').isUnspecified() && ip(self.addr).isGlobalUnicast()",
        "ip('fe80::1').isLinkLocalUnicast() && ip('224.0.0.1').isLinkLocalMulticast()",
        "ip.isCanonical('2001:db8::1') && !ip.isCanonical('2001:DB8::1')",
        "isCIDR(self.net) && cidr(self.net).containsIP(self.addr) && cidr(self.net).containsIP(ip('10.1.0.1'))",
        "cidr(self.net).containsCIDR('10.1.2.0/24') && !cidr(self.net).containsCIDR(cidr('10.0.0.0/8'))",
        "cidr('10.1.2.3/16').masked() == cidr(self.net) && cidr(self.net).prefixLength() == 16",
        "cidr(self.net).ip() == ip('10.1.0.0') && string(cidr(self.net)) == self.net && string(ip(self.addr)) == self.addr",
    ] {
        passes(properties.clone(), rule, spec.clone());
    }
}

/// The library and its message, as CRDs use it: the rule tests for a
/// value, the messageExpression joins the problems.
#[test]
fn format_library_validates_and_explains() {
    let properties = json!({"name": {"type": "string"}});
    let schema = spec_schema(
        properties.clone(),
        json!([{
            "rule": "!format.dns1123Label().validate(self.name).hasValue()",
            "messageExpression": "'name: ' + format.dns1123Label().validate(self.name).value().join('; ')"
        }]),
    );
    let rules = compile(&schema);
    assert!(messages(&rules, json!({"spec": {"name": "my-name"}}), None).is_empty());
    assert_eq!(
        messages(&rules, json!({"spec": {"name": "My_Name"}}), None),
        ["spec: Invalid value: \"object\": name: a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')"]
    );
    assert_eq!(
        messages(&rules, json!({"spec": {"name": "a.b"}}), None),
        ["spec: Invalid value: \"object\": name: must not contain dots"]
    );
    let spec = json!({"name": "x"});
    for rule in [
        "!format.dns1123Subdomain().validate('apiextensions.k8s.io').hasValue()",
        "format.dns1035Label().validate('1abc').hasValue()",
        "!format.qualifiedName().validate('example.com/MyName').hasValue()",
        "!format.dns1123LabelPrefix().validate('my-prefix-').hasValue()",
        "!format.dns1123SubdomainPrefix().validate('a.prefix-').hasValue()",
        "!format.dns1035LabelPrefix().validate('my-prefix-').hasValue()",
        "!format.labelValue().validate('').hasValue()",
        "format.uri().validate('relative').value() == ['parse \"relative\": invalid URI for request']",
        "!format.uuid().validate('123e4567-e89b-12d3-a456-426614174000').hasValue()",
        "format.byte().validate('!').value() == ['invalid base64']",
        "!format.date().validate('2021-01-01').hasValue()",
        "format.datetime().validate('2021-01-01').orValue([]) == ['invalid datetime']",
        "format.uuid().validate('123e4567-e89b-12d3-a456-426614174000').orValue(['x']) == ['x']",
        "format.named('dns1123Label').hasValue() && !format.named('semver').hasValue()",
        "format.named('dns1123Label').value().validate(self.name) == format.dns1123Label().validate(self.name)",
        "format.named('uuid').value() == format.uuid() && format.uuid() != format.byte()",
    ] {
        passes(properties.clone(), rule, spec.clone());
    }
}

#[test]
fn format_results_are_typed_for_the_checker() {
    let error_of =
        |entry: Value| compile_errors(&spec_schema(replicas(), json!([entry]))).join("\n");
    assert_eq!(
        error_of(json!({"rule": "format.dns1123Label().validate(self.name)"})),
        format!("{BASE}.properties[spec].x-kubernetes-validations[0].rule: Invalid value: \"format.dns1123Label().validate(self.name)\": cel expression must evaluate to a bool")
    );
    assert!(error_of(json!({
        "rule": "true",
        "messageExpression": "format.dns1123Label().validate(self.name).value()"
    }))
    .contains("messageExpression must evaluate to a string"));
    assert!(
        error_of(json!({"rule": "format.nosuch().validate(self.name).hasValue()"}))
            .contains("undeclared reference to 'format.nosuch' (in container '')")
    );
    assert!(error_of(json!({"rule": "format == 1"}))
        .contains("undeclared reference to 'format' (in container '')"));
    assert!(error_of(json!({"rule": "'%s'.format([self.name]) == 'a'"})).is_empty());
}

#[test]
fn a_lone_dash_fails_the_prefix_formats_as_upstream_panics() {
    assert_eq!(
        check_rule(
            json!({"name": {"type": "string"}}),
            "!format.dns1123LabelPrefix().validate(self.name).hasValue()",
            json!({"name": "-"})
        ),
        ["spec: Invalid value: \"object\": internal error: runtime error: slice bounds out of range [:-1] evaluating rule: !format.dns1123LabelPrefix().validate(self.name).hasValue()"]
    );
}
