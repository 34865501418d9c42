//! The protobuf binary encoding at the level of tags, varints and
//! length-delimited fields; it knows nothing of Kubernetes types.

use super::ProtobufError;

/// How a field's value is laid out on the wire (the low three bits of a key).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum WireType {
    Varint,
    Fixed64,
    Delimited,
    Fixed32,
}

impl WireType {
    fn from_key(key: u64) -> Result<Self, ProtobufError> {
        match key & 7 {
            0 => Ok(Self::Varint),
            1 => Ok(Self::Fixed64),
            2 => Ok(Self::Delimited),
            5 => Ok(Self::Fixed32),
            // Groups (3, 4) are deprecated and never produced by Kubernetes.
            other => Err(ProtobufError::Malformed(format!(
                "unsupported wire type {other}"
            ))),
        }
    }

    fn bits(self) -> u64 {
        match self {
            Self::Varint => 0,
            Self::Fixed64 => 1,
            Self::Delimited => 2,
            Self::Fixed32 => 5,
        }
    }
}

/// One field as read from a message, before the schema gives it meaning.
#[derive(Debug)]
pub(super) enum RawValue<'a> {
    Varint(u64),
    Fixed64(u64),
    /// Read only to be skipped: no Kubernetes field uses 32-bit fixed types.
    Fixed32,
    Bytes(&'a [u8]),
}

/// Reads the fields of one message in order; every read is bounds-checked.
pub(super) struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    pub(super) fn new(bytes: &'a [u8]) -> Self {
        Self { bytes, at: 0 }
    }

    pub(super) fn is_done(&self) -> bool {
        self.at >= self.bytes.len()
    }

    pub(super) fn varint(&mut self) -> Result<u64, ProtobufError> {
        let mut value = 0u64;
        for shift in (0..70).step_by(7) {
            let byte = *self.bytes.get(self.at).ok_or(ProtobufError::Truncated)?;
            self.at += 1;
            if shift == 63 && byte > 1 {
                return Err(ProtobufError::Malformed("varint overflows 64 bits".into()));
            }
            value |= u64::from(byte & 0x7f) << shift;
            if byte & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err(ProtobufError::Malformed(
            "varint longer than ten bytes".into(),
        ))
    }

    fn take(&mut self, len: usize) -> Result<&'a [u8], ProtobufError> {
        let end = self.at.checked_add(len).ok_or(ProtobufError::Truncated)?;
        let slice = self
            .bytes
            .get(self.at..end)
            .ok_or(ProtobufError::Truncated)?;
        self.at = end;
        Ok(slice)
    }

    pub(super) fn fixed64(&mut self) -> Result<u64, ProtobufError> {
        let raw = self.take(8)?;
        let mut buf = [0u8; 8];
        buf.copy_from_slice(raw);
        Ok(u64::from_le_bytes(buf))
    }

    /// The next field's number and value.
    pub(super) fn field(&mut self) -> Result<(u32, RawValue<'a>), ProtobufError> {
        let key = self.varint()?;
        let tag = u32::try_from(key >> 3)
            .ok()
            .filter(|tag| *tag > 0)
            .ok_or_else(|| {
                ProtobufError::Malformed(format!("invalid field number {}", key >> 3))
            })?;
        let value = match WireType::from_key(key)? {
            WireType::Varint => RawValue::Varint(self.varint()?),
            WireType::Fixed64 => RawValue::Fixed64(self.fixed64()?),
            WireType::Fixed32 => {
                self.take(4)?;
                RawValue::Fixed32
            }
            WireType::Delimited => {
                let len = usize::try_from(self.varint()?).map_err(|_| ProtobufError::Truncated)?;
                RawValue::Bytes(self.take(len)?)
            }
        };
        Ok((tag, value))
    }
}

pub(super) fn put_varint(out: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        out.push((value as u8) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

pub(super) fn put_key(out: &mut Vec<u8>, tag: u32, wire: WireType) {
    put_varint(out, (u64::from(tag) << 3) | wire.bits());
}

pub(super) fn put_bytes(out: &mut Vec<u8>, tag: u32, bytes: &[u8]) {
    put_key(out, tag, WireType::Delimited);
    put_varint(out, bytes.len() as u64);
    out.extend_from_slice(bytes);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varint_round_trips_negative_int32_as_ten_bytes() {
        let mut out = Vec::new();
        put_varint(&mut out, -1i64 as u64);
        assert_eq!(out.len(), 10);
        assert_eq!(Reader::new(&out).varint().ok(), Some(u64::MAX));
    }

    #[test]
    fn truncated_length_is_an_error_not_a_panic() {
        let mut reader = Reader::new(&[0x0a, 0x05, b'a']);
        assert!(matches!(reader.field(), Err(ProtobufError::Truncated)));
    }
}
