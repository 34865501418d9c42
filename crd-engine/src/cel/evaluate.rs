//! Running compiled rules against an object: walking the object beside the
//! schema, pairing each value with its old value as upstream correlates
//! them, binding `self` and `oldSelf`, and turning each failure into
//! upstream's field error.

use super::compile::CompiledRule;
use super::library;
use super::schema::{ListType, Node};
use super::values::to_cel;
use apiserver::validation::{FieldError, FieldErrorKind};
use cel::common::types::CelOptional;
use cel::{Context, ExecutionError, Value as CelValue};
use serde_json::{json, Value};

/// upstream's `MaxEvaluatedMessageExpressionSizeBytes`.
const MAX_MESSAGE_BYTES: usize = 5 * 1024;

/// Validates `value` (and its old value, on update) under `node`, whose
/// path is `path` (empty at the root), appending failures to `errors`.
pub(crate) fn walk(
    node: &Node,
    path: &str,
    value: &Value,
    old: Option<&Value>,
    errors: &mut Vec<FieldError>,
) {
    if !node.has_rules || value.is_null() {
        return;
    }
    let old = old.filter(|o| !o.is_null());
    if !node.rules.is_empty() {
        run_rules(node, path, value, old, errors);
    }
    match value {
        Value::Object(map) => {
            let old_map = old
                .filter(|_| node.is_correlatable_map())
                .and_then(Value::as_object);
            for (key, child_value) in map {
                let old_child = old_map.and_then(|m| m.get(key));
                if let Some(values) = node.additional_properties.as_deref() {
                    walk(
                        values,
                        &format!("{path}[{key}]"),
                        child_value,
                        old_child,
                        errors,
                    );
                } else if let Some((_, child)) = node.properties.get(key) {
                    walk(
                        child,
                        &child_path(path, key),
                        child_value,
                        old_child,
                        errors,
                    );
                }
            }
        }
        Value::Array(items) => {
            let Some(item_node) = node.items.as_deref() else {
                return;
            };
            let old_items = old.and_then(Value::as_array);
            for (i, item) in items.iter().enumerate() {
                let old_item = match (&node.list_type, old_items) {
                    (ListType::Map(keys), Some(old_items)) => {
                        correlated_item(keys, item, old_items)
                    }
                    _ => None,
                };
                walk(item_node, &format!("{path}[{i}]"), item, old_item, errors);
            }
        }
        _ => {}
    }
}

fn child_path(path: &str, name: &str) -> String {
    if path.is_empty() {
        name.to_string()
    } else {
        format!("{path}.{name}")
    }
}

/// The old item of a map-type list with the same key values as `item`.
fn correlated_item<'o>(keys: &[String], item: &Value, old_items: &'o [Value]) -> Option<&'o Value> {
    let key_of = |v: &Value| -> Vec<Value> {
        keys.iter()
            .map(|k| v.get(k).cloned().unwrap_or(Value::Null))
            .collect()
    };
    let wanted = key_of(item);
    old_items.iter().find(|old| key_of(old) == wanted)
}

fn run_rules(
    node: &Node,
    path: &str,
    value: &Value,
    old: Option<&Value>,
    errors: &mut Vec<FieldError>,
) {
    let mut context = Context::with_env(library::env().clone());
    context.add_variable_as_val("self", to_cel(value, Some(node)));
    let needs_old = node
        .rules
        .iter()
        .any(|r| r.uses_old_self && !r.optional_old_self);
    if let (true, Some(old)) = (needs_old, old) {
        context.add_variable_as_val("oldSelf", to_cel(old, Some(node)));
    }
    let mut optional_context = None;
    for rule in &node.rules {
        if rule.uses_old_self && old.is_none() && !rule.optional_old_self {
            continue;
        }
        let context = if rule.optional_old_self {
            optional_context.get_or_insert_with(|| {
                let mut inner = context.new_inner_scope();
                let old_self = match old {
                    Some(old) => CelOptional::of(to_cel(old, Some(node))),
                    None => CelOptional::none(),
                };
                inner.add_variable_as_val("oldSelf", Box::new(old_self));
                inner
            })
        } else {
            &context
        };
        if let Some(error) = evaluate(rule, node, path, context) {
            errors.push(error);
        }
    }
}

/// Runs one rule; the field error if it fails or cannot be evaluated.
fn evaluate(rule: &CompiledRule, node: &Node, path: &str, context: &Context) -> Option<FieldError> {
    let shown_path = |p: &str| {
        if p.is_empty() {
            "<nil>".to_string()
        } else {
            p.to_string()
        }
    };
    let type_name = json!(node.type_name);
    match rule.program.execute(context) {
        Ok(CelValue::Bool(true)) => None,
        Ok(_) => {
            let field = match &rule.field_path {
                Some(relative) => child_path(path, relative),
                None => path.to_string(),
            };
            let detail = message(rule, context);
            Some(match rule.kind {
                FieldErrorKind::Forbidden => FieldError::forbidden(shown_path(&field), detail),
                FieldErrorKind::Required => FieldError::required(shown_path(&field), detail),
                FieldErrorKind::Duplicate => FieldError::duplicate(shown_path(&field), type_name),
                _ => FieldError::invalid(shown_path(&field), type_name, detail),
            })
        }
        Err(error) => Some(FieldError::invalid(
            shown_path(path),
            type_name,
            runtime_error(&error, rule),
        )),
    }
}

/// The failure message: the messageExpression's result when it gives a
/// usable one, else `message`, else upstream's `failed rule: <rule>`.
fn message(rule: &CompiledRule, context: &Context) -> String {
    let evaluated = rule
        .message_expression
        .as_ref()
        .and_then(|expression| match expression.execute(context) {
            Ok(CelValue::String(text)) => Some(text.trim().to_string()),
            _ => None,
        })
        .filter(|text| !text.is_empty() && text.len() <= MAX_MESSAGE_BYTES && !text.contains('\n'));
    evaluated.unwrap_or_else(|| match &rule.message {
        Some(message) => message.clone(),
        None => format!("failed rule: {}", rule.source),
    })
}

/// A runtime error in upstream's words: cel-go's error text, then which
/// rule it came from.
fn runtime_error(error: &ExecutionError, rule: &CompiledRule) -> String {
    let name = rule.error_name();
    if let ExecutionError::NoSuchOverload(_) = error {
        return format!(
            "'no such overload': call arguments did not match a supported operator, function or macro signature for rule: {name}"
        );
    }
    let text = match error {
        ExecutionError::NoSuchKey(key) => format!("no such key: {key}"),
        ExecutionError::DivisionByZero(_) => "division by zero".to_string(),
        ExecutionError::RemainderByZero(_) => "modulus by zero".to_string(),
        ExecutionError::Overflow(..) => "integer overflow".to_string(),
        ExecutionError::IndexOutOfBounds(CelValue::Int(index)) => {
            format!("index out of bounds: {index}")
        }
        ExecutionError::FunctionError { message, .. } => message.clone(),
        other => other.to_string(),
    };
    format!("{text} evaluating rule: {name}")
}
