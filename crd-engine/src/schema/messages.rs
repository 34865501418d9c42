//! Upstream's wording: kube-openapi's validation messages
//! (`pkg/validation/errors`), how apiextensions turns them into field errors
//! (`kubeOpenAPIResultToFieldErrors`), and Go's printing of numbers, which
//! those messages embed (`%v` of an int64 or a float64).

use apiserver::validation::{FieldError, FieldErrorKind};
use serde_json::Value;

/// Where the field errors of one validation run are rooted. kube-openapi
/// names a failing value by a dotted path from the validated value (`""`
/// for the value itself, `spec.replicas`, `spec.items[0]`, `spec.labels.x`);
/// apiextensions appends that name, without a leading dot, to `base`.
#[derive(Debug, Clone, Copy)]
pub struct Root<'a> {
    /// The field path of the validated value itself; `None` for a whole
    /// custom resource, whose own errors upstream reports at Go's nil path
    /// (rendered `<nil>`).
    pub base: Option<&'a str>,
}

impl Root<'_> {
    /// The field path for kube-openapi's `name`.
    pub fn field(&self, name: &str) -> String {
        let trimmed = name.strip_prefix('.').unwrap_or(name);
        match (self.base, trimmed.is_empty()) {
            (None, true) => "<nil>".to_string(),
            (None, false) => trimmed.to_string(),
            (Some(base), true) => base.to_string(),
            (Some(base), false) => format!("{base}.{trimmed}"),
        }
    }

    /// A kube-openapi failure with its code's field error kind: everything
    /// without a dedicated mapping is `Invalid` with the message as detail.
    pub fn invalid(&self, name: &str, value: Value, message: String) -> FieldError {
        FieldError::invalid(self.field(name), value, message)
    }

    /// A wrong type: `Invalid value: "string": x in body must be of type integer: "string"`.
    pub fn wrong_type(&self, name: &str, expected: &str, found: &str) -> FieldError {
        FieldError::new(
            FieldErrorKind::TypeInvalid,
            self.field(name),
            Some(Value::String(found.to_string())),
            format!("{name} in body must be of type {expected}: {found:?}"),
        )
    }

    /// A missing required property.
    pub fn required(&self, name: &str) -> FieldError {
        FieldError::required(self.field(name), "")
    }

    /// A value outside `enum`, listing the allowed values as upstream does
    /// (strings bare, anything else as JSON).
    pub fn not_supported(&self, name: &str, value: &Value, allowed: &[Value]) -> FieldError {
        let listed = allowed
            .iter()
            .map(|allowed| format!("{:?}", enum_text(allowed)))
            .collect::<Vec<_>>()
            .join(", ");
        let detail = if allowed.is_empty() {
            String::new()
        } else {
            format!("supported values: {listed}")
        };
        FieldError::new(
            FieldErrorKind::NotSupported,
            self.field(name),
            Some(value.clone()),
            detail,
        )
    }

    /// `maxLength` exceeded: apimachinery's `field.TooLong`, which omits the
    /// value.
    pub fn too_long(&self, name: &str, max: i64) -> FieldError {
        let unit = if max == 1 { "byte" } else { "bytes" };
        FieldError::new(
            FieldErrorKind::TooLong,
            self.field(name),
            None,
            format!("may not be more than {max} {unit}"),
        )
    }

    /// `maxItems` or `maxProperties` exceeded: `field.TooMany`.
    pub fn too_many(&self, name: &str, actual: usize, max: i64) -> FieldError {
        FieldError::new(
            FieldErrorKind::TooMany,
            self.field(name),
            Some(Value::from(actual)),
            format!("must have at most {max} items"),
        )
    }

    /// A failed `allOf`/`anyOf`/`oneOf`/`not`: kube-openapi reports these
    /// without a field name, so they land on the validated value's own path
    /// with an empty value, the schema path quoted in the message.
    pub fn composite(&self, message: String) -> FieldError {
        FieldError::invalid(self.field(""), Value::String(String::new()), message)
    }
}

/// apimachinery's `field.Path` formatting, which the checks outside
/// kube-openapi (list types, embedded resources, schema rules) use: named
/// children joined with dots, map keys and indexes in brackets.
pub fn child(path: &str, name: &str) -> String {
    if path.is_empty() {
        name.to_string()
    } else {
        format!("{path}.{name}")
    }
}

pub fn key(path: &str, key: &str) -> String {
    format!("{path}[{key}]")
}

pub fn index(path: &str, index: usize) -> String {
    format!("{path}[{index}]")
}

/// kube-openapi's `"%s in body " + rest` message shape.
pub fn in_body(name: &str, rest: &str) -> String {
    format!("{name} in body {rest}")
}

/// An enum value as apiextensions lists it: strings as they are, anything
/// else as Go's JSON encoding of the decoded value (numbers are float64).
fn enum_text(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        Value::Number(number) => go_json_float(number.as_f64().unwrap_or_default()),
        other => other.to_string(),
    }
}

/// A number from a request as Go holds it after decoding: an int64 when it
/// is an integer literal that fits, a float64 otherwise.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum GoNumber {
    Int(i64),
    Float(f64),
}

