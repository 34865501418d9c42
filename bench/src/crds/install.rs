//! Creating CRDs and timing them until Established: many at once (the
//! install), or one at a time (the establish latency).

use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use http::{Method, StatusCode};

use crate::client::ApiClient;
use crate::error::BenchError;
use crate::phase::{self, Bounds};
use crate::report::{Check, Row};
use crate::stats::Samples;

use super::definitions::{self, Definition, CRD_COLLECTION};
use super::established::EstablishedWatch;

/// Longest wait for one CRD of the latency samples; the target is 20 ms,
/// so this only keeps a stuck server from hanging the run.
const ESTABLISH_TIMEOUT: Duration = Duration::from_secs(30);

/// Extra seconds a watch may stay open past the phase's time limit.
const WATCH_SLACK_SECONDS: u64 = 60;

/// Sends one CRD create; anything but 201 is an error.
pub async fn create(client: &ApiClient, definition: &Definition) -> Result<(), String> {
    let reply = client
        .call(Method::POST, CRD_COLLECTION, Some(definition.body.clone()))
        .await
        .map_err(|error| format!("creating CRD {}: {error}", definition.name))?;
    if reply.status != StatusCode::CREATED {
        return Err(format!(
            "creating CRD {}: {}",
            definition.name,
            reply.describe()
        ));
    }
    Ok(())
}

/// Creates one CRD and waits for it to be Established, through a watch on
/// its name opened first. Returns the time from just before the create was
/// sent to the arrival of the event that showed Established.
/// Gives up at `deadline` or [`ESTABLISH_TIMEOUT`] after the create,
/// whichever is first.
pub async fn create_and_wait(
    client: &ApiClient,
    definition: &Definition,
    deadline: Instant,
) -> Result<Duration, String> {
    let selector = format!("fieldSelector=metadata.name%3D{}", definition.name);
    let timeout_seconds = ESTABLISH_TIMEOUT.as_secs() + WATCH_SLACK_SECONDS;
    let watch = EstablishedWatch::open(client, &selector, timeout_seconds)
        .await
        .map_err(|error| error.to_string())?;
    let sent = Instant::now();
    create(client, definition).await?;
    let names = [definition.name.clone()];
    watch
        .wait_for(&names, deadline.min(sent + ESTABLISH_TIMEOUT))
        .await
        .map_err(|error| format!("waiting for {} to be Established: {error}", definition.name))?;
    let established = watch
        .established_at(&definition.name)
        .ok_or_else(|| format!("{} lost its Established stamp", definition.name))?;
    Ok(established.saturating_duration_since(sent))
}

/// Creates `count` CRDs one after another, each waited for before the
/// next, and reports create-to-Established latency (target: p99 within
/// 20 ms). Stops early once `max_time` has passed.
pub async fn establish_samples(
    client: &ApiClient,
    run: &str,
    first: usize,
    count: usize,
    max_time: Duration,
) -> Row {
    let mut samples = Samples::with_capacity(count);
    let mut failed = 0;
    let mut first_error = None;
    let began = Instant::now();
    let deadline = began + max_time;
    for index in first..first + count {
        if Instant::now() >= deadline {
            break;
        }
        let definition = definitions::operator_crd(run, "establish", index);
        match create_and_wait(client, &definition, deadline).await {
            Ok(latency) => samples.push(latency),
            Err(error) => {
                failed += 1;
                first_error.get_or_insert(error);
            }
        }
    }
    let succeeded = samples.len() as u64;
    let latency = samples.summarize();
    let p99 = latency.map(|l| l.p99_ms).unwrap_or(f64::INFINITY);
    Row {
        bench: "CRD create -> Established".into(),
        concurrency: Some(1),
        ops: succeeded,
        errors: failed,
        seconds: began.elapsed().as_secs_f64(),
        ops_per_second: None,
        latency,
        value: None,
        checks: vec![Check::below("p99 ms", p99, 20.0)],
        first_error,
    }
}

/// One batch of an install: CRDs `first..first + count` of the run's
/// install set, created by `concurrency` workers until all are Established.
pub struct Batch {
    pub first: usize,
    pub count: usize,
    pub concurrency: usize,
    pub max_time: Duration,
}

/// What an install batch measured.
pub struct BatchOutcome {
    /// From the first create sent to the last Established seen (or to the
    /// give-up time when some never were).
    pub elapsed: Duration,
    pub established: u64,
    /// From the first create sent to the last create answered.
    pub creates_took: Duration,
    /// Create-to-Established time of each CRD that got there.
    pub samples: Samples,
    pub first_error: Option<String>,
}

