//! The table of every message in upstream's generated.proto files, loaded
//! from `protobuf_schema.txt`. That file is written by
//! `tools/protobuf-schema/generate.py` from the k8s-pb crate (fields, tags and
//! types), the k8s-openapi crate (JSON keys and required fields) and the Go
//! type data of a kubectl binary (which fields are pointers); see the
//! generator for its format.

use std::collections::HashMap;
use std::sync::LazyLock;

const TABLE: &str = include_str!("../protobuf_schema.txt");

pub(super) static SCHEMA: LazyLock<Schema> = LazyLock::new(|| {
    Schema::parse(TABLE).expect("the committed protobuf schema table is well formed")
});

const META: &str = "k8s.io.apimachinery.pkg.apis.meta.v1.";

/// Index of a message in [`Schema::messages`].
pub(super) type MessageId = usize;

pub(super) struct Schema {
    pub(super) messages: Vec<Message>,
    kinds: HashMap<(String, String), MessageId>,
    /// meta.v1 kinds (Status, DeleteOptions, ...) valid under any apiVersion.
    any_version_kinds: HashMap<String, MessageId>,
}

/// Messages whose JSON form is not an object of their fields: upstream gives
/// the Go types behind them custom JSON marshalling.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Shape {
    Object,
    /// meta.v1.Time: RFC 3339 in whole seconds, null when zero.
    Time,
    /// meta.v1.MicroTime: RFC 3339 with six fractional digits, null when zero.
    MicroTime,
    /// meta.v1.Duration: Go's duration string such as "1h0m0s".
    Duration,
    /// resource.Quantity: its canonical string.
    Quantity,
    /// intstr.IntOrString: a JSON number or string.
    IntOrString,
    /// RawExtension, FieldsV1 and apiextensions JSON: bytes holding JSON.
    RawJson,
    /// A Go named slice (ExtraValue, Verbs): the bare list of its items.
    Slice,
    /// JSONSchemaPropsOrBool: a bool, or a schema object.
    SchemaOrBool,
    /// JSONSchemaPropsOrArray: a schema object, or a list of schemas.
    SchemaOrArray,
    /// JSONSchemaPropsOrStringArray: a schema object, or a list of strings.
    SchemaOrStrings,
}

pub(super) struct Message {
    pub(super) name: String,
    pub(super) shape: Shape,
    /// Sorted by tag: upstream writes fields in that order.
    pub(super) fields: Vec<Field>,
}

impl Message {
    pub(super) fn field(&self, tag: u32) -> Option<&Field> {
        self.fields
            .binary_search_by_key(&tag, |field| field.tag)
            .ok()
            .and_then(|at| self.fields.get(at))
    }
}

