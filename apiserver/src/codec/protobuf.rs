//! The `application/vnd.kubernetes.protobuf` wire format, converted to and
//! from the JSON form (`serde_json::Value`) the handlers work on.
//!
//! kubectl's typed commands (`create namespace`, `create token`, `auth
//! whoami`, ...) send only protobuf, so requests are decoded here at the edge
//! and responses encoded here when the client asks for protobuf.
//!
//! An object on the wire is the four bytes `k8s\0` and then a
//! `runtime.Unknown` message: `typeMeta {apiVersion, kind}`, `raw` (the
//! object's own message), `contentEncoding`, `contentType`. The object's
//! message is read and written by a generic walker driven by a schema table
//! generated from the k8s-pb crate (upstream's generated.proto files),
//! k8s-openapi (upstream's JSON field names) and the Go type data of a
//! kubectl binary (pointer fields); see `schema.rs` and
//! `tools/protobuf-schema/`.
//!
//! Checked against real clients: the tests decode bodies kubectl 1.32 sent,
//! and kubectl decoded this module's objects, Status errors and watch frames
//! back to the same JSON (`create ... -o json`, `auth whoami`, `events
//! --watch` against a loopback stub).
//!
//! A protobuf watch stream is a sequence of frames, each a 4-byte big-endian
//! length and a `meta.v1.WatchEvent` message without envelope (upstream's
//! stream serializer is the raw protobuf serializer with a length-delimited
//! framer); the event's object is a `RawExtension` whose bytes are the object
//! in its full envelope.

mod convert;
mod schema;
mod shapes;
mod wire;

use serde_json::{Map, Value};

use convert::{Decoder, Encoder};
use schema::SCHEMA;
use wire::{RawValue, Reader};

/// The media type of Kubernetes protobuf bodies.
pub const MEDIA_TYPE: &str = "application/vnd.kubernetes.protobuf";

/// The magic prefix of every protobuf envelope.
const PREFIX: &[u8] = b"k8s\0";

/// Why a body could not be converted; every variant is the client's input
/// (or an object we cannot represent), never a bug worth a panic.
#[derive(Debug, thiserror::Error)]
pub enum ProtobufError {
    /// The body does not start with the `k8s\0` magic of the envelope.
    #[error("body is not a Kubernetes protobuf object: it lacks the k8s\\0 prefix")]
    MissingPrefix,
    /// The data ends inside a field.
    #[error("protobuf data is truncated")]
    Truncated,
    /// The bytes are not valid protobuf.
    #[error("malformed protobuf: {0}")]
    Malformed(String),
    /// The envelope says its object is compressed or otherwise encoded.
    #[error("unsupported protobuf content encoding {0:?}")]
    UnsupportedEncoding(String),
    /// No upstream protobuf schema exists for this apiVersion and kind.
    #[error("no protobuf serialization for kind {kind:?} in version {api_version:?}")]
    UnknownKind { api_version: String, kind: String },
    /// An object to encode lacks `apiVersion` or `kind`.
    #[error("object to encode has no apiVersion and kind")]
    MissingTypeMeta,
    /// A field's value does not fit its type.
    #[error("field {field}: {problem}")]
    Field { field: String, problem: String },
    /// Messages nest deeper than any built-in type does.
    #[error("protobuf messages nest deeper than {0} levels")]
    TooDeep(usize),
    /// A watch frame's length does not fit its 4-byte prefix.
    #[error("watch event of {0} bytes is too large for one frame")]
    FrameTooLarge(usize),
}

/// Whether objects of this apiVersion and kind have a protobuf form.
pub fn supports(api_version: &str, kind: &str) -> bool {
    SCHEMA.kind(api_version, kind).is_some()
}

/// Decodes an enveloped protobuf object into its JSON form, including
/// `apiVersion` and `kind`.
pub fn decode(body: &[u8]) -> Result<Value, ProtobufError> {
    decode_nested(body, 0)
}

/// [`decode`] for an envelope found `depth` messages deep inside another
/// (a RawExtension), so nesting stays bounded across envelopes too.
fn decode_nested(body: &[u8], depth: usize) -> Result<Value, ProtobufError> {
    let envelope = body
        .strip_prefix(PREFIX)
        .ok_or(ProtobufError::MissingPrefix)?;
    let unknown = Envelope::read(envelope)?;
    if !unknown.content_encoding.is_empty() {
        return Err(ProtobufError::UnsupportedEncoding(unknown.content_encoding));
    }
    let id = SCHEMA
        .kind(&unknown.api_version, &unknown.kind)
        .ok_or_else(|| ProtobufError::UnknownKind {
            api_version: unknown.api_version.clone(),
            kind: unknown.kind.clone(),
        })?;
    let mut object = match (Decoder { schema: &SCHEMA }).message(id, unknown.raw, depth)? {
        Value::Object(object) => object,
        _ => Map::new(),
    };
    object.insert("apiVersion".to_owned(), Value::String(unknown.api_version));
    object.insert("kind".to_owned(), Value::String(unknown.kind));
    Ok(Value::Object(object))
}