/// Creates a batch at its concurrency, as `kubectl apply` of a bundle
/// would, while one watch on the install set notes each Established.
pub async fn install(
    client: &Arc<ApiClient>,
    run: &str,
    batch: &Batch,
) -> Result<BatchOutcome, BenchError> {
    let selector = format!(
        "labelSelector={}",
        definitions::selector(run, Some("install"))
    );
    let watch_seconds = batch.max_time.as_secs() + WATCH_SLACK_SECONDS;
    let watch = EstablishedWatch::open(client, &selector, watch_seconds).await?;
    let definitions: Arc<Vec<Definition>> = Arc::new(
        (batch.first..batch.first + batch.count)
            .map(|index| definitions::operator_crd(run, "install", index))
            .collect(),
    );
    // When each accepted create was sent.
    let sent_at: Arc<Vec<OnceLock<Instant>>> =
        Arc::new((0..batch.count).map(|_| OnceLock::new()).collect());

    let began = Instant::now();
    let created = phase::run(
        batch.concurrency,
        Bounds {
            count: batch.count,
            max_time: batch.max_time,
        },
        {
            let client = client.clone();
            let definitions = definitions.clone();
            let sent_at = sent_at.clone();
            move |index| {
                let client = client.clone();
                let definitions = definitions.clone();
                let sent_at = sent_at.clone();
                async move {
                    let sent = Instant::now();
                    create(&client, &definitions[index]).await?;
                    let _ = sent_at[index].set(sent);
                    Ok(())
                }
            }
        },
    )
    .await;

    // Only accepted creates are waited for: a refused one would hold the
    // batch until its time limit.
    let names: Vec<String> = definitions
        .iter()
        .zip(sent_at.iter())
        .filter(|(_, sent)| sent.get().is_some())
        .map(|(definition, _)| definition.name.clone())
        .collect();
    let waited = watch.wait_for(&names, began + batch.max_time).await;
    let mut outcome = BatchOutcome {
        elapsed: began.elapsed(),
        established: 0,
        creates_took: created.elapsed,
        samples: Samples::with_capacity(batch.count),
        first_error: created.first_error,
    };
    let mut last = None;
    for (definition, sent) in definitions.iter().zip(sent_at.iter()) {
        let (Some(established), Some(sent)) = (watch.established_at(&definition.name), sent.get())
        else {
            continue;
        };
        outcome.established += 1;
        outcome
            .samples
            .push(established.saturating_duration_since(*sent));
        last = last.max(Some(established));
    }
    if let (Ok(()), Some(last)) = (&waited, last) {
        outcome.elapsed = last.saturating_duration_since(began);
    }
    if let Err(error) = waited {
        outcome
            .first_error
            .get_or_insert(format!("waiting for Established: {error}"));
    }
    Ok(outcome)
}

/// The install row: every batch together, the pauses between them left
/// out. Its latencies are per CRD, create to Established, so they include
/// any wait behind CRDs created earlier that the server had not yet
/// established.
pub fn install_row(total: usize, concurrency: usize, batches: Vec<BatchOutcome>) -> Row {
    let mut samples = Samples::with_capacity(total);
    let mut row = Row::figure(format!("install {total} CRDs until Established"), "");
    row.concurrency = Some(concurrency);
    let mut elapsed = Duration::ZERO;
    let mut creates_took = Duration::ZERO;
    for mut batch in batches {
        elapsed += batch.elapsed;
        creates_took += batch.creates_took;
        row.ops += batch.established;
        samples.append(&mut batch.samples);
        if row.first_error.is_none() {
            row.first_error = batch.first_error;
        }
    }
    let seconds = elapsed.as_secs_f64();
    row.errors = (total as u64).saturating_sub(row.ops);
    row.seconds = seconds;
    row.ops_per_second = Some(row.ops as f64 / seconds.max(1e-9));
    row.latency = samples.summarize();
    row.value = Some(format!(
        "{seconds:.1} s for {} of {total}; creates answered in {:.1} s",
        row.ops,
        creates_took.as_secs_f64()
    ));
    let complete = row.ops == total as u64;
    row.check(Check::holds(
        "all Established in s < 60",
        complete && seconds < 60.0,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn batch(seconds: u64, established: u64) -> BatchOutcome {
        let mut samples = Samples::default();
        for _ in 0..established {
            samples.push(Duration::from_millis(5));
        }
        BatchOutcome {
            elapsed: Duration::from_secs(seconds),
            established,
            creates_took: Duration::from_secs(1),
            samples,
            first_error: None,
        }
    }

    #[test]
    fn install_row_adds_up_batches() {
        let row = install_row(1000, 8, vec![batch(10, 200), batch(30, 800)]);
        assert_eq!((row.ops, row.errors), (1000, 0));
        assert_eq!(row.seconds, 40.0);
        assert_eq!(row.ops_per_second, Some(25.0));
        assert!(row.checks[0].met);
    }

    #[test]
    fn missing_crds_are_errors_and_miss_the_target() {
        let row = install_row(1000, 8, vec![batch(10, 200), batch(20, 790)]);
        assert_eq!((row.ops, row.errors), (990, 10));
        assert!(!row.checks[0].met);
    }
}
