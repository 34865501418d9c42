//! Messages whose JSON form upstream writes by hand (custom MarshalJSON in
//! Go): times, durations, quantities, int-or-string, embedded raw JSON, named
//! slices and the JSON-schema unions of apiextensions.

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Map, Value};

use super::convert::{field_error, Decoder, Encoder};
use super::schema::{Message, Shape};
use super::wire::{self, RawValue, Reader, WireType};
use super::ProtobufError;
use crate::duration;

pub(super) fn decode(
    decoder: &Decoder<'_>,
    message: &Message,
    shape: Shape,
    bytes: &[u8],
    depth: usize,
) -> Result<Value, ProtobufError> {
    match shape {
        Shape::Object => Ok(Value::Object(decoder.object(message, bytes, depth)?)),
        Shape::Time | Shape::MicroTime => {
            let (seconds, nanos) = (varint_at(bytes, 1)? as i64, varint_at(bytes, 2)? as i32);
            if seconds == 0 && nanos == 0 {
                // Go's zero time marshals to JSON null.
                return Ok(Value::Null);
            }
            let time = DateTime::<Utc>::from_timestamp(seconds, u32::try_from(nanos).unwrap_or(0))
                .ok_or_else(|| field_error(message, "seconds", "time out of range"))?;
            Ok(Value::String(format_time(&time, shape == Shape::MicroTime)))
        }
        Shape::Duration => Ok(Value::String(format_duration(varint_at(bytes, 1)? as i64))),
        Shape::Quantity => Ok(Value::String(string_at(message, bytes, 1)?)),
        Shape::IntOrString => {
            if varint_at(bytes, 1)? == 0 {
                Ok(Value::from(i64::from(varint_at(bytes, 2)? as i32)))
            } else {
                Ok(Value::String(string_at(message, bytes, 3)?))
            }
        }
        Shape::RawJson => raw_json(message, bytes_at(bytes, 1)?, depth),
        Shape::Slice => {
            let object = decoder.object(message, bytes, depth)?;
            Ok(object
                .into_iter()
                .next()
                .map_or(Value::Array(Vec::new()), |(_, items)| items))
        }
        Shape::SchemaOrBool | Shape::SchemaOrArray | Shape::SchemaOrStrings => {
            let object = decoder.object(message, bytes, depth)?;
            let mut by_tag = message.fields.iter().map(|field| {
                field
                    .json
                    .as_deref()
                    .and_then(|name| object.get(name))
                    .cloned()
            });
            let (first, second) = (by_tag.next().flatten(), by_tag.next().flatten());
            Ok(match shape {
                // Go's JSONSchemaPropsOrBool writes the schema when it has one.
                Shape::SchemaOrBool => second.or(first).unwrap_or(Value::Bool(false)),
                // The list, when present, wins over the single schema.
                _ => second.or(first).unwrap_or(Value::Null),
            })
        }
    }
}

pub(super) fn encode(
    encoder: &Encoder<'_>,
    message: &Message,
    shape: Shape,
    value: &Value,
    depth: usize,
    out: &mut Vec<u8>,
) -> Result<(), ProtobufError> {
    let text = || {
        value
            .as_str()
            .ok_or_else(|| field_error(message, "", "expected a string"))
    };
    match shape {
        Shape::Object => match value {
            Value::Object(map) => encoder.object(message, map, depth, out),
            _ => Err(field_error(message, "", "expected a JSON object")),
        },
        Shape::Time | Shape::MicroTime => {
            let time = DateTime::parse_from_rfc3339(text()?)
                .map_err(|_| field_error(message, "", "expected an RFC 3339 time"))?;
            put_varint_field(out, 1, time.timestamp() as u64);
            put_varint_field(out, 2, u64::from(time.timestamp_subsec_nanos()));
            Ok(())
        }
        Shape::Duration => {
            let nanos = duration::parse_nanos(text()?, duration::Units::Go)
                .map_err(|_| field_error(message, "", "expected a Go duration"))?;
            put_varint_field(out, 1, nanos as u64);
            Ok(())
        }
        Shape::Quantity => {
            // Upstream also accepts a bare JSON number for a quantity.
            let quantity = match value {
                Value::Number(number) => number.to_string(),
                _ => text()?.to_owned(),
            };
            wire::put_bytes(out, 1, quantity.as_bytes());
            Ok(())
        }
        Shape::IntOrString => {
            // Upstream writes all three fields whichever variant is in use.
            let (kind, number, string) = match value {
                Value::Number(number) => {
                    let number = number
                        .as_i64()
                        .and_then(|number| i32::try_from(number).ok())
                        .ok_or_else(|| field_error(message, "", "expected a 32-bit integer"))?;
                    (0, number, "")
                }
                Value::String(string) => (1, 0, string.as_str()),
                _ => return Err(field_error(message, "", "expected an integer or a string")),
            };
            put_varint_field(out, 1, kind);
            put_varint_field(out, 2, i64::from(number) as u64);
            wire::put_bytes(out, 3, string.as_bytes());
            Ok(())
        }
        Shape::RawJson => {
            let bytes = serde_json::to_vec(value)
                .map_err(|error| field_error(message, "", &error.to_string()))?;
            wire::put_bytes(out, 1, &bytes);
            Ok(())
        }
        Shape::Slice => encoder.object(message, &wrap(message, 0, value), depth, out),
        Shape::SchemaOrBool => {
            let object = match value {
                Value::Bool(allows) => wrap(message, 0, &Value::Bool(*allows)),
                // A schema implies the property is allowed, as upstream decodes it.
                schema => {
                    let mut object = wrap(message, 1, schema);
                    object.extend(wrap(message, 0, &Value::Bool(true)));
                    object
                }
            };
            encoder.object(message, &object, depth, out)
        }
        Shape::SchemaOrArray | Shape::SchemaOrStrings => {
            let position = usize::from(value.is_array());
            encoder.object(message, &wrap(message, position, value), depth, out)
        }
    }
}

