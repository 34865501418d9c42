//! Structural pruning (apiextensions `pruning.PruneWithOptions`): object
//! fields the schema does not specify are dropped, except under
//! `x-kubernetes-preserve-unknown-fields`, and `apiVersion`, `kind` and
//! `metadata` of the resource root and of embedded resources are left
//! alone. The dropped fields' paths come back in upstream's form
//! (`spec.foo`, `spec.items[0].bar`), sorted, for the `unknown field "…"`
//! messages of `fieldValidation=Strict` and `Warn`.

use serde_json::Value;

use super::node::Node;

const META_FIELDS: [&str; 3] = ["apiVersion", "kind", "metadata"];

/// Prunes `value` against `node`; `is_resource_root` treats the node as an
/// embedded resource (its meta fields are kept).
pub fn prune(value: &mut Value, node: &Node, is_resource_root: bool) -> Vec<String> {
    let mut pruner = Pruner::default();
    pruner.prune(value, Some(node), is_resource_root);
    pruner.pruned.sort();
    pruner.pruned
}

#[derive(Default)]
struct Pruner {
    path: String,
    pruned: Vec<String>,
}

impl Pruner {
    fn prune(&mut self, value: &mut Value, node: Option<&Node>, embedded: bool) {
        if let Some(node) = node.filter(|node| node.preserve_unknown_fields) {
            self.skip(value, node, embedded || node.embedded_resource);
            return;
        }
        match value {
            Value::Object(map) => {
                let Some(node) = node else {
                    for key in std::mem::take(map).keys() {
                        self.record(key);
                    }
                    return;
                };
                let embedded = embedded || node.embedded_resource;
                map.retain(|key, child| {
                    if embedded && META_FIELDS.contains(&key.as_str()) {
                        return true;
                    }
                    let (known, schema) = node.field(key);
                    if known {
                        self.descend_key(key, |pruner| pruner.prune(child, schema, false));
                    } else if !META_FIELDS.contains(&key.as_str()) || !self.path.is_empty() {
                        self.record(key);
                    }
                    known
                });
            }
            Value::Array(items) => {
                let items_schema = node.and_then(|node| node.items.as_deref());
                for (index, item) in items.iter_mut().enumerate() {
                    self.descend_index(index, |pruner| pruner.prune(item, items_schema, false));
                }
            }
            _ => {}
        }
    }

    /// Under `x-kubernetes-preserve-unknown-fields`: unknown fields stay,
    /// specified ones are still pruned below.
    fn skip(&mut self, value: &mut Value, node: &Node, embedded: bool) {
        match value {
            Value::Object(map) => {
                for (key, child) in map.iter_mut() {
                    if embedded && META_FIELDS.contains(&key.as_str()) {
                        continue;
                    }
                    if let (true, schema) = node.field(key) {
                        self.descend_key(key, |pruner| pruner.prune(child, schema, false));
                    }
                }
            }
            Value::Array(items) => {
                let Some(items_schema) = node.items.as_deref() else {
                    return;
                };
                for (index, item) in items.iter_mut().enumerate() {
                    self.descend_index(index, |pruner| {
                        pruner.skip(item, items_schema, items_schema.embedded_resource)
                    });
                }
            }
            _ => {}
        }
    }

    fn descend_key(&mut self, key: &str, step: impl FnOnce(&mut Self)) {
        let length = self.path.len();
        if !self.path.is_empty() {
            self.path.push('.');
        }
        self.path.push_str(key);
        step(self);
        self.path.truncate(length);
    }

    fn descend_index(&mut self, index: usize, step: impl FnOnce(&mut Self)) {
        let length = self.path.len();
        self.path.push_str(&format!("[{index}]"));
        step(self);
        self.path.truncate(length);
    }

