//! Turning objects into responses in the form the client asked for: JSON,
//! YAML, protobuf, a server-side Table, or metadata only.

use std::sync::Arc;

use bytes::Bytes;
use serde_json::{json, Value};

use super::Call;
use crate::codec::protobuf;
use crate::error::ApiError;
use crate::negotiation::Output;
use crate::resource::{ResourceDescriptor, NAME_COLUMN};
use crate::server::{bytes_response, Body};
use crate::watch_cache::CachedObject;

/// A cached object in the descriptor's version, as JSON bytes. Objects
/// stored in the descriptor's own version are passed through untouched.
pub fn object_bytes(
    descriptor: &ResourceDescriptor,
    cached: &CachedObject,
) -> Result<Bytes, ApiError> {
    if descriptor.serves_stored_as_is(&cached.api_version) {
        return Ok(cached.json.clone());
    }
    let value = client_value(descriptor, cached)?;
    Ok(Bytes::from(serde_json::to_vec(&value).map_err(internal)?))
}

/// A cached object in the descriptor's version, parsed.
pub fn client_value(
    descriptor: &ResourceDescriptor,
    cached: &CachedObject,
) -> Result<Value, ApiError> {
    let value = cached.value()?;
    descriptor.strategy.read_stored(value)
}

pub fn internal(e: impl std::fmt::Display) -> ApiError {
    ApiError::Internal(e.to_string())
}

/// Encodes a JSON value (an object, a list, a Status) in a plain format.
pub fn encode(output: Output, code: u16, value: &Value) -> Result<http::Response<Body>, ApiError> {
    match output {
        Output::Yaml => {
            let text = serde_yaml_ng::to_string(value).map_err(internal)?;
            Ok(bytes_response(code, "application/yaml", text))
        }
        Output::Protobuf => {
            let bytes = protobuf::encode(value).map_err(internal)?;
            Ok(bytes_response(code, protobuf::MEDIA_TYPE, bytes))
        }
        _ => Ok(bytes_response(
            code,
            "application/json",
            serde_json::to_vec(value).map_err(internal)?,
        )),
    }
}

/// One object, in the requested form.
pub fn object(call: &Call, code: u16, value: &Value) -> Result<http::Response<Body>, ApiError> {
    match call.output {
        Output::Table => {
            let table = table(
                &call.descriptor,
                &call.query.include_object,
                std::slice::from_ref(value),
                json!({}),
                true,
            );
            encode(Output::Json, code, &table)
        }
        Output::PartialMetadata => encode(Output::Json, code, &partial_metadata(value)),
        other => encode(other, code, value),
    }
}

/// List metadata as upstream writes it.
pub fn list_metadata(
    revision: i64,
    continue_token: Option<String>,
    remaining: Option<u64>,
) -> Value {
    let mut meta = json!({ "resourceVersion": revision.to_string() });
    if let Some(token) = continue_token {
        meta["continue"] = json!(token);
    }
    if let Some(remaining) = remaining.filter(|r| *r > 0) {
        meta["remainingItemCount"] = json!(remaining);
    }
    meta
}

/// A list of cached objects, in the requested form. JSON lists are built by
/// concatenating the cached bytes.
pub fn list(
    call: &Call,
    items: &[Arc<CachedObject>],
    metadata: Value,
) -> Result<http::Response<Body>, ApiError> {
    let descriptor = &call.descriptor;
    match call.output {
        Output::Json => {
            let head = json!({
                "kind": descriptor.list_kind(),
                "apiVersion": descriptor.api_version(),
                "metadata": metadata,
            });
            let head = serde_json::to_vec(&head).map_err(internal)?;
            let mut out = Vec::with_capacity(
                head.len() + items.iter().map(|i| i.json.len() + 1).sum::<usize>() + 16,
            );
            out.extend_from_slice(&head[..head.len() - 1]);
            out.extend_from_slice(b",\"items\":[");
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                out.extend_from_slice(&object_bytes(descriptor, item)?);
            }
            out.extend_from_slice(b"]}");
            Ok(bytes_response(200, "application/json", out))
        }
        Output::Table => {
            let values = items
                .iter()
                .map(|i| client_value(descriptor, i))
                .collect::<Result<Vec<_>, _>>()?;
            let table = table(
                descriptor,
                &call.query.include_object,
                &values,
                metadata,
                true,
            );
            encode(Output::Json, 200, &table)
        }
        Output::PartialMetadata => {
            let values = items
                .iter()
                .map(|i| i.value().map(|v| partial_metadata(&v)))
                .collect::<Result<Vec<_>, _>>()?;
            let list = json!({
                "kind": "PartialObjectMetadataList",
                "apiVersion": "meta.k8s.io/v1",
                "metadata": metadata,
                "items": values,
            });
            encode(Output::Json, 200, &list)
        }
        other => {
            let values = items
                .iter()
                .map(|i| client_value(descriptor, i))
                .collect::<Result<Vec<_>, _>>()?;
            let list = json!({
                "kind": descriptor.list_kind(),
                "apiVersion": descriptor.api_version(),
                "metadata": metadata,
                "items": values,
            });
            encode(other, 200, &list)
        }
    }
}

/// `meta.k8s.io/v1` PartialObjectMetadata of an object.
pub fn partial_metadata(value: &Value) -> Value {
    json!({
        "kind": "PartialObjectMetadata",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": value.get("metadata").cloned().unwrap_or_else(|| json!({})),
    })
}

/// A server-side Table; `with_columns` is false for watch events after the
/// first, as upstream sends column definitions once.
pub fn table(
    descriptor: &ResourceDescriptor,
    include_object: &str,
    objects: &[Value],
    metadata: Value,
    with_columns: bool,
) -> Value {
    let strategy = &descriptor.strategy;
    let own = strategy.columns();
    // Kinds whose printer places the name elsewhere (events) list the name
    // column themselves; everything else starts with it.
    let leading_name = !own.iter().any(|c| c.format == "name");
    let columns: Vec<Value> = if with_columns {
        leading_name
            .then(|| NAME_COLUMN.definition())
            .into_iter()
            .chain(own.iter().map(|c| c.definition()))
            .collect()
    } else {
        Vec::new()
    };
    let rows: Vec<Value> = objects
        .iter()
        .map(|object| {
            let mut cells = Vec::with_capacity(own.len() + 1);
            if leading_name {
                cells.push(json!(crate::object::name(object)));
            }
            cells.extend(strategy.cells(object));
            let embedded = match include_object {
                "None" => Value::Null,
                "Object" => object.clone(),
                _ => partial_metadata(object),
            };
            json!({ "cells": cells, "object": embedded })
        })
        .collect();
    json!({
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": metadata,
        "columnDefinitions": columns,
        "rows": rows,
    })
}

/// The Status upstream returns for a finished deletion.
pub fn deleted_status(descriptor: &ResourceDescriptor, object: &Value) -> Value {
    let mut details = json!({
        "name": crate::object::name(object),
        "kind": descriptor.plural,
        "uid": crate::object::uid(object),
    });
    // Upstream leaves the group out for the core group.
    if !descriptor.group.is_empty() {
        details["group"] = json!(descriptor.group);
    }
    json!({
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Success",
        "details": details,
    })
}
