//! Durations written the way Go's `time.ParseDuration` reads them (`1h`,
//! `5m0s`, `1.5s`, `300ms`), because upstream's flags (`--event-ttl`,
//! `--request-timeout`) and the `timeout` query parameter use that form.

use std::time::Duration;

use apiserver::duration::{DurationError, Units};

/// Parses a Go duration. Negative durations are refused: nothing here has a
/// use for them. A bare `0` is allowed, as in Go.
pub fn parse(text: &str) -> Result<Duration, String> {
    match apiserver::duration::parse_nanos(text, Units::Go) {
        Ok(nanos) if nanos >= 0 => Ok(Duration::from_nanos(nanos as u64)),
        Err(DurationError::MissingUnit) => Err(format!("missing unit in duration {text:?}")),
        Err(DurationError::UnknownUnit(unit)) => {
            Err(format!("unknown unit {unit:?} in duration {text:?}"))
        }
        Ok(_) | Err(DurationError::Invalid) => Err(format!("invalid duration {text:?}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_go_durations() {
        assert_eq!(parse("1h"), Ok(Duration::from_secs(3600)));
        assert_eq!(parse("5m0s"), Ok(Duration::from_secs(300)));
        assert_eq!(parse("1h30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse("1.5s"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse("300ms"), Ok(Duration::from_millis(300)));
        assert_eq!(parse("0"), Ok(Duration::ZERO));
    }

    #[test]
    fn refuses_what_go_refuses() {
        assert!(parse("").is_err());
        assert!(parse("10").is_err());
        assert!(parse("1d").is_err());
        assert!(parse("-1s").is_err());
        assert!(parse("s").is_err());
    }
}