    fn record(&mut self, key: &str) {
        let separator = if self.path.is_empty() { "" } else { "." };
        self.pruned.push(format!("{}{separator}{key}", self.path));
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn node(schema: Value) -> Node {
        Node::build(&schema)
    }

    #[test]
    fn unknown_fields_are_dropped_and_named() {
        let schema = node(json!({
            "type": "object",
            "properties": {
                "spec": {"type": "object", "properties": {
                    "replicas": {"type": "integer"},
                    "items": {"type": "array", "items": {"type": "object", "properties": {"name": {"type": "string"}}}}
                }}
            }
        }));
        let mut object = json!({
            "apiVersion": "a/v1", "kind": "K", "metadata": {"name": "x", "odd": 1},
            "spec": {"replicas": 1, "unknownField": true, "items": [{"name": "a", "extra": 1}]},
            "status": {"x": 1}
        });
        let pruned = prune(&mut object, &schema, true);
        assert_eq!(
            pruned,
            vec!["spec.items[0].extra", "spec.unknownField", "status"]
        );
        assert_eq!(
            object,
            json!({"apiVersion": "a/v1", "kind": "K", "metadata": {"name": "x", "odd": 1},
                   "spec": {"replicas": 1, "items": [{"name": "a"}]}})
        );
    }

    #[test]
    fn preserve_unknown_fields_keeps_unknowns_but_prunes_known_subtrees() {
        let schema = node(json!({
            "type": "object",
            "properties": {"spec": {
                "type": "object",
                "x-kubernetes-preserve-unknown-fields": true,
                "properties": {"known": {"type": "object", "properties": {"a": {"type": "string"}}}}
            }}
        }));
        let mut object = json!({"spec": {"free": {"deep": 1}, "known": {"a": "x", "b": "y"}}});
        let pruned = prune(&mut object, &schema, true);
        assert_eq!(pruned, vec!["spec.known.b"]);
        assert_eq!(
            object,
            json!({"spec": {"free": {"deep": 1}, "known": {"a": "x"}}})
        );
    }

    #[test]
    fn embedded_resources_keep_their_meta_fields() {
        let schema = node(json!({
            "type": "object",
            "properties": {"template": {
                "type": "object",
                "x-kubernetes-embedded-resource": true,
                "properties": {"spec": {"type": "object", "properties": {"a": {"type": "string"}}}}
            }}
        }));
        let mut object = json!({"template": {
            "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
            "spec": {"a": "x", "b": 1}, "other": 2
        }});
        let pruned = prune(&mut object, &schema, true);
        assert_eq!(pruned, vec!["template.other", "template.spec.b"]);
        assert_eq!(
            object,
            json!({"template": {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": {"a": "x"}}})
        );
    }

    #[test]
    fn additional_properties_apply_their_schema_to_every_value() {
        let schema = node(json!({
            "type": "object",
            "properties": {
                "labels": {"type": "object", "additionalProperties": {"type": "string"}},
                "things": {"type": "object", "additionalProperties": {"type": "object", "properties": {"a": {"type": "integer"}}}},
                "loose": {"type": "object", "additionalProperties": true}
            }
        }));
        let mut object = json!({
            "labels": {"x": "y"},
            "things": {"one": {"a": 1, "b": 2}},
            "loose": {"k": {"nested": 1}, "s": "v"}
        });
        let pruned = prune(&mut object, &schema, true);
        assert_eq!(pruned, vec!["loose.k.nested", "things.one.b"]);
        assert_eq!(
            object,
            json!({"labels": {"x": "y"}, "things": {"one": {"a": 1}}, "loose": {"k": {}, "s": "v"}})
        );
    }

    #[test]
    fn nested_meta_named_fields_are_pruned_outside_resources() {
        let schema = node(json!({"type": "object", "properties": {"spec": {"type": "object"}}}));
        let mut object = json!({"spec": {"kind": "x", "metadata": {}}});
        let pruned = prune(&mut object, &schema, true);
        assert_eq!(pruned, vec!["spec.kind", "spec.metadata"]);
    }
}
