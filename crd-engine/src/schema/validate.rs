//! Value validation with kube-openapi's semantics (`validate.SchemaValidator`
//! as apiextensions configures it): per node, the type check, then
//! `allOf`/`anyOf`/`oneOf`/`not`, string, format, number, array, `enum` and
//! object checks, each reporting the way upstream does. A direct walker
//! rather than a generic JSON Schema engine: upstream's messages, field
//! names and quirks (integer data compared with truncated bounds, only the
//! first failing string check reported, `minProperties` short-circuiting)
//! come out exactly, and the structural schema is simple to walk.

use apiserver::validation::FieldError;
use serde_json::{Map, Value};

use super::messages::{go_bound, go_float, in_body, GoNumber, Root};
use super::node::{Additional, Node};

/// Validates `value` against `node`; `name` is kube-openapi's name of the
/// value (`""` for the validated root).
pub fn validate(node: &Node, value: &Value, name: &str, root: Root<'_>, out: &mut Vec<FieldError>) {
    if value.is_null() {
        check_type(node, value, name, root, out);
        check_enum(node, value, name, root, out);
        return;
    }
    check_type(node, value, name, root, out);
    check_combinations(node, value, name, root, out);
    match value {
        Value::String(text) => {
            check_string(node, text, name, root, out);
            check_format(node, text, name, root, out);
        }
        Value::Number(_) => check_number(node, value, name, root, out),
        Value::Array(items) => check_array(node, items, name, root, out),
        _ => {}
    }
    check_enum(node, value, name, root, out);
    if let Value::Object(map) = value {
        check_object(node, map, name, root, out);
    }
}

/// The JSON type of a decoded value and Go's format name for it, as
/// kube-openapi's `schemaInfoForType` derives them.
fn type_of(value: &Value) -> (&'static str, &'static str) {
    match value {
        Value::Null => ("null", ""),
        Value::Bool(_) => ("boolean", ""),
        Value::String(_) => ("string", ""),
        Value::Array(_) => ("array", ""),
        Value::Object(_) => ("object", ""),
        Value::Number(_) => match GoNumber::of(value) {
            Some(GoNumber::Int(_)) => ("integer", "int64"),
            _ => ("number", "float64"),
        },
    }
}

fn check_type(node: &Node, value: &Value, name: &str, root: Root<'_>, out: &mut Vec<FieldError>) {
    let format = node.format_name.as_deref().unwrap_or("");
    if node.types.is_any() && format.is_empty() {
        return;
    }
    if value.is_null() {
        if !node.types.is_any() && !node.nullable {
            out.push(root.wrong_type(name, node.types.joined(), "null"));
        }
        return;
    }
    let (found, found_format) = type_of(value);
    let float_holds_integer = found == "number"
        && node.types.contains("integer")
        && value.as_f64().is_some_and(is_json_integer);
    let integer_is_number = found == "integer" && node.types.contains("number");
    let is_text_or_list = matches!(value, Value::String(_) | Value::Array(_));
    let matches = node.types.contains(found) || float_holds_integer || integer_is_number;
    if !(is_text_or_list || format.is_empty() || matches || found_format == format) {
        out.push(root.wrong_type(name, format, found_format));
        return;
    }
    let numeric = node.types.contains("number") || node.types.contains("integer");
    if !numeric && !format.is_empty() && is_text_or_list {
        return;
    }
    if !matches {
        out.push(root.wrong_type(name, node.types.joined(), found));
    }
}

/// go-openapi's `IsFloat64AJSONInteger`.
fn is_json_integer(value: f64) -> bool {
    const MAX_JSON_INTEGER: f64 = 9_007_199_254_740_992.0;
    value.is_finite()
        && value.abs() <= MAX_JSON_INTEGER
        && (value.fract() == 0.0 || (value - value.round()).abs() < 1e-9)
}

fn check_combinations(
    node: &Node,
    value: &Value,
    name: &str,
    root: Root<'_>,
    out: &mut Vec<FieldError>,
) {
    if !node.any_of.is_empty() {
        let results: Vec<Vec<FieldError>> = node
            .any_of
            .iter()
            .map(|alt| run(alt, value, name, root))
            .collect();
        if results.iter().all(|errors| !errors.is_empty()) {
            out.push(root.composite(format!(
                "{name:?} must validate at least one schema (anyOf)"
            )));
            out.extend(closest(results));
        }
    }
    if !node.one_of.is_empty() {
        let results: Vec<Vec<FieldError>> = node
            .one_of
            .iter()
            .map(|alt| run(alt, value, name, root))
            .collect();
        let valid = results.iter().filter(|errors| errors.is_empty()).count();
        if valid != 1 {
            let found = if valid == 0 {
                "Found none valid".to_string()
            } else {
                format!("Found {valid} valid alternatives")
            };
            out.push(root.composite(format!(
                "{name:?} must validate one and only one schema (oneOf). {found}"
            )));
            if valid == 0 {
                out.extend(closest(results));
            }
        }
    }
    if !node.all_of.is_empty() {
        let mut valid = 0;
        for part in &node.all_of {
            let errors = run(part, value, name, root);
            if errors.is_empty() {
                valid += 1;
            }
            out.extend(errors);
        }
        if valid != node.all_of.len() {
            let none = if valid == 0 { ". None validated" } else { "" };
            out.push(root.composite(format!(
                "{name:?} must validate all the schemas (allOf){none}"
            )));
        }
    }
    if let Some(not) = &node.not {
        if run(not, value, name, root).is_empty() {
            out.push(root.composite(format!("{name:?} must not validate the schema (not)")));
        }
    }
}

