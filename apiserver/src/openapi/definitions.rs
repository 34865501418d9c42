//! The pool of schema definitions one build publishes, kept in Swagger 2.0
//! form (`$ref: #/definitions/NAME`) and rendered into either document kind.
//!
//! Definitions are named as upstream names them (`io.k8s.api.core.v1.ConfigMap`)
//! because clients key on those names: `kubectl explain` prints the last
//! segment of a `$ref` as the field's type, and finds a kind's schema by its
//! `x-kubernetes-group-version-kind` extension.

use std::collections::{BTreeMap, BTreeSet};

use k8s_openapi::schemars::generate::SchemaSettings;
use k8s_openapi::schemars::SchemaGenerator;
use serde_json::{json, Map, Value};

use super::builtin::{INT_OR_STRING, LIST_META, OBJECT_META, QUANTITY};

const V2_PREFIX: &str = "#/definitions/";
const V3_PREFIX: &str = "#/components/schemas/";

/// A generator that leaves schemas exactly as k8s-openapi writes them: no
/// meta-schema, no rewriting transforms, definitions under `#/definitions/`.
pub(super) fn schema_generator() -> SchemaGenerator {
    SchemaSettings::draft07()
        .with(|settings| {
            settings.meta_schema = None;
            settings.transforms.clear();
        })
        .into_generator()
}

/// The `$ref` value pointing at a definition, in the pool's (v2) form.
pub(super) fn reference(name: &str) -> String {
    format!("{V2_PREFIX}{name}")
}

/// One group/version/kind, as the `x-kubernetes-group-version-kind` extension
/// spells it.
pub(super) fn gvk(group: &str, version: &str, kind: &str) -> Value {
    json!({ "group": group, "version": version, "kind": kind })
}

pub(super) struct Definitions {
    schemas: BTreeMap<String, Value>,
}

/// Where k8s-openapi names the apiextensions.k8s.io/v1 types.
const APIEXTENSIONS_V1: &str = "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1";

impl Definitions {
    /// Takes every definition the generator collected and corrects the few
    /// places where k8s-openapi's schemas differ from upstream's published ones.
    pub(super) fn from_generator(mut generator: SchemaGenerator) -> Definitions {
        let schemas = generator.take_definitions(false).into_iter().collect();
        let mut definitions = Definitions { schemas };
        definitions.use_upstream_scalar_forms();
        definitions
    }

    /// k8s-openapi describes IntOrString and Quantity as CRD schemas would
    /// (`x-kubernetes-int-or-string`); upstream's OpenAPI gives them as
    /// formatted strings in v2 (and as `oneOf` in v3, see [`Self::v3_schemas`]).
    fn use_upstream_scalar_forms(&mut self) {
        if let Some(schema) = self.schemas.get_mut(INT_OR_STRING) {
            *schema = json!({
                "description": schema["description"].clone(),
                "type": "string",
                "format": "int-or-string",
            });
        }
        if let Some(schema) = self.schemas.get_mut(QUANTITY) {
            *schema = json!({ "description": schema["description"].clone(), "type": "string" });
        }
        // The CRD schema types that hold any JSON, or one of two shapes
        // (`default`, `enum` values, `items`, `additionalProperties`):
        // upstream publishes them with a description only, so any value
        // passes (and is kept).
        for name in [
            "JSON",
            "JSONSchemaPropsOrArray",
            "JSONSchemaPropsOrBool",
            "JSONSchemaPropsOrStringArray",
        ] {
            let name = format!("{APIEXTENSIONS_V1}.{name}");
            if let Some(schema) = self.schemas.get_mut(&name) {
                *schema = json!({ "description": schema["description"].clone() });
            }
        }
    }

    pub(super) fn contains(&self, name: &str) -> bool {
        self.schemas.contains_key(name)
    }

    pub(super) fn insert(&mut self, name: String, schema: Value) {
        self.schemas.insert(name, schema);
    }

