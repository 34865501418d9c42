//! The compiled form of one JSONSchemaProps node. Built once per CRD version
//! from the (already checked) schema JSON; pruning, defaulting and
//! validation walk it without looking at the JSON again.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use super::formats::Format;
use super::pattern::Pattern;

/// The `type` a node declares, as kube-openapi sees it: nothing, one JSON
/// type, or `integer,string` for `x-kubernetes-int-or-string`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Types {
    #[default]
    Any,
    One(&'static str),
    IntOrString,
}

impl Types {
    pub fn contains(self, name: &str) -> bool {
        match self {
            Types::Any => false,
            Types::One(declared) => declared == name,
            Types::IntOrString => name == "integer" || name == "string",
        }
    }

    /// The type list as kube-openapi joins it in messages (`integer,string`).
    pub fn joined(self) -> &'static str {
        match self {
            Types::Any => "",
            Types::One(declared) => declared,
            Types::IntOrString => "integer,string",
        }
    }

    pub fn is_any(self) -> bool {
        self == Types::Any
    }
}

/// `additionalProperties`: absent, a boolean, or a schema for the values.
#[derive(Debug, Clone, Default)]
pub enum Additional {
    #[default]
    Absent,
    Allows(bool),
    Schema(Box<Node>),
}

impl Additional {
    pub fn is_present(&self) -> bool {
        !matches!(self, Additional::Absent)
    }

    /// The value schema, when there is one.
    pub fn schema(&self) -> Option<&Node> {
        match self {
            Additional::Schema(node) => Some(node),
            _ => None,
        }
    }
}

/// `x-kubernetes-list-type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListType {
    Atomic,
    Set,
    Map,
}

/// One schema node with every keyword the runtime uses.
#[derive(Debug, Clone, Default)]
pub struct Node {
    pub types: Types,
    pub nullable: bool,
    /// The declared format as written (`date-time`), kept only when
    /// upstream keeps it for validation (see `formats::supported_format`).
    pub format_name: Option<String>,
    /// The validator for `format_name`, when it names a string format.
    pub format: Option<Format>,
    pub default: Option<Value>,
    pub maximum: Option<f64>,
    pub exclusive_maximum: bool,
    pub minimum: Option<f64>,
    pub exclusive_minimum: bool,
    pub multiple_of: Option<f64>,
    pub max_length: Option<i64>,
    pub min_length: Option<i64>,
    pub pattern: Option<Pattern>,
    pub max_items: Option<i64>,
    pub min_items: Option<i64>,
    pub unique_items: bool,
    pub max_properties: Option<i64>,
    pub min_properties: Option<i64>,
    pub required: Vec<String>,
    pub enumeration: Option<Vec<Value>>,
    pub properties: BTreeMap<String, Node>,
    pub additional: Additional,
    pub items: Option<Box<Node>>,
    pub all_of: Vec<Node>,
    pub any_of: Vec<Node>,
    pub one_of: Vec<Node>,
    pub not: Option<Box<Node>>,
    pub preserve_unknown_fields: bool,
    pub embedded_resource: bool,
    pub list_type: Option<ListType>,
    pub list_map_keys: Vec<String>,
}

impl Node {
    /// Builds the node for `schema`. Keywords of the wrong JSON type were
    /// reported by the compile-time checks; here they are simply skipped.
    pub fn build(schema: &Value) -> Node {
        let Some(props) = schema.as_object() else {
            return Node::default();
        };
        let int_or_string = flag(props, "x-kubernetes-int-or-string");
        let declared = props.get("type").and_then(Value::as_str).unwrap_or("");
        let types = if int_or_string {
            Types::IntOrString
        } else {
            static_type(declared).map_or(Types::Any, Types::One)
        };
        let format_name = props
            .get("format")
            .and_then(Value::as_str)
            .filter(|format| super::formats::supported_format(types, format))
            .map(str::to_string);
        let format = format_name.as_deref().and_then(Format::named);
        Node {
            types,
            nullable: flag(props, "nullable"),
            format,
            format_name,
            default: props.get("default").cloned(),
            maximum: number(props, "maximum"),
            exclusive_maximum: flag(props, "exclusiveMaximum"),
            minimum: number(props, "minimum"),
            exclusive_minimum: flag(props, "exclusiveMinimum"),
            multiple_of: number(props, "multipleOf"),
            max_length: integer(props, "maxLength"),
            min_length: integer(props, "minLength"),
            pattern: props
                .get("pattern")
                .and_then(Value::as_str)
                .and_then(|source| Pattern::compile(source).ok()),
            max_items: integer(props, "maxItems"),
            min_items: integer(props, "minItems"),
            unique_items: flag(props, "uniqueItems"),
            max_properties: integer(props, "maxProperties"),
            min_properties: integer(props, "minProperties"),
            required: strings(props, "required"),
            enumeration: props.get("enum").and_then(Value::as_array).cloned(),
            properties: props
                .get("properties")
                .and_then(Value::as_object)
                .map(|map| {
                    map.iter()
                        .map(|(k, v)| (k.clone(), Node::build(v)))
                        .collect()
                })
                .unwrap_or_default(),
            additional: match props.get("additionalProperties") {
                Some(Value::Bool(allows)) => Additional::Allows(*allows),
                Some(schema @ Value::Object(_)) => {
                    Additional::Schema(Box::new(Node::build(schema)))
                }
                _ => Additional::Absent,
            },
            items: props
                .get("items")
                .filter(|items| items.is_object())
                .map(|items| Box::new(Node::build(items))),
            all_of: list(props, "allOf"),
            any_of: list(props, "anyOf"),
            one_of: list(props, "oneOf"),
            not: props.get("not").map(|not| Box::new(Node::build(not))),
            preserve_unknown_fields: flag(props, "x-kubernetes-preserve-unknown-fields"),
            embedded_resource: flag(props, "x-kubernetes-embedded-resource"),
            list_type: match props.get("x-kubernetes-list-type").and_then(Value::as_str) {
                Some("atomic") => Some(ListType::Atomic),
                Some("set") => Some(ListType::Set),
                Some("map") => Some(ListType::Map),
                _ => None,
            },
            list_map_keys: strings(props, "x-kubernetes-list-map-keys"),
        }
    }

    /// The schema applying to the value of `key` of an object this node
    /// describes, with whether the key is known at all (a property, or any
    /// key when `additionalProperties` is present).
    pub fn field(&self, key: &str) -> (bool, Option<&Node>) {
        if let Some(property) = self.properties.get(key) {
            return (true, Some(property));
        }
        (self.additional.is_present(), self.additional.schema())
    }
}

fn static_type(name: &str) -> Option<&'static str> {
    ["object", "array", "string", "integer", "number", "boolean"]
        .into_iter()
        .find(|known| *known == name)
}

fn flag(props: &Map<String, Value>, key: &str) -> bool {
    props.get(key).and_then(Value::as_bool).unwrap_or(false)
}

fn number(props: &Map<String, Value>, key: &str) -> Option<f64> {
    props.get(key).and_then(Value::as_f64)
}

fn integer(props: &Map<String, Value>, key: &str) -> Option<i64> {
    let value = props.get(key)?;
    value.as_i64().or_else(|| value.as_f64().map(|f| f as i64))
}

fn strings(props: &Map<String, Value>, key: &str) -> Vec<String> {
    props
        .get(key)
        .and_then(Value::as_array)
        .map(|items| {
            items
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

fn list(props: &Map<String, Value>, key: &str) -> Vec<Node> {
    props
        .get(key)
        .and_then(Value::as_array)
        .map(|items| items.iter().map(Node::build).collect())
        .unwrap_or_default()
}