fn run(node: &Node, value: &Value, name: &str, root: Root<'_>) -> Vec<FieldError> {
    let mut errors = Vec::new();
    validate(node, value, name, root, &mut errors);
    errors
}

/// The failures of the alternative that came closest. kube-openapi picks the
/// one with the most passed checks; the one with the fewest failures (the
/// first on a tie) is the same choice in the common cases.
fn closest(results: Vec<Vec<FieldError>>) -> Vec<FieldError> {
    let mut best: Option<Vec<FieldError>> = None;
    for errors in results {
        if best.as_ref().is_none_or(|best| errors.len() < best.len()) {
            best = Some(errors);
        }
    }
    best.unwrap_or_default()
}

/// Only the first failing string check is reported, as in kube-openapi's
/// `stringValidator`; lengths count characters.
fn check_string(node: &Node, text: &str, name: &str, root: Root<'_>, out: &mut Vec<FieldError>) {
    if node.max_length.is_none() && node.min_length.is_none() && node.pattern.is_none() {
        return;
    }
    let length = text.chars().count() as i64;
    if let Some(max) = node.max_length.filter(|max| length > *max) {
        out.push(root.too_long(name, max));
    } else if let Some(min) = node.min_length.filter(|min| length < *min) {
        let message = in_body(name, &format!("should be at least {min} chars long"));
        out.push(root.invalid(name, Value::from(text), message));
    } else if let Some(pattern) = node.pattern.as_ref().filter(|p| !p.is_match(text)) {
        let message = in_body(name, &format!("should match '{}'", pattern.source));
        out.push(root.invalid(name, Value::from(text), message));
    }
}

fn check_format(node: &Node, text: &str, name: &str, root: Root<'_>, out: &mut Vec<FieldError>) {
    let (Some(format), Some(format_name)) = (node.format, node.format_name.as_deref()) else {
        return;
    };
    if !format.is_valid(text) {
        out.push(root.wrong_type(name, format_name, text));
    }
}

/// `multipleOf`, then `minimum`, then `maximum`, as kube-openapi merges
/// them. Integer data is compared with the bounds truncated to int64.
fn check_number(node: &Node, value: &Value, name: &str, root: Root<'_>, out: &mut Vec<FieldError>) {
    let Some(number) = GoNumber::of(value) else {
        return;
    };
    if let Some(factor) = node.multiple_of {
        if let Some(message) = multiple_of_failure(number, factor, name) {
            out.push(root.invalid(name, value.clone(), message));
        }
    }
    if let Some(minimum) = node.minimum {
        let below = match number {
            GoNumber::Int(int) => compare_int(int, minimum as i64, node.exclusive_minimum, true),
            GoNumber::Float(float) => compare_float(float, minimum, node.exclusive_minimum, true),
        };
        if below {
            let relation = if node.exclusive_minimum {
                "greater than"
            } else {
                "greater than or equal to"
            };
            let message = in_body(
                name,
                &format!("should be {relation} {}", go_bound(minimum, number)),
            );
            out.push(root.invalid(name, value.clone(), message));
        }
    }
    if let Some(maximum) = node.maximum {
        let above = match number {
            GoNumber::Int(int) => compare_int(int, maximum as i64, node.exclusive_maximum, false),
            GoNumber::Float(float) => compare_float(float, maximum, node.exclusive_maximum, false),
        };
        if above {
            let relation = if node.exclusive_maximum {
                "less than"
            } else {
                "less than or equal to"
            };
            let message = in_body(
                name,
                &format!("should be {relation} {}", go_bound(maximum, number)),
            );
            out.push(root.invalid(name, value.clone(), message));
        }
    }
}

/// Whether `data` violates the bound: below a minimum or above a maximum.
fn compare_int(data: i64, bound: i64, exclusive: bool, is_minimum: bool) -> bool {
    match (is_minimum, exclusive) {
        (true, false) => data < bound,
        (true, true) => data <= bound,
        (false, false) => data > bound,
        (false, true) => data >= bound,
    }
}

fn compare_float(data: f64, bound: f64, exclusive: bool, is_minimum: bool) -> bool {
    match (is_minimum, exclusive) {
        (true, false) => data < bound,
        (true, true) => data <= bound,
        (false, false) => data > bound,
        (false, true) => data >= bound,
    }
}