    /// k8s-openapi lists `metadata` as required on every kind (and on Status)
    /// because its Rust field is not optional; upstream requires it only on
    /// the two Event kinds.
    /// Left in, `kubectl explain` would mark metadata `-required-` everywhere.
    pub(super) fn relax_required_metadata(&mut self, name: &str) {
        const UPSTREAM_REQUIRES_METADATA: &[&str] =
            &["io.k8s.api.core.v1.Event", "io.k8s.api.events.v1.Event"];
        if UPSTREAM_REQUIRES_METADATA.contains(&name) {
            return;
        }
        let Some(schema) = self.schemas.get_mut(name).and_then(Value::as_object_mut) else {
            return;
        };
        let Some(required) = schema.get_mut("required").and_then(Value::as_array_mut) else {
            return;
        };
        required.retain(|field| field != "metadata");
        if required.is_empty() {
            schema.remove("required");
        }
    }

    /// Adds `group_version_kind` to the definition's
    /// `x-kubernetes-group-version-kind` list, once.
    pub(super) fn tag(&mut self, name: &str, group_version_kind: Value) {
        let Some(schema) = self.schemas.get_mut(name).and_then(Value::as_object_mut) else {
            return;
        };
        let tags = schema
            .entry("x-kubernetes-group-version-kind")
            .or_insert_with(|| Value::Array(Vec::new()));
        if let Some(tags) = tags.as_array_mut() {
            if !tags.contains(&group_version_kind) {
                tags.push(group_version_kind);
            }
        }
    }

    /// Every definition reachable from `roots` through `$ref`s, roots included.
    pub(super) fn closure<'a>(&self, roots: impl IntoIterator<Item = &'a str>) -> BTreeSet<String> {
        let mut seen = BTreeSet::new();
        let mut pending: Vec<String> = roots.into_iter().map(str::to_owned).collect();
        while let Some(name) = pending.pop() {
            if !seen.insert(name.clone()) {
                continue;
            }
            if let Some(schema) = self.schemas.get(&name) {
                for_each_ref(schema, &mut |target| {
                    if let Some(next) = target.strip_prefix(V2_PREFIX) {
                        if !seen.contains(next) {
                            pending.push(next.to_owned());
                        }
                    }
                });
            }
        }
        seen
    }

    /// All definitions, for the Swagger 2.0 document.
    pub(super) fn v2_schemas(&self) -> Map<String, Value> {
        self.schemas
            .iter()
            .map(|(name, schema)| (name.clone(), schema.clone()))
            .collect()
    }

    /// The named definitions in OpenAPI 3.0 form, for one group/version document.
    pub(super) fn v3_schemas(&self, names: &BTreeSet<String>) -> Map<String, Value> {
        names
            .iter()
            .filter_map(|name| Some((name.clone(), self.v3_schema(name)?)))
            .collect()
    }

    fn v3_schema(&self, name: &str) -> Option<Value> {
        let mut schema = self.schemas.get(name)?.clone();
        // OpenAPI 3.0 can say "one of these types", and upstream does so for
        // the two scalar types that accept a number or a string.
        match name {
            INT_OR_STRING => {
                schema = json!({
                    "description": schema["description"].clone(),
                    "format": "int-or-string",
                    "oneOf": [{ "type": "integer" }, { "type": "string" }],
                });
            }
            QUANTITY => {
                schema = json!({
                    "description": schema["description"].clone(),
                    "oneOf": [{ "type": "string" }, { "type": "number" }],
                });
            }
            _ => {
                rewrite_refs(&mut schema, V3_PREFIX);
                wrap_refs_with_siblings(&mut schema);
            }
        }
        Some(schema)
    }
}

/// A list kind's schema (`ConfigMapList`), written here because k8s-openapi
/// models lists with one generic `List<T>` that has no schema of its own.
/// Upstream's lists all share this shape.
pub(super) fn list_schema(kind: &str, item_definition: &str) -> Value {
    json!({
        "description": format!("{kind}List is a list of {kind} objects."),
        "type": "object",
        "properties": {
            "apiVersion": api_version_property(),
            "kind": kind_property(),
            "items": {
                "description": format!("The {kind} objects in the list."),
                "type": "array",
                "items": { "$ref": reference(item_definition) },
            },
            "metadata": {
                "$ref": reference(LIST_META),
                "description": "Standard list metadata: resourceVersion and the continue token. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata",
            },
        },
        "required": ["items"],
    })
}

