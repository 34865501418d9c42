//! Kubernetes' quantity library: `quantity`, `isQuantity`, comparisons,
//! `add`, `sub`, `mul`, `sign`, `asInteger`, `isInteger`,
//! `asApproximateFloat`.
//!
//! A quantity is held exactly as `mantissa × 10^exponent`; binary suffixes
//! (`Ki` … `Ei`) are powers of two, which are integers, so they fold into
//! the mantissa.

use cel::common::types::{CelBool, CelDouble, CelInt, CelString, Type};
use cel::common::value::{StaticVal, Val};
use cel::{DeclarationError, Env, ExecutionError};
use std::any::Any;
use std::cmp::Ordering;

pub(crate) const QUANTITY_TYPE_NAME: &str = "kubernetes.Quantity";
static QUANTITY_TYPE: Type = Type::new_unspecified_type(QUANTITY_TYPE_NAME);

/// Upstream's `ErrFormatWrong` text.
const FORMAT_WRONG: &str =
    "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'";
/// Upstream's `ErrSuffix` text.
const SUFFIX_WRONG: &str = "unable to parse quantity's suffix";

pub(super) fn register(env: &mut Env) -> Result<(), DeclarationError> {
    env.add_type(QUANTITY_TYPE.to_owned())?;
    cel::add_overload!(env, fn quantity: (CelString) -> Result<Quantity>)?;
    cel::add_overload!(env, fn is_quantity: (CelString) -> CelBool)?;
    cel::add_overload!(env, fn sign: (Quantity) -> CelInt, id = "quantity_sign")?;
    cel::add_member_overload!(env, fn sign: (Quantity) -> CelInt)?;
    cel::add_member_overload!(env, fn is_greater_than: (Quantity, Quantity) -> CelBool)?;
    cel::add_member_overload!(env, fn is_less_than: (Quantity, Quantity) -> CelBool)?;
    cel::add_member_overload!(env, fn compare_to: (Quantity, Quantity) -> CelInt)?;
    cel::add_member_overload!(env, fn as_approximate_float: (Quantity) -> CelDouble)?;
    cel::add_member_overload!(env, fn as_integer: (Quantity) -> Result<CelInt>)?;
    cel::add_member_overload!(env, fn is_integer: (Quantity) -> CelBool)?;
    cel::add_member_overload!(env, fn add: (Quantity, Quantity) -> Result<Quantity>)?;
    cel::add_member_overload!(env, fn add_int: (Quantity, CelInt) -> Result<Quantity>, name = "add")?;
    cel::add_member_overload!(env, fn sub: (Quantity, Quantity) -> Result<Quantity>)?;
    cel::add_member_overload!(env, fn sub_int: (Quantity, CelInt) -> Result<Quantity>, name = "sub")?;
    cel::add_member_overload!(env, fn mul: (Quantity, CelInt) -> Result<Quantity>)?;
    Ok(())
}

/// An exact quantity, `mantissa × 10^exponent`, kept with no trailing
/// zeros in the mantissa so that equal values are equal structs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Quantity {
    mantissa: i128,
    exponent: i32,
}

impl Quantity {
    fn new(mut mantissa: i128, mut exponent: i32) -> Quantity {
        if mantissa == 0 {
            return Quantity {
                mantissa: 0,
                exponent: 0,
            };
        }
        while mantissa % 10 == 0 {
            mantissa /= 10;
            exponent += 1;
        }
        Quantity { mantissa, exponent }
    }

