//! The byte layout of stored entries and change records. Decoding never
//! panics: a short or damaged record reads as zeros and empty values.

use bytes::Bytes;

use crate::storage::{Change, KeyValue};

pub(super) fn encode_entry(kv: &KeyValue, expires_ms: i64) -> Vec<u8> {
    let mut out = Vec::with_capacity(24 + kv.value.len());
    out.extend_from_slice(&kv.create_revision.to_le_bytes());
    out.extend_from_slice(&kv.mod_revision.to_le_bytes());
    out.extend_from_slice(&expires_ms.to_le_bytes());
    out.extend_from_slice(&kv.value);
    out
}

fn read_i64(bytes: &[u8], at: usize) -> i64 {
    let mut buf = [0u8; 8];
    if let Some(slice) = bytes.get(at..at + 8) {
        buf.copy_from_slice(slice);
    }
    i64::from_le_bytes(buf)
}

/// Decodes a `kv` entry into the key's value and its expiry (0 = none).
pub(super) fn decode_entry(key: &str, bytes: &[u8]) -> (KeyValue, i64) {
    let kv = KeyValue {
        key: key.to_string(),
        create_revision: read_i64(bytes, 0),
        mod_revision: read_i64(bytes, 8),
        value: Bytes::copy_from_slice(bytes.get(24..).unwrap_or_default()),
    };
    (kv, read_i64(bytes, 16))
}

fn push_kv(out: &mut Vec<u8>, kv: &KeyValue) {
    out.extend_from_slice(&(kv.key.len() as u32).to_le_bytes());
    out.extend_from_slice(kv.key.as_bytes());
    out.extend_from_slice(&kv.create_revision.to_le_bytes());
    out.extend_from_slice(&kv.mod_revision.to_le_bytes());
    out.extend_from_slice(&(kv.value.len() as u32).to_le_bytes());
    out.extend_from_slice(&kv.value);
}

fn read_kv(bytes: &[u8], at: &mut usize) -> KeyValue {
    let u32_at = |bytes: &[u8], at: usize| -> usize {
        let mut buf = [0u8; 4];
        if let Some(slice) = bytes.get(at..at + 4) {
            buf.copy_from_slice(slice);
        }
        u32::from_le_bytes(buf) as usize
    };
    let key_len = u32_at(bytes, *at);
    *at += 4;
    let key =
        String::from_utf8_lossy(bytes.get(*at..*at + key_len).unwrap_or_default()).into_owned();
    *at += key_len;
    let create_revision = read_i64(bytes, *at);
    let mod_revision = read_i64(bytes, *at + 8);
    *at += 16;
    let value_len = u32_at(bytes, *at);
    *at += 4;
    let value = Bytes::copy_from_slice(bytes.get(*at..*at + value_len).unwrap_or_default());
    *at += value_len;
    KeyValue {
        key,
        value,
        create_revision,
        mod_revision,
    }
}

/// Layout: tag (0 put, 1 put with prev, 2 delete), [revision for delete],
/// then the kv(s).
pub(super) fn encode_change(change: &Change) -> Vec<u8> {
    let mut out = Vec::new();
    match change {
        Change::Put { kv, prev: None } => {
            out.push(0);
            push_kv(&mut out, kv);
        }
        Change::Put {
            kv,
            prev: Some(prev),
        } => {
            out.push(1);
            push_kv(&mut out, kv);
            push_kv(&mut out, prev);
        }
        Change::Progress { revision } => {
            out.push(3);
            out.extend_from_slice(&revision.to_le_bytes());
        }
        Change::Delete { prev, revision } => {
            out.push(2);
            out.extend_from_slice(&revision.to_le_bytes());
            push_kv(&mut out, prev);
        }
    }
    out
}

pub(super) fn decode_change(bytes: &[u8]) -> Change {
    let mut at = 1;
    match bytes.first() {
        Some(2) => {
            let revision = read_i64(bytes, 1);
            at += 8;
            Change::Delete {
                prev: read_kv(bytes, &mut at),
                revision,
            }
        }
        Some(1) => {
            let kv = read_kv(bytes, &mut at);
            let prev = read_kv(bytes, &mut at);
            Change::Put {
                kv,
                prev: Some(prev),
            }
        }
        _ => Change::Put {
            kv: read_kv(bytes, &mut at),
            prev: None,
        },
    }
}