impl GoNumber {
    pub fn of(value: &Value) -> Option<GoNumber> {
        let number = value.as_number()?;
        Some(match number.as_i64() {
            Some(int) => GoNumber::Int(int),
            None => GoNumber::Float(number.as_f64().unwrap_or(f64::NAN)),
        })
    }

    pub fn as_f64(self) -> f64 {
        match self {
            GoNumber::Int(int) => int as f64,
            GoNumber::Float(float) => float,
        }
    }
}

/// Go's `%v` of a float64, i.e. `strconv.FormatFloat(f, 'g', -1, 64)`: the
/// shortest digits that round-trip, in exponent form (`1e+06`) when the
/// decimal exponent is below -4 or at least 6.
pub fn go_float(value: f64) -> String {
    if value.is_nan() {
        return "NaN".to_string();
    }
    if value.is_infinite() {
        return if value > 0.0 { "+Inf" } else { "-Inf" }.to_string();
    }
    let (negative, digits, exponent) = shortest_digits(value);
    let sign = if negative { "-" } else { "" };
    if !(-4..6).contains(&exponent) {
        return format!("{sign}{}", exponent_form(&digits, exponent));
    }
    format!("{sign}{}", plain_form(&digits, exponent))
}

/// Go's `encoding/json` of a float64: plain decimal unless the magnitude is
/// below 1e-6 or at least 1e21, then exponent form without zero padding.
pub fn go_json_float(value: f64) -> String {
    if !value.is_finite() {
        return go_float(value);
    }
    let (negative, digits, exponent) = shortest_digits(value);
    let sign = if negative { "-" } else { "" };
    let magnitude = value.abs();
    if magnitude != 0.0 && !(1e-6..1e21).contains(&magnitude) {
        let text = exponent_form(&digits, exponent);
        return format!("{sign}{}", text.replace("e-0", "e-").replace("e+0", "e+"));
    }
    format!("{sign}{}", plain_form(&digits, exponent))
}

/// The shortest round-trip decimal digits of `value` and the exponent of the
/// first digit.
fn shortest_digits(value: f64) -> (bool, String, i32) {
    let text = format!("{:e}", value.abs());
    let (mantissa, exponent) = text.split_once('e').unwrap_or((&text, "0"));
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    (
        value.is_sign_negative() && value != 0.0,
        digits,
        exponent.parse().unwrap_or(0),
    )
}

fn exponent_form(digits: &str, exponent: i32) -> String {
    let (first, rest) = digits.split_at(1);
    let mantissa = if rest.is_empty() {
        first.to_string()
    } else {
        format!("{first}.{rest}")
    };
    let sign = if exponent < 0 { '-' } else { '+' };
    format!("{mantissa}e{sign}{:02}", exponent.abs())
}

fn plain_form(digits: &str, exponent: i32) -> String {
    if exponent < 0 {
        let zeros = "0".repeat((-exponent - 1) as usize);
        return format!("0.{zeros}{digits}");
    }
    let point = exponent as usize + 1;
    if digits.len() <= point {
        format!("{digits}{}", "0".repeat(point - digits.len()))
    } else {
        format!("{}.{}", &digits[..point], &digits[point..])
    }
}

/// Go's `%v` of a bound as kube-openapi prints it next to a value: integer
/// data is compared with the bound truncated to int64, float data with the
/// float64 bound.
pub fn go_bound(bound: f64, data: GoNumber) -> String {
    match data {
        GoNumber::Int(_) => (bound as i64).to_string(),
        GoNumber::Float(_) => go_float(bound),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floats_print_as_go_prints_them() {
        assert_eq!(go_float(10.0), "10");
        assert_eq!(go_float(1.5), "1.5");
        assert_eq!(go_float(-0.25), "-0.25");
        assert_eq!(go_float(100000.0), "100000");
        assert_eq!(go_float(1000000.0), "1e+06");
        assert_eq!(go_float(1234567.0), "1.234567e+06");
        assert_eq!(go_float(0.0001), "0.0001");
        assert_eq!(go_float(0.00001), "1e-05");
        assert_eq!(go_float(0.0), "0");
    }

    #[test]
    fn json_floats_print_as_go_encodes_them() {
        assert_eq!(go_json_float(1.0), "1");
        assert_eq!(go_json_float(1000000.0), "1000000");
        assert_eq!(go_json_float(2.5), "2.5");
        assert_eq!(go_json_float(1e21), "1e+21");
        assert_eq!(go_json_float(1e-7), "1e-7");
    }

    #[test]
    fn field_paths_follow_kube_openapi_names() {
        let object = Root { base: None };
        assert_eq!(object.field("spec.replicas"), "spec.replicas");
        assert_eq!(object.field(".name"), "name");
        assert_eq!(object.field(""), "<nil>");
        let default = Root {
            base: Some("x.default"),
        };
        assert_eq!(default.field(""), "x.default");
        assert_eq!(default.field(".a"), "x.default.a");
    }

    #[test]
    fn enum_values_are_listed_like_upstream() {
        let root = Root { base: None };
        let error = root.not_supported(
            "spec.color",
            &Value::from("pink"),
            &[Value::from("red"), Value::from(1), Value::from(true)],
        );
        assert_eq!(
            error.to_string(),
            "spec.color: Unsupported value: \"pink\": supported values: \"red\", \"1\", \"true\""
        );
    }
}