    /// Parses Kubernetes' quantity syntax: a signed decimal number and an
    /// optional SI, binary or exponent suffix.
    pub(crate) fn parse(text: &str) -> Result<Quantity, &'static str> {
        let (negative, rest) = match text.as_bytes().first() {
            Some(b'-') => (true, &text[1..]),
            Some(b'+') => (false, &text[1..]),
            _ => (false, text),
        };
        let number_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let (number, suffix) = rest.split_at(number_len);
        let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
        if whole.is_empty() && fraction.is_empty() || fraction.contains('.') {
            return Err(FORMAT_WRONG);
        }
        let (power_of_ten, power_of_two) = parse_suffix(suffix)?;
        let digits = format!("{whole}{fraction}");
        let mut mantissa: i128 = digits.parse().map_err(|_| FORMAT_WRONG)?;
        mantissa = mantissa
            .checked_mul(1i128 << power_of_two)
            .ok_or(FORMAT_WRONG)?;
        if negative {
            mantissa = -mantissa;
        }
        let exponent = power_of_ten - i32::try_from(fraction.len()).map_err(|_| FORMAT_WRONG)?;
        Ok(Quantity::new(mantissa, exponent))
    }

    fn approximate(&self) -> f64 {
        self.mantissa as f64 * 10f64.powi(self.exponent)
    }

    /// Both mantissas scaled to the smaller exponent, if that fits.
    fn aligned(&self, other: &Quantity) -> Option<(i128, i128, i32)> {
        let exponent = self.exponent.min(other.exponent);
        let scale = |q: &Quantity| {
            let shift = u32::try_from(q.exponent - exponent).ok()?;
            10i128
                .checked_pow(shift)
                .and_then(|f| q.mantissa.checked_mul(f))
        };
        Some((scale(self)?, scale(other)?, exponent))
    }

    fn compare(&self, other: &Quantity) -> Ordering {
        match self.aligned(other) {
            Some((a, b, _)) => a.cmp(&b),
            None => self
                .approximate()
                .partial_cmp(&other.approximate())
                .unwrap_or(Ordering::Equal),
        }
    }

    fn plus(&self, other: &Quantity) -> Result<Quantity, ExecutionError> {
        let (a, b, exponent) = self.aligned(other).ok_or_else(overflow)?;
        Ok(Quantity::new(
            a.checked_add(b).ok_or_else(overflow)?,
            exponent,
        ))
    }

    fn negated(&self) -> Quantity {
        Quantity::new(-self.mantissa, self.exponent)
    }

    fn as_i64(&self) -> Option<i64> {
        let value = if self.exponent >= 0 {
            10i128
                .checked_pow(self.exponent.unsigned_abs())
                .and_then(|f| self.mantissa.checked_mul(f))?
        } else {
            let divisor = 10i128.checked_pow(self.exponent.unsigned_abs())?;
            if self.mantissa % divisor != 0 {
                return None;
            }
            self.mantissa / divisor
        };
        i64::try_from(value).ok()
    }
}

fn overflow() -> ExecutionError {
    super::failure("quantity", "quantity overflow")
}

/// The (power of ten, power of two) a suffix stands for.
fn parse_suffix(suffix: &str) -> Result<(i32, u32), &'static str> {
    let letters = suffix.trim_end_matches(|c: char| c.is_ascii_digit() || c == '+' || c == '-');
    if !letters.chars().all(|c| "eEinumkKMGTP".contains(c)) {
        return Err(FORMAT_WRONG);
    }
    let decimal = match suffix {
        "" => Some(0),
        "n" => Some(-9),
        "u" => Some(-6),
        "m" => Some(-3),
        "k" => Some(3),
        "M" => Some(6),
        "G" => Some(9),
        "T" => Some(12),
        "P" => Some(15),
        "E" => Some(18),
        _ => None,
    };
    if let Some(power) = decimal {
        return Ok((power, 0));
    }
    let binary = match suffix {
        "Ki" => Some(10),
        "Mi" => Some(20),
        "Gi" => Some(30),
        "Ti" => Some(40),
        "Pi" => Some(50),
        "Ei" => Some(60),
        _ => None,
    };
    if let Some(power) = binary {
        return Ok((0, power));
    }
    let exponent = suffix
        .strip_prefix('e')
        .or_else(|| suffix.strip_prefix('E'))
        .ok_or(SUFFIX_WRONG)?;
    let digits = exponent.trim_start_matches(['+', '-']);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(FORMAT_WRONG);
    }
    exponent.parse().map(|p| (p, 0)).map_err(|_| FORMAT_WRONG)
}

impl Val for Quantity {
    fn get_type(&self) -> &Type {
        &QUANTITY_TYPE
    }

