//! Schema-driven conversion between one message's protobuf bytes and its
//! JSON form, as upstream's Go types would produce it.
//!
//! Presence rules, which follow from how upstream writes protobuf and JSON:
//! - Upstream writes every non-pointer field to protobuf, zero or not, while
//!   JSON drops zero values of `omitempty` fields. So a zero scalar read from
//!   the wire is left out of JSON, unless the field is required (no
//!   `omitempty`) or a Go pointer (set to zero on purpose, such as
//!   `replicas: 0`); the schema marks both as `keeps_zero`.
//! - A nested message present on the wire is always written (`"status": {}`),
//!   as Go's JSON encoder never omits a struct.
//! - Empty lists and maps are left out.

use base64::Engine as _;
use serde_json::{Map, Number, Value};

use super::schema::{Field, Label, Message, MessageId, Schema, Shape, Type};
use super::shapes;
use super::wire::{self, RawValue, Reader, WireType};
use super::ProtobufError;

/// Deeper nesting than any built-in type needs; stops hostile input from
/// exhausting the stack.
const MAX_DEPTH: usize = 64;

pub(super) struct Decoder<'s> {
    pub(super) schema: &'s Schema,
}

impl Decoder<'_> {
    pub(super) fn message(
        &self,
        id: MessageId,
        bytes: &[u8],
        depth: usize,
    ) -> Result<Value, ProtobufError> {
        if depth > MAX_DEPTH {
            return Err(ProtobufError::TooDeep(MAX_DEPTH));
        }
        let message = self.known(id)?;
        match message.shape {
            Shape::Object => Ok(Value::Object(self.object(message, bytes, depth)?)),
            shape => shapes::decode(self, message, shape, bytes, depth),
        }
    }

    fn known(&self, id: MessageId) -> Result<&Message, ProtobufError> {
        self.schema
            .message(id)
            .ok_or_else(|| ProtobufError::Malformed(format!("schema has no message #{id}")))
    }

    pub(super) fn object(
        &self,
        message: &Message,
        bytes: &[u8],
        depth: usize,
    ) -> Result<Map<String, Value>, ProtobufError> {
        let mut out = Map::new();
        self.fill(message, bytes, depth, &mut out)?;
        Ok(out)
    }

    /// A required list (`items` of a List, `containers`) has no `omitempty`
    /// upstream, so JSON shows it even when the wire had no element.
    fn add_required_lists(message: &Message, out: &mut Map<String, Value>) {
        for field in &message.fields {
            if let (true, Label::Repeated, Some(name)) =
                (field.keeps_zero, field.label, &field.json)
            {
                out.entry(name.clone())
                    .or_insert_with(|| Value::Array(Vec::new()));
            }
        }
    }

    fn fill(
        &self,
        message: &Message,
        bytes: &[u8],
        depth: usize,
        out: &mut Map<String, Value>,
    ) -> Result<(), ProtobufError> {
        let mut reader = Reader::new(bytes);
        while !reader.is_done() {
            let (tag, raw) = reader.field()?;
            // Unknown fields are skipped, as upstream's decoder does.
            let Some(field) = message.field(tag) else {
                continue;
            };
            let Some(name) = &field.json else {
                let (Type::Message(inner), RawValue::Bytes(inner_bytes)) = (field.value, raw)
                else {
                    return Err(field_error(
                        message,
                        "(embedded)",
                        "expected an embedded message",
                    ));
                };
                self.fill(self.known(inner)?, inner_bytes, depth + 1, out)?;
                continue;
            };
            match field.label {
                Label::Optional => {
                    let value = self.value(message, name, field.value, raw, depth)?;
                    if !field.keeps_zero && is_zero_scalar(field.value, &value) {
                        out.remove(name);
                    } else {
                        out.insert(name.clone(), value);
                    }
                }
                Label::Repeated => {
                    let items = self.repeated(message, name, field.value, raw, depth)?;
                    match out
                        .entry(name.clone())
                        .or_insert_with(|| Value::Array(Vec::new()))
                    {
                        Value::Array(list) => list.extend(items),
                        _ => {
                            return Err(field_error(
                                message,
                                name,
                                "repeated and single values mixed",
                            ))
                        }
                    }
                }
                Label::Map => {
                    let RawValue::Bytes(entry) = raw else {
                        return Err(field_error(
                            message,
                            name,
                            "map entry is not length-delimited",
                        ));
                    };
                    let (key, value) = self.map_entry(message, name, field, entry, depth)?;
                    match out
                        .entry(name.clone())
                        .or_insert_with(|| Value::Object(Map::new()))
                    {
                        Value::Object(map) => {
                            map.insert(key, value);
                        }
                        _ => return Err(field_error(message, name, "map and single values mixed")),
                    }
                }
            }
        }
        Self::add_required_lists(message, out);
        Ok(())
    }

    /// A repeated scalar may arrive packed (one length-delimited run).
    fn repeated(
        &self,
        message: &Message,
        name: &str,
        ty: Type,
        raw: RawValue<'_>,
        depth: usize,
    ) -> Result<Vec<Value>, ProtobufError> {
        let packable = matches!(ty, Type::Bool | Type::Int32 | Type::Int64 | Type::Double);
        match raw {
            RawValue::Bytes(run) if packable => {
                let mut reader = Reader::new(run);
                let mut items = Vec::new();
                while !reader.is_done() {
                    let item = if ty == Type::Double {
                        RawValue::Fixed64(reader.fixed64()?)
                    } else {
                        RawValue::Varint(reader.varint()?)
                    };
                    items.push(self.value(message, name, ty, item, depth)?);
                }
                Ok(items)
            }
            raw => Ok(vec![self.value(message, name, ty, raw, depth)?]),
        }
    }

    fn map_entry(
        &self,
        message: &Message,
        name: &str,
        field: &Field,
        entry: &[u8],
        depth: usize,
    ) -> Result<(String, Value), ProtobufError> {
        let mut key = String::new();
        let mut value = None;
        let mut reader = Reader::new(entry);
        while !reader.is_done() {
            match reader.field()? {
                (1, raw) => match self.value(
                    message,
                    name,
                    field.key.unwrap_or(Type::String),
                    raw,
                    depth,
                )? {
                    Value::String(text) => key = text,
                    other => key = other.to_string(),
                },
                (2, raw) => value = Some(self.value(message, name, field.value, raw, depth)?),
                _ => {}
            }
        }
        let value = match value {
            Some(value) => value,
            // An absent value is the type's zero value.
            None => self.value(message, name, field.value, zero_raw(field.value), depth)?,
        };
        Ok((key, value))
    }

    fn value(
        &self,
        message: &Message,
        name: &str,
        ty: Type,
        raw: RawValue<'_>,
        depth: usize,
    ) -> Result<Value, ProtobufError> {
        Ok(match (ty, raw) {
            (Type::String, RawValue::Bytes(bytes)) => Value::String(
                String::from_utf8(bytes.to_vec())
                    .map_err(|_| field_error(message, name, "string is not UTF-8"))?,
            ),
            (Type::Bytes, RawValue::Bytes(bytes)) => {
                Value::String(base64::engine::general_purpose::STANDARD.encode(bytes))
            }
            (Type::Bool, RawValue::Varint(raw)) => Value::Bool(raw != 0),
            // int32 values travel sign-extended to 64 bits; truncation is the
            // protobuf rule for reading them back.
            (Type::Int32, RawValue::Varint(raw)) => Value::from(i64::from(raw as i32)),
            (Type::Int64, RawValue::Varint(raw)) => Value::from(raw as i64),
            (Type::Double, RawValue::Fixed64(raw)) => Number::from_f64(f64::from_bits(raw))
                .map(Value::Number)
                .ok_or_else(|| field_error(message, name, "double is not finite"))?,
            (Type::Message(id), RawValue::Bytes(bytes)) => self.message(id, bytes, depth + 1)?,
            (ty, raw) => {
                return Err(field_error(
                    message,
                    name,
                    &format!("wire value {raw:?} does not fit {ty:?}"),
                ))
            }
        })
    }
}

