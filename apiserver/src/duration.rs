//! Durations written as Go's `time.ParseDuration` reads them (`1h30m`,
//! `-1.5s`, `300ms`): flags and the `timeout` parameter, protobuf
//! `metav1.Duration`, the OpenAPI `duration` format and CEL durations all
//! use that form. One parser, exact to the nanosecond.

/// Why a text is not a duration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DurationError {
    /// A number with no unit after it (`10`).
    MissingUnit,
    /// A unit Go does not know (`1d` without [`Units::WithDaysAndWeeks`]).
    UnknownUnit(String),
    /// Anything else: empty, a malformed number, out of range.
    Invalid,
}

/// Which units are accepted besides Go's `ns us µs ms s m h`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Units {
    Go,
    /// Also `d` and `w`, as the OpenAPI `duration` format (and CEL) allow.
    WithDaysAndWeeks,
}

/// The duration in nanoseconds (negative when written with `-`).
pub fn parse_nanos(text: &str, units: Units) -> Result<i64, DurationError> {
    let (negative, mut rest) = match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    if rest == "0" {
        return Ok(0);
    }
    if rest.is_empty() {
        return Err(DurationError::Invalid);
    }
    let mut total: i128 = 0;
    while !rest.is_empty() {
        let number_end = rest
            .find(|c: char| !c.is_ascii_digit() && c != '.')
            .unwrap_or(rest.len());
        let (number, after) = rest.split_at(number_end);
        let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
        if (whole.is_empty() && fraction.is_empty())
            || !fraction.bytes().all(|byte| byte.is_ascii_digit())
        {
            return Err(DurationError::Invalid);
        }
        let unit_end = after
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(after.len());
        let (unit, next) = after.split_at(unit_end);
        let scale: i128 = match (unit, units) {
            ("", _) => return Err(DurationError::MissingUnit),
            ("ns", _) => 1,
            ("us" | "µs" | "μs", _) => 1_000,
            ("ms", _) => 1_000_000,
            ("s", _) => 1_000_000_000,
            ("m", _) => 60_000_000_000,
            ("h", _) => 3_600_000_000_000,
            ("d", Units::WithDaysAndWeeks) => 86_400_000_000_000,
            ("w", Units::WithDaysAndWeeks) => 7 * 86_400_000_000_000,
            (other, _) => return Err(DurationError::UnknownUnit(other.to_string())),
        };
        let whole: i128 = if whole.is_empty() {
            0
        } else {
            whole.parse().map_err(|_| DurationError::Invalid)?
        };
        let mut part = whole.checked_mul(scale).ok_or(DurationError::Invalid)?;
        let mut divisor: i128 = 1;
        for digit in fraction.bytes().take(18) {
            divisor *= 10;
            part += i128::from(digit - b'0') * scale / divisor;
        }
        total = total.checked_add(part).ok_or(DurationError::Invalid)?;
        rest = next;
    }
    let total = if negative { -total } else { total };
    i64::try_from(total).map_err(|_| DurationError::Invalid)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn go(text: &str) -> Result<i64, DurationError> {
        parse_nanos(text, Units::Go)
    }

    #[test]
    fn reads_what_go_reads() {
        assert_eq!(go("1h30m"), Ok(5_400_000_000_000));
        assert_eq!(go("1.5µs"), Ok(1_500));
        assert_eq!(go("-1.5s"), Ok(-1_500_000_000));
        assert_eq!(go("+300ms"), Ok(300_000_000));
        assert_eq!(go(".5s"), Ok(500_000_000));
        assert_eq!(go("0"), Ok(0));
    }

    #[test]
    fn refuses_what_go_refuses() {
        assert_eq!(go(""), Err(DurationError::Invalid));
        assert_eq!(go("s"), Err(DurationError::Invalid));
        assert_eq!(go(".s"), Err(DurationError::Invalid));
        assert_eq!(go("1.2.3s"), Err(DurationError::Invalid));
        assert_eq!(go("10"), Err(DurationError::MissingUnit));
        assert_eq!(go("1d"), Err(DurationError::UnknownUnit("d".into())));
        assert_eq!(go("3x"), Err(DurationError::UnknownUnit("x".into())));
        assert_eq!(go("99999999999h"), Err(DurationError::Invalid));
    }

    #[test]
    fn days_and_weeks_when_asked() {
        assert_eq!(
            parse_nanos("1w1d", Units::WithDaysAndWeeks),
            Ok(8 * 86_400_000_000_000)
        );
    }
}