    fn cel_type() -> &'static Type {
        &QUANTITY_TYPE
    }

    fn equals(&self, other: &dyn Val) -> bool {
        other
            .downcast_ref::<Quantity>()
            .is_some_and(|o| self.compare(o) == Ordering::Equal)
    }

    fn clone_as_boxed<'v>(&self) -> Box<dyn Val + 'v> {
        Box::new(*self)
    }

    fn as_any(&self) -> Option<&dyn Any> {
        Some(self)
    }
}

impl StaticVal for Quantity {}

fn quantity(text: &CelString<'_>) -> Result<Quantity, ExecutionError> {
    Quantity::parse(text.inner()).map_err(|e| super::failure("quantity", e))
}

fn is_quantity(text: &CelString<'_>) -> CelBool {
    CelBool::from(Quantity::parse(text.inner()).is_ok())
}

fn sign(q: &Quantity) -> CelInt {
    CelInt::from(q.mantissa.signum() as i64)
}

fn is_greater_than(q: &Quantity, other: &Quantity) -> CelBool {
    CelBool::from(q.compare(other) == Ordering::Greater)
}

fn is_less_than(q: &Quantity, other: &Quantity) -> CelBool {
    CelBool::from(q.compare(other) == Ordering::Less)
}

fn compare_to(q: &Quantity, other: &Quantity) -> CelInt {
    CelInt::from(q.compare(other) as i64)
}

fn as_approximate_float(q: &Quantity) -> CelDouble {
    CelDouble::from(q.approximate())
}

fn as_integer(q: &Quantity) -> Result<CelInt, ExecutionError> {
    q.as_i64()
        .map(CelInt::from)
        .ok_or_else(|| super::failure("asInteger", "cannot convert value to integer"))
}

fn is_integer(q: &Quantity) -> CelBool {
    CelBool::from(q.as_i64().is_some())
}

fn add(q: &Quantity, other: &Quantity) -> Result<Quantity, ExecutionError> {
    q.plus(other)
}

fn add_int(q: &Quantity, other: &CelInt) -> Result<Quantity, ExecutionError> {
    q.plus(&Quantity::new(i128::from(*other.inner()), 0))
}

fn sub(q: &Quantity, other: &Quantity) -> Result<Quantity, ExecutionError> {
    q.plus(&other.negated())
}

fn sub_int(q: &Quantity, other: &CelInt) -> Result<Quantity, ExecutionError> {
    q.plus(&Quantity::new(-i128::from(*other.inner()), 0))
}

fn mul(q: &Quantity, factor: &CelInt) -> Result<Quantity, ExecutionError> {
    let mantissa = q
        .mantissa
        .checked_mul(i128::from(*factor.inner()))
        .ok_or_else(overflow)?;
    Ok(Quantity::new(mantissa, q.exponent))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(text: &str) -> Quantity {
        Quantity::parse(text).unwrap()
    }

    #[test]
    fn parses_decimal_binary_and_exponent_suffixes() {
        assert_eq!(q("1.5k"), q("1500"));
        assert_eq!(q("1Ki"), q("1024"));
        assert_eq!(q("200M"), q("0.2G"));
        assert_eq!(q("1e3"), q("1k"));
        assert_eq!(q("-5m").as_i64(), None);
        assert_eq!(q("+.5Gi").compare(&q("512Mi")), Ordering::Equal);
        assert_eq!(Quantity::parse("200K"), Err(SUFFIX_WRONG));
        assert_eq!(Quantity::parse("Three"), Err(FORMAT_WRONG));
        assert_eq!(Quantity::parse("Mi"), Err(FORMAT_WRONG));
        assert_eq!(Quantity::parse("1,3G"), Err(FORMAT_WRONG));
    }

    #[test]
    fn compares_across_suffixes() {
        assert_eq!(q("50M").compare(&q("50Mi")), Ordering::Less);
        assert_eq!(q("150Mi").compare(&q("100Mi")), Ordering::Greater);
        assert_eq!(q("9999999999999999999999999999999999999G").as_i64(), None);
    }
}