fn multiple_of_failure(number: GoNumber, factor: f64, name: &str) -> Option<String> {
    let must_be_positive = || {
        format!(
            "factor MultipleOf declared for {name} must be positive: {}",
            go_bound(factor, number)
        )
    };
    if let GoNumber::Int(int) = number {
        let int_factor = factor as i64;
        if int_factor != 0 {
            if int_factor < 0 {
                return Some(must_be_positive());
            }
            return (int % int_factor != 0)
                .then(|| in_body(name, &format!("should be a multiple of {int_factor}")));
        }
    }
    if factor < 0.0 {
        return Some(must_be_positive());
    }
    let data = number.as_f64();
    let quotient = if factor < 1.0 {
        1.0 / factor * data
    } else {
        data / factor
    };
    (!is_json_integer(quotient)).then(|| {
        in_body(
            name,
            &format!("should be a multiple of {}", go_float(factor)),
        )
    })
}

/// Items first, then `minItems`, `maxItems`, `uniqueItems`, as kube-openapi's
/// slice validator does.
fn check_array(
    node: &Node,
    items: &[Value],
    name: &str,
    root: Root<'_>,
    out: &mut Vec<FieldError>,
) {
    if let Some(item_schema) = &node.items {
        for (index, item) in items.iter().enumerate() {
            validate(item_schema, item, &format!("{name}[{index}]"), root, out);
        }
    }
    let size = items.len();
    if let Some(min) = node.min_items.filter(|min| (size as i64) < *min) {
        let message = in_body(name, &format!("should have at least {min} items"));
        out.push(root.invalid(name, Value::from(size), message));
    }
    if let Some(max) = node.max_items.filter(|max| (size as i64) > *max) {
        out.push(root.too_many(name, size, max));
    }
    if node.unique_items {
        let duplicated = items
            .iter()
            .enumerate()
            .any(|(i, item)| items[..i].contains(item));
        if duplicated {
            let message = in_body(name, "shouldn't contain duplicates");
            out.push(root.invalid(name, Value::from(""), message));
        }
    }
}

fn check_enum(node: &Node, value: &Value, name: &str, root: Root<'_>, out: &mut Vec<FieldError>) {
    let Some(allowed) = node
        .enumeration
        .as_ref()
        .filter(|allowed| !allowed.is_empty())
    else {
        return;
    };
    if !allowed
        .iter()
        .any(|candidate| enum_matches(value, candidate))
    {
        out.push(root.not_supported(name, value, allowed));
    }
}

/// kube-openapi's enum comparison: the value converted to the enum value's
/// Go type, then deep-equal. Schema numbers decode as float64 while request
/// integers decode as int64, so numbers compare by value at the top level
/// but nested integers never equal a schema number; `null` matches nothing.
fn enum_matches(value: &Value, candidate: &Value) -> bool {
    match (value, candidate) {
        (Value::Null, _) | (_, Value::Null) => false,
        (Value::Number(_), Value::Number(expected)) => value.as_f64() == expected.as_f64(),
        (Value::Array(_) | Value::Object(_), _) => deep_equal(value, candidate),
        _ => value == candidate,
    }
}

fn deep_equal(value: &Value, candidate: &Value) -> bool {
    match (value, candidate) {
        (Value::Number(_), Value::Number(expected)) => {
            matches!(GoNumber::of(value), Some(GoNumber::Float(f)) if Some(f) == expected.as_f64())
        }
        (Value::Array(items), Value::Array(expected)) => {
            items.len() == expected.len()
                && items.iter().zip(expected).all(|(a, b)| deep_equal(a, b))
        }
        (Value::Object(map), Value::Object(expected)) => {
            map.len() == expected.len()
                && map
                    .iter()
                    .all(|(k, v)| expected.get(k).is_some_and(|e| deep_equal(v, e)))
        }
        _ => value == candidate,
    }
}

/// `minProperties`/`maxProperties` (reported alone, as kube-openapi returns
/// early on them), `additionalProperties`, properties, then `required`.
fn check_object(
    node: &Node,
    map: &Map<String, Value>,
    name: &str,
    root: Root<'_>,
    out: &mut Vec<FieldError>,
) {
    let count = map.len();
    if let Some(min) = node.min_properties.filter(|min| (count as i64) < *min) {
        let message = in_body(name, &format!("should have at least {min} properties"));
        out.push(root.invalid(name, Value::from(count), message));
        return;
    }
    if let Some(max) = node.max_properties.filter(|max| (count as i64) > *max) {
        out.push(root.too_many(name, count, max));
        return;
    }
    match &node.additional {
        Additional::Allows(false) => {
            for key in map.keys().filter(|key| !node.properties.contains_key(*key)) {
                let message = format!("{name}.{key} in body is a forbidden property");
                out.push(root.invalid(name, Value::from(key.as_str()), message));
            }
        }
        Additional::Schema(values) => {
            for (key, value) in map
                .iter()
                .filter(|(key, _)| !node.properties.contains_key(*key))
            {
                validate(values, value, &format!("{name}.{key}"), root, out);
            }
        }
        _ => {}
    }
    for (key, property) in &node.properties {
        if let Some(value) = map.get(key) {
            let child = if name.is_empty() {
                key.clone()
            } else {
                format!("{name}.{key}")
            };
            validate(property, value, &child, root, out);
        }
    }
    for key in node.required.iter().filter(|key| !map.contains_key(*key)) {
        out.push(root.required(&format!("{name}.{key}")));
    }
}