pub(super) struct Field {
    pub(super) tag: u32,
    /// None for an embedded Go struct whose fields JSON lifts into the parent.
    pub(super) json: Option<String>,
    pub(super) label: Label,
    pub(super) value: Type,
    /// For maps, the key type (always a scalar).
    pub(super) key: Option<Type>,
    /// A zero value read from the wire still belongs in JSON: upstream's field
    /// has no `omitempty` (it is required) or is a Go pointer, whose zero was
    /// set on purpose. For a list: JSON shows it even when empty.
    pub(super) keeps_zero: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Label {
    Optional,
    Repeated,
    Map,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Type {
    String,
    Bytes,
    Bool,
    Int32,
    Int64,
    Double,
    Message(MessageId),
}

impl Schema {
    pub(super) fn message(&self, id: MessageId) -> Option<&Message> {
        self.messages.get(id)
    }

    #[cfg(test)]
    pub(super) fn by_name(&self, name: &str) -> Option<MessageId> {
        self.messages
            .iter()
            .position(|message| message.name == name)
    }

    pub(super) fn kind(&self, api_version: &str, kind: &str) -> Option<MessageId> {
        self.kinds
            .get(&(api_version.to_owned(), kind.to_owned()))
            .or_else(|| self.any_version_kinds.get(kind))
            .copied()
    }

    fn parse(table: &str) -> Result<Self, String> {
        let mut messages: Vec<Message> = Vec::new();
        let mut by_name = HashMap::new();
        let mut pending_fields: Vec<Vec<Vec<&str>>> = Vec::new();
        let mut kind_lines = Vec::new();
        for (number, line) in table.lines().enumerate() {
            let parts: Vec<&str> = line.split(' ').collect();
            match parts.as_slice() {
                ["M", name, rest @ ..] => {
                    by_name.insert((*name).to_owned(), messages.len());
                    let shape = if rest.first() == Some(&"slice") {
                        Shape::Slice
                    } else {
                        shape_of(name)
                    };
                    messages.push(Message {
                        name: (*name).to_owned(),
                        shape,
                        fields: Vec::new(),
                    });
                    pending_fields.push(Vec::new());
                }
                ["F", ..] if parts.len() == 6 => match pending_fields.last_mut() {
                    Some(fields) => fields.push(parts),
                    None => return Err(format!("line {}: field before any message", number + 1)),
                },
                ["K", version, kind, message] => kind_lines.push((*version, *kind, *message)),
                [""] => {}
                _ => return Err(format!("line {}: cannot parse {line:?}", number + 1)),
            }
        }
        for (message, fields) in messages.iter_mut().zip(pending_fields) {
            for parts in fields {
                message.fields.push(parse_field(&parts, &by_name)?);
            }
            message.fields.sort_by_key(|field| field.tag);
        }
        let mut kinds = HashMap::new();
        let mut any_version_kinds = HashMap::new();
        for (version, kind, message) in kind_lines {
            let id = *by_name
                .get(message)
                .ok_or_else(|| format!("kind {kind} names unknown {message}"))?;
            if version == "*" {
                any_version_kinds.insert(kind.to_owned(), id);
            } else {
                kinds.insert((version.to_owned(), kind.to_owned()), id);
            }
        }
        Ok(Self {
            messages,
            kinds,
            any_version_kinds,
        })
    }
}

fn parse_field(parts: &[&str], by_name: &HashMap<String, MessageId>) -> Result<Field, String> {
    let [_, tag, json, label, value, keeps_zero] = parts else {
        return Err(format!("bad field line {parts:?}"));
    };
    let tag = tag.parse().map_err(|_| format!("bad tag in {parts:?}"))?;
    let label = match *label {
        "opt" => Label::Optional,
        "rep" => Label::Repeated,
        "map" => Label::Map,
        other => return Err(format!("bad label {other}")),
    };
    let (key, value) = match (label, value.split_once(',')) {
        (Label::Map, Some((key, value))) => {
            (Some(parse_type(key, by_name)?), parse_type(value, by_name)?)
        }
        _ => (None, parse_type(value, by_name)?),
    };
    let json = (*json != "-").then(|| (*json).to_owned());
    Ok(Field {
        tag,
        json,
        label,
        value,
        key,
        keeps_zero: *keeps_zero == "1",
    })
}

fn parse_type(name: &str, by_name: &HashMap<String, MessageId>) -> Result<Type, String> {
    Ok(match name {
        "string" => Type::String,
        "bytes" => Type::Bytes,
        "bool" => Type::Bool,
        "int32" => Type::Int32,
        "int64" => Type::Int64,
        "double" => Type::Double,
        message => Type::Message(
            *by_name
                .get(message)
                .ok_or_else(|| format!("unknown message {message}"))?,
        ),
    })
}

fn shape_of(name: &str) -> Shape {
    let simple = name.rsplit('.').next().unwrap_or(name);
    match name.strip_prefix(META) {
        Some("Time") => return Shape::Time,
        Some("MicroTime") => return Shape::MicroTime,
        Some("Duration") => return Shape::Duration,
        Some("FieldsV1") => return Shape::RawJson,
        _ => {}
    }
    match name {
        "k8s.io.apimachinery.pkg.api.resource.Quantity" => Shape::Quantity,
        "k8s.io.apimachinery.pkg.util.intstr.IntOrString" => Shape::IntOrString,
        "k8s.io.apimachinery.pkg.runtime.RawExtension" => Shape::RawJson,
        _ if name.starts_with("k8s.io.apiextensions-apiserver.") => match simple {
            "Json" => Shape::RawJson,
            "JsonSchemaPropsOrBool" => Shape::SchemaOrBool,
            "JsonSchemaPropsOrArray" => Shape::SchemaOrArray,
            "JsonSchemaPropsOrStringArray" => Shape::SchemaOrStrings,
            _ => Shape::Object,
        },
        _ => Shape::Object,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_parses_and_names_the_built_in_kinds() {
        let schema = Schema::parse(TABLE).expect("table parses");
        for (version, kind) in [
            ("v1", "Pod"),
            ("v1", "PodList"),
            ("apps/v1", "Deployment"),
            ("authentication.k8s.io/v1", "TokenRequest"),
            ("v1", "Status"),
            ("apps/v1", "DeleteOptions"),
        ] {
            assert!(schema.kind(version, kind).is_some(), "{version} {kind}");
        }
    }
}