/// The schema of a kind whose fields we do not know: any object, with the
/// standard type and object metadata, and every other field kept.
pub(super) fn permissive_schema(kind: &str) -> Value {
    let mut schema = json!({
        "description": format!("{kind} is served without a published schema; any fields are accepted."),
        "type": "object",
        "x-kubernetes-preserve-unknown-fields": true,
    });
    add_standard_properties(&mut schema);
    schema
}

/// Gives a caller's schema (a CRD's) the apiVersion, kind and metadata
/// properties every kind has, where it does not define them itself, as
/// upstream's CRD publisher does.
pub(super) fn add_standard_properties(schema: &mut Value) {
    let Some(object) = schema.as_object_mut() else {
        return;
    };
    let properties = object
        .entry("properties")
        .or_insert_with(|| Value::Object(Map::new()));
    let Some(properties) = properties.as_object_mut() else {
        return;
    };
    properties
        .entry("apiVersion")
        .or_insert_with(api_version_property);
    properties.entry("kind").or_insert_with(kind_property);
    properties.entry("metadata").or_insert_with(|| {
        json!({
            "$ref": reference(OBJECT_META),
            "description": "Standard object's metadata. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata",
        })
    });
}

fn api_version_property() -> Value {
    json!({
        "description": "APIVersion defines the versioned schema of this representation of an object. Servers should convert recognized schemas to the latest internal value, and may reject unrecognized values. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#resources",
        "type": "string",
    })
}

fn kind_property() -> Value {
    json!({
        "description": "Kind is a string value representing the REST resource this object represents. Servers may infer this from the endpoint the client submits requests to. Cannot be updated. In CamelCase. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#types-kinds",
        "type": "string",
    })
}

/// Calls `visit` with the target of every `$ref` in `value`, at any depth.
pub(super) fn for_each_ref(value: &Value, visit: &mut impl FnMut(&str)) {
    match value {
        Value::Object(object) => {
            for (key, child) in object {
                match (key.as_str(), child) {
                    ("$ref", Value::String(target)) => visit(target),
                    _ => for_each_ref(child, visit),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|item| for_each_ref(item, visit)),
        _ => {}
    }
}

/// Moves every pool `$ref` under `prefix` (the v3 components path).
pub(super) fn rewrite_refs(value: &mut Value, prefix: &str) {
    match value {
        Value::Object(object) => {
            for (key, child) in object.iter_mut() {
                match child {
                    Value::String(target) if key == "$ref" => {
                        if let Some(name) = target.strip_prefix(V2_PREFIX) {
                            *target = format!("{prefix}{name}");
                        }
                    }
                    _ => rewrite_refs(child, prefix),
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|item| rewrite_refs(item, prefix)),
        _ => {}
    }
}

/// OpenAPI 3.0 ignores everything beside a `$ref`, so upstream moves such a
/// reference into a one-element `allOf` and keeps the field's own description
/// beside it. kubectl explain relies on that: it prints the field's
/// description and the referenced type's name (`<MicroTime>`), where a bare
/// `$ref` would show only the referenced schema.
fn wrap_refs_with_siblings(value: &mut Value) {
    match value {
        Value::Object(object) => {
            // A property named `$ref` (JSONSchemaProps has one) holds a
            // schema, not a string, and stays where it is.
            if object.len() > 1 && object.get("$ref").is_some_and(Value::is_string) {
                if let Some(target) = object.remove("$ref") {
                    object.insert("allOf".into(), json!([{ "$ref": target }]));
                }
            }
            object.values_mut().for_each(wrap_refs_with_siblings);
        }
        Value::Array(items) => items.iter_mut().for_each(wrap_refs_with_siblings),
        _ => {}
    }
}

pub(super) fn v3_reference(name: &str) -> String {
    format!("{V3_PREFIX}{name}")
}
