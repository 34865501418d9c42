//! The part of an openAPIV3Schema that CEL rules see: each node's type,
//! format and children, read once from the JSON when a CRD is compiled, so
//! evaluation never looks at the schema JSON again.

use super::compile::CompiledRule;
use serde_json::Value;
use std::collections::BTreeMap;

/// How a list correlates its items with the old list on update
/// (`x-kubernetes-list-type`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ListType {
    /// `atomic` (the default): items have no identity across updates.
    Atomic,
    /// `set`: items have no identity across updates either.
    Set,
    /// `map`: items are identified by the values of these keys.
    Map(Vec<String>),
}

/// One node of the structural schema.
#[derive(Debug)]
pub(crate) struct Node {
    /// `type` as written; empty for int-or-string and untyped nodes. Runtime
    /// errors show it as the invalid value, as upstream does.
    pub type_name: String,
    pub format: String,
    /// The properties by JSON name, each with the name CEL knows it by
    /// (`None` when it cannot be escaped, so rules cannot see it).
    pub properties: BTreeMap<String, (Option<String>, Node)>,
    pub additional_properties: Option<Box<Node>>,
    pub items: Option<Box<Node>>,
    pub preserve_unknown_fields: bool,
    pub int_or_string: bool,
    /// Set on the root of a resource: the CRD root and
    /// `x-kubernetes-embedded-resource` objects. CEL sees only `apiVersion`,
    /// `kind`, `metadata.name` and `metadata.generateName` of its metadata.
    pub resource_root: bool,
    pub list_type: ListType,
    /// `x-kubernetes-map-type`; upstream correlates `granular` and `atomic`
    /// maps (and unset), nothing else.
    pub map_type: Option<String>,
    /// This node's compiled rules, filled in by the compiler.
    pub rules: Vec<CompiledRule>,
    /// Whether this node or any below it has rules, so evaluation can skip
    /// whole subtrees.
    pub has_rules: bool,
}

impl Node {
    /// Reads a schema node; anything malformed is treated as absent, since
    /// the structural-schema checks report it on their own.
    pub fn parse(schema: &Value, resource_root: bool) -> Node {
        let text = |key: &str| {
            schema
                .get(key)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string()
        };
        let flag = |key: &str| schema.get(key).and_then(Value::as_bool).unwrap_or(false);
        let properties = schema
            .get("properties")
            .and_then(Value::as_object)
            .map(|props| {
                props
                    .iter()
                    .map(|(name, prop)| {
                        let node = Node::parse(prop, is_embedded(prop));
                        (name.clone(), (escape_property(name), node))
                    })
                    .collect()
            })
            .unwrap_or_default();
        let additional_properties = schema
            .get("additionalProperties")
            .filter(|a| a.is_object())
            .map(|a| Box::new(Node::parse(a, is_embedded(a))));
        let items = schema
            .get("items")
            .filter(|i| i.is_object())
            .map(|i| Box::new(Node::parse(i, is_embedded(i))));
        let list_type = match schema.get("x-kubernetes-list-type").and_then(Value::as_str) {
            Some("map") => ListType::Map(string_list(schema.get("x-kubernetes-list-map-keys"))),
            Some("set") => ListType::Set,
            _ => ListType::Atomic,
        };
        Node {
            type_name: text("type"),
            format: text("format"),
            properties,
            additional_properties,
            items,
            preserve_unknown_fields: flag("x-kubernetes-preserve-unknown-fields"),
            int_or_string: flag("x-kubernetes-int-or-string"),
            resource_root,
            list_type,
            map_type: schema
                .get("x-kubernetes-map-type")
                .and_then(Value::as_str)
                .map(str::to_string),
            rules: Vec::new(),
            has_rules: false,
        }
    }

    /// Whether old and new values of this map-like object correlate key by
    /// key (upstream's `MapIsCorrelatable`).
    pub fn is_correlatable_map(&self) -> bool {
        matches!(self.map_type.as_deref(), None | Some("granular" | "atomic"))
    }
}

fn is_embedded(schema: &Value) -> bool {
    schema
        .get("x-kubernetes-embedded-resource")
        .and_then(Value::as_bool)
        .unwrap_or(false)
}

fn string_list(value: Option<&Value>) -> Vec<String> {
    value
        .and_then(Value::as_array)
        .map(|keys| {
            keys.iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

/// CEL keywords a property name may not be used as unescaped.
const RESERVED: &[&str] = &[
    "true",
    "false",
    "null",
    "in",
    "as",
    "break",
    "const",
    "continue",
    "else",
    "for",
    "function",
    "if",
    "import",
    "let",
    "loop",
    "package",
    "namespace",
    "return",
    "var",
    "void",
    "while",
];

/// The name a property is reachable by in CEL, as upstream escapes it:
/// reserved words become `__word__`, and `__`, `.`, `-`, `/` become
/// `__underscores__`, `__dot__`, `__dash__`, `__slash__`. `None` for a name
/// that cannot be escaped; such a property is invisible to rules.
pub(crate) fn escape_property(name: &str) -> Option<String> {
    let mut chars = name.chars();
    let first = chars.next()?;
    let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-' | '/');
    if !(first.is_ascii_alphabetic() || matches!(first, '_' | '.' | '-' | '/')) {
        return None;
    }
    if !chars.all(allowed) {
        return None;
    }
    if RESERVED.contains(&name) {
        return Some(format!("__{name}__"));
    }
    let mut escaped = String::with_capacity(name.len());
    let mut rest = name;
    while let Some(c) = rest.chars().next() {
        if let Some(after) = rest.strip_prefix("__") {
            escaped.push_str("__underscores__");
            rest = after;
            continue;
        }
        match c {
            '.' => escaped.push_str("__dot__"),
            '-' => escaped.push_str("__dash__"),
            '/' => escaped.push_str("__slash__"),
            other => escaped.push(other),
        }
        rest = &rest[c.len_utf8()..];
    }
    Some(escaped)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn property_names_are_escaped_as_upstream() {
        assert_eq!(escape_property("replicas").as_deref(), Some("replicas"));
        assert_eq!(
            escape_property("namespace").as_deref(),
            Some("__namespace__")
        );
        assert_eq!(
            escape_property("a-b.c/d").as_deref(),
            Some("a__dash__b__dot__c__slash__d")
        );
        assert_eq!(
            escape_property("a__b").as_deref(),
            Some("a__underscores__b")
        );
        assert_eq!(escape_property("1abc"), None);
        assert_eq!(escape_property("a b"), None);
    }

    #[test]
    fn parse_reads_list_and_map_types() {
        let node = Node::parse(
            &json!({
                "type": "array",
                "x-kubernetes-list-type": "map",
                "x-kubernetes-list-map-keys": ["name"],
                "items": {"type": "object", "x-kubernetes-embedded-resource": true}
            }),
            false,
        );
        assert_eq!(node.list_type, ListType::Map(vec!["name".into()]));
        assert!(node.items.as_ref().is_some_and(|i| i.resource_root));
    }
}
