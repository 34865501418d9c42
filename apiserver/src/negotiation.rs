//! Media types in and out: decoding request bodies by Content-Type and
//! choosing the response form from Accept. Handlers see only JSON values.

use serde_json::Value;

use crate::error::ApiError;

/// Upstream's request body limit for writes (3 MiB).
pub const MAX_BODY_BYTES: usize = 3 * 1024 * 1024;

pub const JSON: &str = "application/json";
pub const YAML: &str = "application/yaml";
pub const PROTOBUF: &str = "application/vnd.kubernetes.protobuf";

/// What the client wants back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Output {
    Json,
    Yaml,
    Protobuf,
    /// `as=Table;g=meta.k8s.io;v=v1`, the server-side printing kubectl uses.
    Table,
    /// `as=PartialObjectMetadata[List];g=meta.k8s.io;v=v1`.
    PartialMetadata,
}

/// One media range of an Accept header with its parameters.
struct MediaRange<'a> {
    essence: &'a str,
    params: Vec<(&'a str, &'a str)>,
}

fn parse_range(raw: &str) -> MediaRange<'_> {
    let mut parts = raw.split(';').map(str::trim);
    let essence = parts.next().unwrap_or_default();
    let params = parts
        .filter_map(|p| p.split_once('='))
        .map(|(k, v)| (k.trim(), v.trim()))
        .collect();
    MediaRange { essence, params }
}

impl MediaRange<'_> {
    fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| *v)
    }
}

/// Chooses the response form, first acceptable range first, as upstream's
/// negotiation does. `protobuf_ok` says whether this response has a
/// protobuf form (built-in kinds do, custom resources do not).
pub fn output(accept: Option<&str>, protobuf_ok: bool) -> Result<Output, ApiError> {
    let Some(accept) = accept.filter(|a| !a.trim().is_empty()) else {
        return Ok(Output::Json);
    };
    for raw in accept.split(',') {
        let range = parse_range(raw);
        if let Some(as_) = range.param("as") {
            let meta_group = range.param("g") == Some("meta.k8s.io");
            let v1 = matches!(range.param("v"), Some("v1") | Some("v1beta1"));
            if meta_group && v1 && range.essence == JSON {
                match as_ {
                    "Table" => return Ok(Output::Table),
                    "PartialObjectMetadata" | "PartialObjectMetadataList" => {
                        return Ok(Output::PartialMetadata)
                    }
                    _ => {}
                }
            }
            continue;
        }
        match range.essence {
            JSON | "application/*" | "*/*" => return Ok(Output::Json),
            YAML => return Ok(Output::Yaml),
            PROTOBUF if protobuf_ok => return Ok(Output::Protobuf),
            _ => {}
        }
    }
    Err(ApiError::NotAcceptable {
        accepted: "application/json, application/yaml, application/vnd.kubernetes.protobuf".into(),
    })
}

/// How a request body is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyFormat {
    Json,
    Yaml,
    Protobuf,
}

/// Reads the Content-Type of a create/update body.
pub fn body_format(content_type: Option<&str>) -> Result<BodyFormat, ApiError> {
    let essence = content_type
        .map(|c| parse_range(c).essence.to_ascii_lowercase())
        .unwrap_or_else(|| JSON.to_string());
    match essence.as_str() {
        "" | JSON => Ok(BodyFormat::Json),
        YAML | "application/x-yaml" | "text/yaml" => Ok(BodyFormat::Yaml),
        PROTOBUF => Ok(BodyFormat::Protobuf),
        _ => Err(ApiError::UnsupportedMediaType {
            accepted: "application/json, application/yaml, application/vnd.kubernetes.protobuf"
                .into(),
        }),
    }
}

/// Decodes a body into a JSON object; malformed input is a 400 naming the
/// problem, as upstream's decoder does.
pub fn decode_body(format: BodyFormat, body: &[u8]) -> Result<Value, ApiError> {
    let value: Value = match format {
        BodyFormat::Json => serde_json::from_slice(body).map_err(|e| {
            ApiError::BadRequest(format!(
                "the object provided is unrecognized or invalid JSON: {e}"
            ))
        })?,
        BodyFormat::Yaml => serde_yaml_ng::from_slice(body)
            .map_err(|e| ApiError::BadRequest(format!("error converting YAML to JSON: {e}")))?,
        BodyFormat::Protobuf => crate::codec::protobuf::decode(body)
            .map_err(|e| ApiError::BadRequest(format!("unable to decode protobuf body: {e}")))?,
    };
    if !value.is_object() {
        return Err(ApiError::BadRequest(
            "the body of the request must be a JSON object".into(),
        ));
    }
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kubectl_table_accept() {
        let accept = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json";
        assert_eq!(output(Some(accept), true).unwrap(), Output::Table);
    }

    #[test]
    fn protobuf_only_when_supported() {
        let accept = "application/vnd.kubernetes.protobuf, */*";
        assert_eq!(output(Some(accept), true).unwrap(), Output::Protobuf);
        assert_eq!(output(Some(accept), false).unwrap(), Output::Json);
        assert!(output(Some("text/html"), true).is_err());
    }

    #[test]
    fn malformed_json_is_bad_request() {
        let e = decode_body(BodyFormat::Json, b"{nope").unwrap_err();
        assert_eq!(e.code(), 400);
    }
}