/// A JSON object holding `value` under the key of the message's field at
/// `position` (fields are in tag order).
fn wrap(message: &Message, position: usize, value: &Value) -> Map<String, Value> {
    let mut object = Map::new();
    if let Some(name) = message
        .fields
        .get(position)
        .and_then(|field| field.json.clone())
    {
        object.insert(name, value.clone());
    }
    object
}

fn raw_json(message: &Message, bytes: &[u8], depth: usize) -> Result<Value, ProtobufError> {
    if bytes.is_empty() {
        return Ok(Value::Null);
    }
    // Objects embedded by a protobuf encoder carry their own envelope.
    if bytes.starts_with(super::PREFIX) {
        return super::decode_nested(bytes, depth + 1);
    }
    serde_json::from_slice(bytes)
        .map_err(|_| field_error(message, "raw", "embedded data is not JSON"))
}

fn put_varint_field(out: &mut Vec<u8>, tag: u32, value: u64) {
    wire::put_key(out, tag, WireType::Varint);
    wire::put_varint(out, value);
}

/// The last value of field `tag`, or zero when absent.
fn varint_at(bytes: &[u8], tag: u32) -> Result<u64, ProtobufError> {
    let mut reader = Reader::new(bytes);
    let mut found = 0;
    while !reader.is_done() {
        if let (field, RawValue::Varint(value)) = reader.field()? {
            if field == tag {
                found = value;
            }
        }
    }
    Ok(found)
}

fn bytes_at(bytes: &[u8], tag: u32) -> Result<&[u8], ProtobufError> {
    let mut reader = Reader::new(bytes);
    let mut found: &[u8] = &[];
    while !reader.is_done() {
        if let (field, RawValue::Bytes(value)) = reader.field()? {
            if field == tag {
                found = value;
            }
        }
    }
    Ok(found)
}

fn string_at(message: &Message, bytes: &[u8], tag: u32) -> Result<String, ProtobufError> {
    String::from_utf8(bytes_at(bytes, tag)?.to_vec())
        .map_err(|_| field_error(message, "", "string is not UTF-8"))
}

/// Upstream's layouts: RFC 3339 in whole seconds for Time, with exactly six
/// fractional digits for MicroTime, always in UTC.
fn format_time(time: &DateTime<Utc>, micro: bool) -> String {
    let format = if micro {
        SecondsFormat::Micros
    } else {
        SecondsFormat::Secs
    };
    time.to_rfc3339_opts(format, true)
}

const NANOS_PER_SECOND: u64 = 1_000_000_000;

/// Go's `time.Duration.String`: "1h2m3.5s" from a second up, otherwise the
/// largest of ms, µs and ns that keeps a whole part; "0s" for zero.
pub(super) fn format_duration(nanos: i64) -> String {
    if nanos == 0 {
        return "0s".to_owned();
    }
    let sign = if nanos < 0 { "-" } else { "" };
    let value = nanos.unsigned_abs();
    if value < NANOS_PER_SECOND {
        let (unit, scale, digits) = match value {
            0..1_000 => ("ns", 1, 0),
            1_000..1_000_000 => ("µs", 1_000, 3),
            _ => ("ms", 1_000_000, 6),
        };
        return format!(
            "{sign}{}{unit}",
            decimal(value / scale, value % scale, digits)
        );
    }
    let seconds = value / NANOS_PER_SECOND;
    let (hours, minutes, rest) = (seconds / 3600, seconds / 60 % 60, seconds % 60);
    let mut out = sign.to_owned();
    if hours > 0 {
        out.push_str(&format!("{hours}h"));
    }
    if hours > 0 || minutes > 0 {
        out.push_str(&format!("{minutes}m"));
    }
    out.push_str(&decimal(rest, value % NANOS_PER_SECOND, 9));
    out.push('s');
    out
}

/// `whole.fraction` with the fraction's trailing zeros (and a bare point) dropped.
fn decimal(whole: u64, fraction: u64, digits: usize) -> String {
    if fraction == 0 {
        return whole.to_string();
    }
    let fraction = format!("{fraction:0digits$}");
    format!("{whole}.{}", fraction.trim_end_matches('0'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_format_like_go() {
        for (nanos, text) in [
            (0, "0s"),
            (1, "1ns"),
            (1_500, "1.5µs"),
            (2_000_000, "2ms"),
            (1_500_000_000, "1.5s"),
            (90_000_000_000, "1m30s"),
            (3_600_000_000_000, "1h0m0s"),
            (-5_000_000_000, "-5s"),
        ] {
            assert_eq!(format_duration(nanos), text);
            assert_eq!(
                duration::parse_nanos(text, duration::Units::Go),
                Ok(nanos),
                "{text}"
            );
        }
    }

    #[test]
    fn times_format_in_upstream_layouts() {
        let time = DateTime::<Utc>::from_timestamp(1_700_000_000, 123_456_789).expect("in range");
        assert_eq!(format_time(&time, false), "2023-11-14T22:13:20Z");
        assert_eq!(format_time(&time, true), "2023-11-14T22:13:20.123456Z");
    }
}
