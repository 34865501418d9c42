//! Placeholder until the protobuf codec lands: every protobuf body is
//! refused with a clear message.

pub const MEDIA_TYPE: &str = "application/vnd.kubernetes.protobuf";

#[derive(Debug, thiserror::Error)]
pub enum ProtobufError {
    #[error("protobuf bodies are not supported by this server yet")]
    Unsupported,
}

pub fn decode(_body: &[u8]) -> Result<serde_json::Value, ProtobufError> {
    Err(ProtobufError::Unsupported)
}

pub fn encode(_object: &serde_json::Value) -> Result<Vec<u8>, ProtobufError> {
    Err(ProtobufError::Unsupported)
}

pub fn encode_watch_event(
    _event_type: &str,
    _object: &serde_json::Value,
) -> Result<Vec<u8>, ProtobufError> {
    Err(ProtobufError::Unsupported)
}

pub fn supports(_api_version: &str, _kind: &str) -> bool {
    false
}
