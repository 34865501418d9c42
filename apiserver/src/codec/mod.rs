//! Wire formats other than JSON, converted at the edge so handlers only ever
//! see `serde_json::Value`.

pub mod protobuf;
