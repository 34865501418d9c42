//! A closed-loop run of one operation: `concurrency` workers take the next
//! index until `count` operations were started or `max_time` passed.

use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::report::Row;
use crate::stats::Samples;

/// Samples a worker reserves room for up front; time-bounded phases may
/// have no meaningful count.
const PREALLOCATED_SAMPLES: usize = 1 << 20;

/// When a phase stops: whichever of the two comes first.
#[derive(Debug, Clone, Copy)]
pub struct Bounds {
    pub count: usize,
    pub max_time: Duration,
}

/// What a phase measured. Latencies are of successful operations only.
#[derive(Debug, Default)]
pub struct PhaseOutcome {
    pub succeeded: u64,
    pub failed: u64,
    pub elapsed: Duration,
    pub samples: Samples,
    pub first_error: Option<String>,
}

impl PhaseOutcome {
    pub fn ops_per_second(&self) -> f64 {
        let seconds = self.elapsed.as_secs_f64();
        if seconds > 0.0 {
            self.succeeded as f64 / seconds
        } else {
            0.0
        }
    }

    pub fn into_row(self, bench: impl Into<String>, concurrency: usize) -> Row {
        let ops_per_second = self.ops_per_second();
        Row {
            bench: bench.into(),
            concurrency: Some(concurrency),
            ops: self.succeeded,
            errors: self.failed,
            seconds: self.elapsed.as_secs_f64(),
            ops_per_second: Some(ops_per_second),
            latency: self.samples.summarize(),
            value: None,
            checks: Vec::new(),
            first_error: self.first_error,
        }
    }
}

/// Runs `operation(index)` for indexes `0..count` on `concurrency` workers.
pub async fn run<F, Fut>(concurrency: usize, bounds: Bounds, operation: F) -> PhaseOutcome
where
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<(), String>> + Send + 'static,
{
    let operation = Arc::new(operation);
    let next = Arc::new(AtomicUsize::new(0));
    let start = Instant::now();
    let deadline = start + bounds.max_time;
    let workers: Vec<_> = (0..concurrency.max(1))
        .map(|_| {
            let operation = operation.clone();
            let next = next.clone();
            tokio::spawn(async move {
                let mut outcome = PhaseOutcome {
                    samples: Samples::with_capacity(
                        (bounds.count / concurrency.max(1) + 1).min(PREALLOCATED_SAMPLES),
                    ),
                    ..PhaseOutcome::default()
                };
                loop {
                    let index = next.fetch_add(1, Ordering::Relaxed);
                    if index >= bounds.count || Instant::now() >= deadline {
                        break;
                    }
                    let began = Instant::now();
                    match operation(index).await {
                        Ok(()) => {
                            outcome.samples.push(began.elapsed());
                            outcome.succeeded += 1;
                        }
                        Err(error) => {
                            outcome.failed += 1;
                            outcome.first_error.get_or_insert(error);
                        }
                    }
                }
                outcome
            })
        })
        .collect();

    let mut total = PhaseOutcome::default();
    for worker in workers {
        match worker.await {
            Ok(mut outcome) => {
                total.succeeded += outcome.succeeded;
                total.failed += outcome.failed;
                total.samples.append(&mut outcome.samples);
                if total.first_error.is_none() {
                    total.first_error = outcome.first_error;
                }
            }
            Err(error) => {
                total.failed += 1;
                total
                    .first_error
                    .get_or_insert(format!("worker stopped: {error}"));
            }
        }
    }
    total.elapsed = start.elapsed();
    total
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn runs_every_index_once_and_counts_failures() {
        let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
        let record = seen.clone();
        let bounds = Bounds {
            count: 100,
            max_time: Duration::from_secs(10),
        };
        let outcome = run(4, bounds, move |index| {
            let record = record.clone();
            async move {
                record.lock().expect("not poisoned").push(index);
                if index % 10 == 0 {
                    Err(format!("index {index}"))
                } else {
                    Ok(())
                }
            }
        })
        .await;
        assert_eq!(outcome.succeeded, 90);
        assert_eq!(outcome.failed, 10);
        assert_eq!(outcome.samples.len(), 90);
        assert!(outcome.first_error.is_some());
        let mut seen = seen.lock().expect("not poisoned").clone();
        seen.sort_unstable();
        assert_eq!(seen, (0..100).collect::<Vec<_>>());
    }

    #[tokio::test]
    async fn stops_at_the_time_bound() {
        let bounds = Bounds {
            count: usize::MAX,
            max_time: Duration::from_millis(50),
        };
        let outcome = run(2, bounds, |_| async {
            tokio::time::sleep(Duration::from_millis(5)).await;
            Ok(())
        })
        .await;
        assert!(outcome.elapsed < Duration::from_secs(2));
        assert!(outcome.succeeded > 0);
        assert_eq!(outcome.failed, 0);
    }
}
