//! JSON to CEL values, typed by the schema as upstream's
//! `UnstructuredToVal` does: `integer` fields are ints and `number` fields
//! doubles whatever the JSON spelling, string formats `byte`, `duration`,
//! `date` and `date-time` become bytes, durations and timestamps, and
//! objects are maps keyed by their properties' escaped names. Strings are
//! borrowed from the JSON, not copied.

use super::schema::Node;
use base64::Engine;
use cel::common::types::{
    CelBool, CelBytes, CelDouble, CelDuration, CelInt, CelList, CelMap, CelMapKey, CelNull,
    CelString, CelTimestamp, CelUInt,
};
use cel::common::value::Val;
use serde_json::{Map, Value};
use std::collections::HashMap;

/// `value` as a CEL value, typed by `node` (untyped when `None`).
pub(crate) fn to_cel<'v>(value: &'v Value, node: Option<&'v Node>) -> Box<dyn Val + 'v> {
    let node = node.filter(|n| !n.int_or_string);
    match value {
        Value::Null => Box::new(CelNull),
        Value::Bool(b) => Box::new(CelBool::from(*b)),
        Value::Number(n) => number(n, node.map(|n| n.type_name.as_str())),
        Value::String(s) => string(s, node.map_or("", |n| n.format.as_str())),
        Value::Array(items) => {
            let items_node = node.and_then(|n| n.items.as_deref());
            let list: Vec<Box<dyn Val + 'v>> =
                items.iter().map(|item| to_cel(item, items_node)).collect();
            Box::new(CelList::from(list))
        }
        Value::Object(map) => object(map, node),
    }
}

fn number<'v>(n: &serde_json::Number, type_name: Option<&str>) -> Box<dyn Val + 'v> {
    match type_name {
        Some("number") => Box::new(CelDouble::from(n.as_f64().unwrap_or_default())),
        Some("integer") => match n.as_i64() {
            Some(i) => Box::new(CelInt::from(i)),
            None => match n.as_u64() {
                Some(u) => Box::new(CelUInt::from(u)),
                None => Box::new(CelInt::from(n.as_f64().unwrap_or_default() as i64)),
            },
        },
        _ => {
            if let Some(i) = n.as_i64() {
                Box::new(CelInt::from(i))
            } else if let Some(u) = n.as_u64() {
                Box::new(CelUInt::from(u))
            } else {
                Box::new(CelDouble::from(n.as_f64().unwrap_or_default()))
            }
        }
    }
}

/// A string by its format; a value that does not parse stays a string (the
/// schema's format check reports it on its own).
fn string<'v>(text: &'v str, format: &str) -> Box<dyn Val + 'v> {
    let converted: Option<Box<dyn Val + 'v>> = match format {
        "byte" => base64::engine::general_purpose::STANDARD
            .decode(text)
            .ok()
            .map(|bytes| Box::new(CelBytes::from(bytes)) as Box<dyn Val>),
        "duration" => parse_duration(text).map(|d| Box::new(CelDuration::from(d)) as Box<dyn Val>),
        "date-time" => chrono::DateTime::parse_from_rfc3339(text)
            .ok()
            .map(|t| Box::new(CelTimestamp::from(t)) as Box<dyn Val>),
        "date" => chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d")
            .ok()
            .and_then(|d| d.and_hms_opt(0, 0, 0))
            .map(|t| Box::new(CelTimestamp::from(t.and_utc().fixed_offset())) as Box<dyn Val>),
        _ => None,
    };
    converted.unwrap_or_else(|| Box::new(CelString::from(text)))
}

fn object<'v>(map: &'v Map<String, Value>, node: Option<&'v Node>) -> Box<dyn Val + 'v> {
    let Some(node) = node else {
        return untyped_object(map, None);
    };
    if let Some(values) = node.additional_properties.as_deref() {
        return untyped_object(map, Some(values));
    }
    if node.properties.is_empty() && !node.resource_root {
        return untyped_object(map, None);
    }
    let mut entries: HashMap<CelMapKey<'v>, Box<dyn Val + 'v>> = HashMap::with_capacity(map.len());
    for (name, value) in map {
        if node.resource_root {
            if let Some(field) = resource_field(name, value) {
                entries.insert(CelMapKey::from(name.as_str()), field);
                continue;
            }
        }
        if let Some((Some(cel_name), prop)) = node.properties.get(name) {
            entries.insert(
                CelMapKey::from(cel_name.as_str()),
                to_cel(value, Some(prop)),
            );
        }
    }
    Box::new(CelMap::from(entries))
}

/// `apiVersion`, `kind` and the visible part of `metadata` at a resource
/// root: only `name` and `generateName`, as upstream's
/// `WithTypeAndObjectMeta`.
fn resource_field<'v>(name: &str, value: &'v Value) -> Option<Box<dyn Val + 'v>> {
    match (name, value) {
        ("apiVersion" | "kind", Value::String(s)) => Some(Box::new(CelString::from(s.as_str()))),
        ("metadata", Value::Object(meta)) => {
            let entries: HashMap<CelMapKey<'v>, Box<dyn Val + 'v>> = meta
                .iter()
                .filter(|(k, _)| *k == "name" || *k == "generateName")
                .filter_map(|(k, v)| {
                    let text = v.as_str()?;
                    Some((
                        CelMapKey::from(k.as_str()),
                        Box::new(CelString::from(text)) as Box<dyn Val>,
                    ))
                })
                .collect();
            Some(Box::new(CelMap::from(entries)))
        }
        _ => None,
    }
}

/// A map keyed by the JSON names, every value typed by `values`.
fn untyped_object<'v>(map: &'v Map<String, Value>, values: Option<&'v Node>) -> Box<dyn Val + 'v> {
    let entries: HashMap<CelMapKey<'v>, Box<dyn Val + 'v>> = map
        .iter()
        .map(|(k, v)| (CelMapKey::from(k.as_str()), to_cel(v, values)))
        .collect();
    Box::new(CelMap::from(entries))
}

/// Parses a Go duration (`1h30m`, `-1.5s`, `300ms`), also with the `d`
/// and `w` units the OpenAPI `duration` format allows.
pub(crate) fn parse_duration(text: &str) -> Option<chrono::Duration> {
    apiserver::duration::parse_nanos(text, apiserver::duration::Units::WithDaysAndWeeks)
        .ok()
        .map(chrono::Duration::nanoseconds)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_as_go_does() {
        assert_eq!(parse_duration("1h30m"), Some(chrono::Duration::minutes(90)));
        assert_eq!(
            parse_duration("-1.5s"),
            Some(chrono::Duration::milliseconds(-1500))
        );
        assert_eq!(
            parse_duration("300ms"),
            Some(chrono::Duration::milliseconds(300))
        );
        assert_eq!(parse_duration("0"), Some(chrono::Duration::zero()));
        assert_eq!(parse_duration("10"), None);
        assert_eq!(parse_duration("1x"), None);
    }
}