fn zero_raw(ty: Type) -> RawValue<'static> {
    match ty {
        Type::Bool | Type::Int32 | Type::Int64 => RawValue::Varint(0),
        Type::Double => RawValue::Fixed64(0),
        Type::String | Type::Bytes | Type::Message(_) => RawValue::Bytes(&[]),
    }
}

fn is_zero_scalar(ty: Type, value: &Value) -> bool {
    match (ty, value) {
        (Type::Message(_), _) => false,
        (_, Value::String(text)) => text.is_empty(),
        (_, Value::Bool(flag)) => !flag,
        (_, Value::Number(number)) => number.as_f64() == Some(0.0),
        _ => false,
    }
}

pub(super) fn field_error(message: &Message, field: &str, problem: &str) -> ProtobufError {
    let owner = message.name.rsplit('.').next().unwrap_or(&message.name);
    ProtobufError::Field {
        field: format!("{owner}.{field}"),
        problem: problem.to_owned(),
    }
}

pub(super) struct Encoder<'s> {
    pub(super) schema: &'s Schema,
}

impl Encoder<'_> {
    pub(super) fn message(
        &self,
        id: MessageId,
        value: &Value,
        depth: usize,
        out: &mut Vec<u8>,
    ) -> Result<(), ProtobufError> {
        if depth > MAX_DEPTH {
            return Err(ProtobufError::TooDeep(MAX_DEPTH));
        }
        let message = self
            .schema
            .message(id)
            .ok_or_else(|| ProtobufError::Malformed(format!("schema has no message #{id}")))?;
        match (message.shape, value) {
            (Shape::Object, Value::Object(map)) => self.object(message, map, depth, out),
            (Shape::Object, _) => Err(field_error(message, "", "expected a JSON object")),
            (shape, value) => shapes::encode(self, message, shape, value, depth, out),
        }
    }

    /// Fields go out in tag order, as upstream writes them; JSON keys the
    /// schema does not know are ignored, as a Go struct would drop them.
    pub(super) fn object(
        &self,
        message: &Message,
        map: &Map<String, Value>,
        depth: usize,
        out: &mut Vec<u8>,
    ) -> Result<(), ProtobufError> {
        for field in &message.fields {
            let Some(name) = &field.json else {
                let Type::Message(inner) = field.value else {
                    continue;
                };
                let inner = self.schema.message(inner).ok_or_else(|| {
                    ProtobufError::Malformed(format!("schema has no message #{inner}"))
                })?;
                let mut buf = Vec::new();
                self.object(inner, map, depth + 1, &mut buf)?;
                wire::put_bytes(out, field.tag, &buf);
                continue;
            };
            let Some(value) = map.get(name) else { continue };
            if value.is_null() {
                // A null time is upstream's zero time, which a non-pointer
                // field (creationTimestamp) still writes as an empty message.
                if self.is_time(field.value) {
                    wire::put_bytes(out, field.tag, &[]);
                }
                continue;
            }
            match field.label {
                Label::Optional => {
                    self.value(message, name, field.tag, field.value, value, depth, out)?
                }
                Label::Repeated => {
                    let Value::Array(items) = value else {
                        return Err(field_error(message, name, "expected a JSON array"));
                    };
                    for item in items {
                        self.value(message, name, field.tag, field.value, item, depth, out)?;
                    }
                }
                Label::Map => {
                    let Value::Object(entries) = value else {
                        return Err(field_error(message, name, "expected a JSON object"));
                    };
                    // serde_json's map iterates in key order: upstream sorts map
                    // keys too, so equal objects give equal bytes.
                    for (key, item) in entries {
                        let mut entry = Vec::new();
                        wire::put_bytes(&mut entry, 1, key.as_bytes());
                        self.value(message, name, 2, field.value, item, depth, &mut entry)?;
                        wire::put_bytes(out, field.tag, &entry);
                    }
                }
            }
        }
        Ok(())
    }

    fn is_time(&self, ty: Type) -> bool {
        let Type::Message(id) = ty else { return false };
        self.schema
            .message(id)
            .is_some_and(|message| matches!(message.shape, Shape::Time | Shape::MicroTime))
    }

    #[allow(
        clippy::too_many_arguments,
        reason = "the field's identity travels for error messages"
    )]
    fn value(
        &self,
        message: &Message,
        name: &str,
        tag: u32,
        ty: Type,
        value: &Value,
        depth: usize,
        out: &mut Vec<u8>,
    ) -> Result<(), ProtobufError> {
        match ty {
            Type::String => {
                let text = value
                    .as_str()
                    .ok_or_else(|| field_error(message, name, "expected a string"))?;
                wire::put_bytes(out, tag, text.as_bytes());
            }
            Type::Bytes => {
                let text = value
                    .as_str()
                    .ok_or_else(|| field_error(message, name, "expected base64 text"))?;
                let bytes = base64::engine::general_purpose::STANDARD
                    .decode(text)
                    .map_err(|_| field_error(message, name, "invalid base64"))?;
                wire::put_bytes(out, tag, &bytes);
            }
            Type::Bool => {
                let flag = value
                    .as_bool()
                    .ok_or_else(|| field_error(message, name, "expected a boolean"))?;
                wire::put_key(out, tag, WireType::Varint);
                wire::put_varint(out, u64::from(flag));
            }
            Type::Int32 => {
                let number = value
                    .as_i64()
                    .and_then(|number| i32::try_from(number).ok())
                    .ok_or_else(|| field_error(message, name, "expected a 32-bit integer"))?;
                wire::put_key(out, tag, WireType::Varint);
                wire::put_varint(out, i64::from(number) as u64);
            }
            Type::Int64 => {
                let number = value
                    .as_i64()
                    .ok_or_else(|| field_error(message, name, "expected a 64-bit integer"))?;
                wire::put_key(out, tag, WireType::Varint);
                wire::put_varint(out, number as u64);
            }
            Type::Double => {
                let number = value
                    .as_f64()
                    .ok_or_else(|| field_error(message, name, "expected a number"))?;
                wire::put_key(out, tag, WireType::Fixed64);
                out.extend_from_slice(&number.to_bits().to_le_bytes());
            }
            Type::Message(id) => {
                let mut buf = Vec::new();
                self.message(id, value, depth + 1, &mut buf)?;
                wire::put_bytes(out, tag, &buf);
            }
        }
        Ok(())
    }
}