/// Encodes an object (its `apiVersion` and `kind` pick the schema) into an
/// enveloped protobuf body. Fields the schema does not know are dropped, as a
/// Go struct would drop them. A RawExtension's object is written as JSON
/// bytes, as upstream stores it; watch streams use [`encode_watch_event`].
pub fn encode(object: &Value) -> Result<Vec<u8>, ProtobufError> {
    let type_field = |name: &str| {
        object
            .get(name)
            .and_then(Value::as_str)
            .filter(|text| !text.is_empty())
    };
    let (Some(api_version), Some(kind)) = (type_field("apiVersion"), type_field("kind")) else {
        return Err(ProtobufError::MissingTypeMeta);
    };
    let id = SCHEMA
        .kind(api_version, kind)
        .ok_or_else(|| ProtobufError::UnknownKind {
            api_version: api_version.to_owned(),
            kind: kind.to_owned(),
        })?;
    let mut raw = Vec::new();
    (Encoder { schema: &SCHEMA }).message(id, object, 0, &mut raw)?;

    let mut type_meta = Vec::new();
    wire::put_bytes(&mut type_meta, 1, api_version.as_bytes());
    wire::put_bytes(&mut type_meta, 2, kind.as_bytes());
    let mut out = PREFIX.to_vec();
    wire::put_bytes(&mut out, 1, &type_meta);
    wire::put_bytes(&mut out, 2, &raw);
    // Upstream always writes the empty contentEncoding and contentType.
    wire::put_bytes(&mut out, 3, b"");
    wire::put_bytes(&mut out, 4, b"");
    Ok(out)
}

/// Encodes one watch event as a length-prefixed frame of a protobuf watch
/// stream. `event_type` is ADDED, MODIFIED, DELETED, BOOKMARK or ERROR.
pub fn encode_watch_event(event_type: &str, object: &Value) -> Result<Vec<u8>, ProtobufError> {
    let mut raw_extension = Vec::new();
    wire::put_bytes(&mut raw_extension, 1, &encode(object)?);
    let mut event = Vec::new();
    wire::put_bytes(&mut event, 1, event_type.as_bytes());
    wire::put_bytes(&mut event, 2, &raw_extension);
    let length =
        u32::try_from(event.len()).map_err(|_| ProtobufError::FrameTooLarge(event.len()))?;
    let mut frame = length.to_be_bytes().to_vec();
    frame.extend_from_slice(&event);
    Ok(frame)
}

/// The fields of a `runtime.Unknown` envelope.
struct Envelope<'a> {
    api_version: String,
    kind: String,
    raw: &'a [u8],
    content_encoding: String,
}

impl<'a> Envelope<'a> {
    fn read(bytes: &'a [u8]) -> Result<Self, ProtobufError> {
        let mut envelope = Envelope {
            api_version: String::new(),
            kind: String::new(),
            raw: &[],
            content_encoding: String::new(),
        };
        let mut reader = Reader::new(bytes);
        while !reader.is_done() {
            match reader.field()? {
                (1, RawValue::Bytes(type_meta)) => {
                    let mut inner = Reader::new(type_meta);
                    while !inner.is_done() {
                        match inner.field()? {
                            (1, RawValue::Bytes(text)) => {
                                envelope.api_version = utf8(text, "typeMeta.apiVersion")?
                            }
                            (2, RawValue::Bytes(text)) => {
                                envelope.kind = utf8(text, "typeMeta.kind")?
                            }
                            _ => {}
                        }
                    }
                }
                (2, RawValue::Bytes(raw)) => envelope.raw = raw,
                (3, RawValue::Bytes(text)) => {
                    envelope.content_encoding = utf8(text, "contentEncoding")?
                }
                _ => {}
            }
        }
        Ok(envelope)
    }
}

fn utf8(bytes: &[u8], field: &str) -> Result<String, ProtobufError> {
    String::from_utf8(bytes.to_vec()).map_err(|_| ProtobufError::Field {
        field: format!("Unknown.{field}"),
        problem: "string is not UTF-8".to_owned(),
    })
}

#[cfg(test)]
mod tests;
