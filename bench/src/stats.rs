//! Latency samples and their percentiles.
//!
//! Samples are kept whole (nanoseconds, one `u64` each) and sorted once, so
//! percentiles are exact; every run is bounded in count, which bounds memory.

use std::time::Duration;

/// Latencies of one kind of operation.
#[derive(Debug, Default, Clone)]
pub struct Samples {
    nanos: Vec<u64>,
}

/// What a table row shows of a set of samples, in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct LatencySummary {
    pub count: usize,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
}

impl Samples {
    pub fn with_capacity(capacity: usize) -> Self {
        Self {
            nanos: Vec::with_capacity(capacity),
        }
    }

    pub fn push(&mut self, latency: Duration) {
        self.push_nanos(u64::try_from(latency.as_nanos()).unwrap_or(u64::MAX));
    }

    pub fn push_nanos(&mut self, nanos: u64) {
        self.nanos.push(nanos);
    }

    pub fn append(&mut self, other: &mut Samples) {
        self.nanos.append(&mut other.nanos);
    }

    pub fn len(&self) -> usize {
        self.nanos.len()
    }

    /// Sorts the samples and reads p50, p99 and the maximum; `None` when empty.
    pub fn summarize(mut self) -> Option<LatencySummary> {
        self.nanos.sort_unstable();
        let to_ms = |nanos: u64| nanos as f64 / 1e6;
        Some(LatencySummary {
            count: self.nanos.len(),
            p50_ms: to_ms(percentile(&self.nanos, 50.0)?),
            p99_ms: to_ms(percentile(&self.nanos, 99.0)?),
            max_ms: to_ms(*self.nanos.last()?),
        })
    }
}

/// The nearest-rank percentile of sorted values: the smallest value that at
/// least `p` percent of the values are less than or equal to.
///
/// `p` is clamped to (0, 100]; an empty slice has no percentile.
pub fn percentile(sorted: &[u64], p: f64) -> Option<u64> {
    if sorted.is_empty() {
        return None;
    }
    let p = p.clamp(f64::MIN_POSITIVE, 100.0);
    let rank = (p / 100.0 * sorted.len() as f64).ceil() as usize;
    sorted.get(rank.clamp(1, sorted.len()) - 1).copied()
}

/// The median of a few durations (startup runs), `None` when empty. For an
/// even count it is the mean of the two middle values.
pub fn median(values: &mut [Duration]) -> Option<Duration> {
    values.sort_unstable();
    let middle = values.len() / 2;
    match values.len() {
        0 => None,
        n if n % 2 == 1 => values.get(middle).copied(),
        _ => Some((values[middle - 1] + values[middle]) / 2),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentile_of_empty_is_none() {
        assert_eq!(percentile(&[], 50.0), None);
    }

    #[test]
    fn percentile_uses_nearest_rank() {
        let values: Vec<u64> = (1..=100).collect();
        assert_eq!(percentile(&values, 50.0), Some(50));
        assert_eq!(percentile(&values, 99.0), Some(99));
        assert_eq!(percentile(&values, 100.0), Some(100));
        assert_eq!(percentile(&values, 0.0), Some(1));
    }

    #[test]
    fn percentile_of_small_sets_rounds_up() {
        assert_eq!(percentile(&[7], 99.0), Some(7));
        assert_eq!(percentile(&[1, 2, 3], 50.0), Some(2));
        assert_eq!(percentile(&[1, 2, 3, 4], 50.0), Some(2));
        assert_eq!(percentile(&[1, 2, 3, 4], 99.0), Some(4));
    }

    #[test]
    fn summarize_sorts_first() {
        let mut samples = Samples::default();
        for ms in [5u64, 1, 3, 2, 4] {
            samples.push(Duration::from_millis(ms));
        }
        let summary = samples.summarize().expect("five samples");
        assert_eq!(summary.count, 5);
        assert_eq!(summary.p50_ms, 3.0);
        assert_eq!(summary.p99_ms, 5.0);
        assert_eq!(summary.max_ms, 5.0);
    }

    #[test]
    fn summarize_of_nothing_is_none() {
        assert_eq!(Samples::default().summarize(), None);
    }

    #[test]
    fn median_of_odd_and_even_counts() {
        let ms = Duration::from_millis;
        assert_eq!(median(&mut [ms(9), ms(1), ms(5)]), Some(ms(5)));
        assert_eq!(median(&mut [ms(4), ms(2), ms(8), ms(6)]), Some(ms(5)));
        assert_eq!(median(&mut []), None);
    }
}
