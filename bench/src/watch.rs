//! Watch delivery: many watchers on the bench namespace's ConfigMaps while
//! one writer creates ConfigMaps at a fixed rate.
//!
//! Every written object carries its sequence number and the wall-clock time
//! (Unix nanoseconds) just before it was sent, so a watcher measures
//! delivery latency from the write itself, without a shared table. Latency
//! from the write's acknowledgement is reported too. Writer and watchers run
//! on this machine, so both read the same clock.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use http::{Method, StatusCode};
use http_body_util::BodyExt;
use memchr::memmem;
use tokio::sync::{mpsc, watch, Semaphore};
use tokio::task::JoinSet;

use crate::client::ApiClient;
use crate::error::BenchError;
use crate::kubeconfig;
use crate::namespace;
use crate::process_usage::CpuMeter;
use crate::report::{Check, Report, Row};
use crate::stats::Samples;

#[derive(Debug, Clone)]
pub struct WatchOptions {
    pub kubeconfig: PathBuf,
    pub watchers: usize,
    pub rate: u32,
    pub seconds: u64,
    pub payload_bytes: usize,
    pub streams_per_connection: usize,
    pub drain_seconds: u64,
    pub max_writes_in_flight: usize,
    pub server_pid: Option<u32>,
}

/// When the writer is done: how many writes were acknowledged and until
/// when watchers wait for the rest of their events.
#[derive(Debug, Clone, Copy)]
struct Finish {
    acknowledged: usize,
    deadline: Instant,
}

/// Acknowledgement time of each write (Unix nanoseconds), 0 while unacknowledged.
struct WriteLog {
    acknowledged_at: Vec<AtomicU64>,
}

#[derive(Default)]
struct WriterOutcome {
    acknowledged: u64,
    failed: u64,
    elapsed: Duration,
    samples: Samples,
    first_error: Option<String>,
}

/// What one watcher saw.
struct WatcherOutcome {
    /// How often each write's event arrived.
    deliveries: Vec<u8>,
    from_write: Samples,
    from_ack: Samples,
    error: Option<String>,
}

pub async fn run(options: WatchOptions) -> Result<Report, BenchError> {
    let endpoint = kubeconfig::load(&options.kubeconfig)?;
    let control = ApiClient::connect(&endpoint, 1).await?;
    let namespace = namespace::unique_name();
    namespace::create(&control, &namespace).await?;
    let outcome = measure(&options, &endpoint, &control, &namespace).await;
    let cleanup = namespace::delete(&control, &namespace).await;
    let report = outcome?;
    cleanup?;
    Ok(report)
}

async fn measure(
    options: &WatchOptions,
    endpoint: &kubeconfig::Endpoint,
    control: &Arc<ApiClient>,
    namespace: &str,
) -> Result<Report, BenchError> {
    let collection = format!("/api/v1/namespaces/{namespace}/configmaps");
    let listed = control.call(Method::GET, &collection, None).await?;
    if listed.status != StatusCode::OK {
        return Err(BenchError::Protocol(format!(
            "listing configmaps: {}",
            listed.describe()
        )));
    }
    let version = namespace::resource_version(&listed.body).map_err(BenchError::Protocol)?;
    let total = (u64::from(options.rate) * options.seconds) as usize;
    let log = Arc::new(WriteLog {
        acknowledged_at: (0..total).map(|_| AtomicU64::new(0)).collect(),
    });

    let connections = options
        .watchers
        .div_ceil(options.streams_per_connection.max(1));
    let watch_client = ApiClient::connect(endpoint, connections).await?;
    let hard_deadline =
        Instant::now() + Duration::from_secs(options.seconds + options.drain_seconds + 120);
    let watch_path = format!(
        "{collection}?watch=1&resourceVersion={version}&timeoutSeconds={}",
        options.seconds + options.drain_seconds + 120
    );
    let (ready_tx, mut ready_rx) = mpsc::channel(options.watchers.max(1));
    let (finish_tx, finish_rx) = watch::channel(None);
    let mut watchers = JoinSet::new();
    for _ in 0..options.watchers {
        watchers.spawn(watcher(
            watch_client.clone(),
            watch_path.clone(),
            total,
            log.clone(),
            ready_tx.clone(),
            finish_rx.clone(),
            hard_deadline,
        ));
    }
    drop(ready_tx);
    let mut started = 0;
    let mut start_errors = 0;
    let ready_deadline = Instant::now() + Duration::from_secs(60);
    while started + start_errors < options.watchers {
        match tokio::time::timeout_at(ready_deadline.into(), ready_rx.recv()).await {
            Ok(Some(true)) => started += 1,
            Ok(Some(false)) => start_errors += 1,
            Ok(None) | Err(_) => break,
        }
    }

    let meter = CpuMeter::start(options.server_pid);
    let writer = write(control.clone(), namespace, options, total, log.clone()).await;
    let _ = finish_tx.send(Some(Finish {
        acknowledged: writer.acknowledged as usize,
        deadline: Instant::now() + Duration::from_secs(options.drain_seconds),
    }));

    let mut outcomes = Vec::with_capacity(options.watchers);
    while let Some(joined) = watchers.join_next().await {
        match joined {
            Ok(outcome) => outcomes.push(outcome),
            Err(error) => outcomes.push(WatcherOutcome {
                deliveries: Vec::new(),
                from_write: Samples::default(),
                from_ack: Samples::default(),
                error: Some(format!("watcher stopped: {error}")),
            }),
        }
    }
    drop(finish_tx);
    let mut report = summarize(options, &log, writer, outcomes, started);
    report.notes.push(format!(
        "while writing and delivering: {}",
        meter.describe()
    ));
    Ok(report)
}

fn summarize(
    options: &WatchOptions,
    log: &WriteLog,
    writer: WriterOutcome,
    outcomes: Vec<WatcherOutcome>,
    started: usize,
) -> Report {
    let mut report = Report::new("watch delivery");
    let mut from_write = Samples::default();
    let mut from_ack = Samples::default();
    let (mut complete, mut missing, mut duplicates) = (0usize, 0u64, 0u64);
    let mut first_error = None;
    for mut outcome in outcomes {
        let (lost, doubled) = tally(&outcome.deliveries, log);
        missing += lost;
        duplicates += doubled;
        if lost == 0 && doubled == 0 && outcome.deliveries.len() == log.acknowledged_at.len() {
            complete += 1;
        }
        from_write.append(&mut outcome.from_write);
        from_ack.append(&mut outcome.from_ack);
        if first_error.is_none() {
            first_error = outcome.error;
        }
    }

    let write_rate = writer.acknowledged as f64 / writer.elapsed.as_secs_f64().max(1e-9);
    report.rows.push(Row {
        bench: "writes".into(),
        concurrency: None,
        ops: writer.acknowledged,
        errors: writer.failed,
        seconds: writer.elapsed.as_secs_f64(),
        ops_per_second: Some(write_rate),
        latency: writer.samples.summarize(),
        value: Some(format!("asked {}/s", options.rate)),
        checks: vec![Check::at_least(
            "ops/s",
            write_rate,
            f64::from(options.rate) * 0.95,
        )],
        first_error: writer.first_error,
    });
    let delivered = from_write.len() as u64;
    let mut delivery = Row::figure(
        "delivery, from write timestamp",
        format!("{delivered} events"),
    );
    delivery.ops = delivered;
    delivery.latency = from_write.summarize();
    let p99 = delivery.latency.map(|l| l.p99_ms).unwrap_or(f64::INFINITY);
    report
        .rows
        .push(delivery.check(Check::below("p99 ms", p99, 100.0)));
    let mut acked = Row::figure("delivery, from acknowledgement", "");
    acked.ops = delivered;
    acked.latency = from_ack.summarize();
    report.rows.push(acked);

    let mut every = Row::figure(
        "every watcher got every event",
        format!(
            "{complete}/{} watchers complete, {missing} not received in time, {duplicates} duplicate",
            options.watchers
        ),
    );
    every.errors = (options.watchers - started) as u64;
    every.first_error = first_error;
    report.rows.push(every.check(Check::holds(
        "all complete",
        complete == options.watchers && writer.acknowledged > 0,
    )));
    report.notes.push(format!(
        "{} watchers ({started} started) over {} HTTP/2 connection(s), {} writes/s for {} s, \
         {} payload bytes per object",
        options.watchers,
        options
            .watchers
            .div_ceil(options.streams_per_connection.max(1)),
        options.rate,
        options.seconds,
        options.payload_bytes
    ));
    report
}

/// Counts acknowledged writes a watcher never saw, and events it saw more than once.
fn tally(deliveries: &[u8], log: &WriteLog) -> (u64, u64) {
    let mut missing = 0;
    let mut duplicates = 0;
    for (index, acknowledged) in log.acknowledged_at.iter().enumerate() {
        let count = deliveries.get(index).copied().unwrap_or(0);
        if count == 0 && acknowledged.load(Ordering::Relaxed) != 0 {
            missing += 1;
        }
        duplicates += u64::from(count.saturating_sub(1));
    }
    (missing, duplicates)
}

fn unix_nanos() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|since| since.as_nanos() as u64)
        .unwrap_or_default()
}

/// Creates `total` ConfigMaps, one every 1/rate seconds (open loop: a slow
/// server gets more writes in flight, up to `max_writes_in_flight`).
async fn write(
    client: Arc<ApiClient>,
    namespace: &str,
    options: &WatchOptions,
    total: usize,
    log: Arc<WriteLog>,
) -> WriterOutcome {
    let payload: Arc<str> = "x".repeat(options.payload_bytes).into();
    let slots = Arc::new(Semaphore::new(options.max_writes_in_flight.max(1)));
    let interval = Duration::from_secs(1) / options.rate.max(1);
    let start = Instant::now();
    let give_up = start + Duration::from_secs(options.seconds + 30);
    let mut tasks = JoinSet::new();
    for sequence in 0..total {
        tokio::time::sleep_until((start + interval * sequence as u32).into()).await;
        let Ok(permit) = slots.clone().acquire_owned().await else {
            break;
        };
        if Instant::now() >= give_up {
            break;
        }
        let client = client.clone();
        let namespace = namespace.to_string();
        let payload = payload.clone();
        let log = log.clone();
        tasks.spawn(async move {
            let _permit = permit;
            let sent = unix_nanos();
            let body = namespace::configmap(
                &namespace,
                &format!("w-{sequence:07}"),
                &[
                    ("seq", &sequence.to_string()),
                    ("sentUnixNanos", &sent.to_string()),
                    ("payload", &payload),
                ],
                None,
            );
            let began = Instant::now();
            let path = format!("/api/v1/namespaces/{namespace}/configmaps");
            let reply = client.call(Method::POST, &path, Some(body)).await;
            let latency = began.elapsed();
            match reply {
                Ok(reply) if reply.status == StatusCode::CREATED => {
                    if let Some(slot) = log.acknowledged_at.get(sequence) {
                        slot.store(unix_nanos(), Ordering::Relaxed);
                    }
                    Ok(latency)
                }
                Ok(reply) => Err(reply.describe()),
                Err(error) => Err(error.to_string()),
            }
        });
    }
    let mut outcome = WriterOutcome::default();
    while let Some(joined) = tasks.join_next().await {
        match joined {
            Ok(Ok(latency)) => {
                outcome.acknowledged += 1;
                outcome.samples.push(latency);
            }
            Ok(Err(error)) => {
                outcome.failed += 1;
                outcome.first_error.get_or_insert(error);
            }
            Err(error) => {
                outcome.failed += 1;
                outcome.first_error.get_or_insert(error.to_string());
            }
        }
    }
    outcome.elapsed = start.elapsed();
    outcome
}

/// One watch stream: reports on `ready` once the response head arrived,
/// then records every event until it has as many as were acknowledged, the
/// drain deadline passes, or the stream ends.
async fn watcher(
    client: Arc<ApiClient>,
    path: String,
    total: usize,
    log: Arc<WriteLog>,
    ready: mpsc::Sender<bool>,
    mut finish: watch::Receiver<Option<Finish>>,
    hard_deadline: Instant,
) -> WatcherOutcome {
    let mut outcome = WatcherOutcome {
        deliveries: vec![0; total],
        from_write: Samples::with_capacity(total),
        from_ack: Samples::with_capacity(total),
        error: None,
    };
    let response = match client.open(Method::GET, &path, None).await {
        Ok(response) if response.status() == StatusCode::OK => response,
        Ok(response) => {
            outcome.error = Some(format!("watch answered {}", response.status()));
            let _ = ready.send(false).await;
            return outcome;
        }
        Err(error) => {
            outcome.error = Some(format!("opening watch: {error}"));
            let _ = ready.send(false).await;
            return outcome;
        }
    };
    let _ = ready.send(true).await;
    drop(ready);

    let mut body = response.into_body();
    let mut pending: Vec<u8> = Vec::new();
    let mut distinct = 0usize;
    let mut deadline = hard_deadline;
    let mut finished: Option<Finish> = None;
    loop {
        if let Some(finish) = finished {
            if distinct >= finish.acknowledged {
                break;
            }
            deadline = finish.deadline.min(hard_deadline);
        }
        tokio::select! {
            frame = body.frame() => match frame {
                Some(Ok(frame)) => {
                    let Ok(data) = frame.into_data() else { continue };
                    pending.extend_from_slice(&data);
                    let now = unix_nanos();
                    let consumed = record_lines(&pending, now, &log, &mut outcome, &mut distinct);
                    pending.drain(..consumed);
                }
                Some(Err(error)) => {
                    outcome.error = Some(format!("watch stream failed: {error}"));
                    break;
                }
                None => {
                    outcome.error.get_or_insert("the server ended the watch early".into());
                    break;
                }
            },
            changed = finish.changed() => {
                if changed.is_err() {
                    break;
                }
                finished = *finish.borrow_and_update();
            }
            () = tokio::time::sleep_until(deadline.into()) => break,
        }
    }
    outcome
}

/// Records each complete line of `buffer`; returns how many bytes it used.
fn record_lines(
    buffer: &[u8],
    now: u64,
    log: &WriteLog,
    outcome: &mut WatcherOutcome,
    distinct: &mut usize,
) -> usize {
    let mut consumed = 0;
    for end in memchr::memchr_iter(b'\n', buffer) {
        let line = &buffer[consumed..end];
        consumed = end + 1;
        match event_stamp(line) {
            Some((sequence, sent)) => {
                let Some(count) = outcome.deliveries.get_mut(sequence as usize) else {
                    continue;
                };
                if *count == 0 {
                    *distinct += 1;
                }
                *count = count.saturating_add(1);
                outcome.from_write.push_nanos(now.saturating_sub(sent));
                let acknowledged = log
                    .acknowledged_at
                    .get(sequence as usize)
                    .map(|slot| slot.load(Ordering::Relaxed))
                    .unwrap_or_default();
                if acknowledged != 0 {
                    outcome
                        .from_ack
                        .push_nanos(now.saturating_sub(acknowledged));
                } else {
                    // The event beat the write's own response.
                    outcome.from_ack.push_nanos(0);
                }
            }
            None if memmem::find(line, b"\"type\":\"ERROR\"").is_some() => {
                let end = line.len().min(200);
                outcome.error.get_or_insert(format!(
                    "ERROR event: {}",
                    String::from_utf8_lossy(&line[..end])
                ));
            }
            None => {}
        }
    }
    consumed
}

/// The `seq` and `sentUnixNanos` values an event's object carries, if any.
fn event_stamp(line: &[u8]) -> Option<(u64, u64)> {
    Some((
        quoted_number(line, b"\"seq\":\"")?,
        quoted_number(line, b"\"sentUnixNanos\":\"")?,
    ))
}

fn quoted_number(line: &[u8], key: &[u8]) -> Option<u64> {
    let start = memmem::find(line, key)? + key.len();
    let rest = line.get(start..)?;
    let length = memchr::memchr(b'"', rest)?;
    std::str::from_utf8(&rest[..length]).ok()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn log_of(acknowledged: &[u64]) -> WriteLog {
        WriteLog {
            acknowledged_at: acknowledged.iter().map(|&n| AtomicU64::new(n)).collect(),
        }
    }

    fn empty_outcome(total: usize) -> WatcherOutcome {
        WatcherOutcome {
            deliveries: vec![0; total],
            from_write: Samples::default(),
            from_ack: Samples::default(),
            error: None,
        }
    }

    #[test]
    fn stamp_is_read_from_event_line() {
        let line = br#"{"object":{"data":{"payload":"xx","sentUnixNanos":"1000","seq":"7"},"metadata":{"name":"w-0000007"}},"type":"ADDED"}"#;
        assert_eq!(event_stamp(line), Some((7, 1000)));
        assert_eq!(event_stamp(br#"{"type":"BOOKMARK","object":{}}"#), None);
    }

    #[test]
    fn lines_are_recorded_and_partial_lines_kept() {
        let log = log_of(&[900, 0]);
        let mut outcome = empty_outcome(2);
        let mut distinct = 0;
        let buffer = b"{\"object\":{\"data\":{\"sentUnixNanos\":\"500\",\"seq\":\"0\"}}}\n{\"object\":{\"data\":{\"sentUn";
        let used = record_lines(buffer, 1000, &log, &mut outcome, &mut distinct);
        assert_eq!(&buffer[used..], b"{\"object\":{\"data\":{\"sentUn");
        assert_eq!(distinct, 1);
        assert_eq!(outcome.deliveries, vec![1, 0]);
        let from_write = outcome.from_write.summarize().expect("one sample");
        assert_eq!(from_write.p50_ms, 500.0 / 1e6);
        let from_ack = outcome.from_ack.summarize().expect("one sample");
        assert_eq!(from_ack.p50_ms, 100.0 / 1e6);
    }

    #[test]
    fn error_events_are_kept() {
        let log = log_of(&[]);
        let mut outcome = empty_outcome(0);
        let mut distinct = 0;
        let buffer = b"{\"type\":\"ERROR\",\"object\":{\"code\":410}}\n";
        record_lines(buffer, 1, &log, &mut outcome, &mut distinct);
        assert!(outcome.error.is_some());
    }

    #[test]
    fn tally_counts_missing_and_duplicates() {
        let log = log_of(&[1, 1, 0, 1]);
        assert_eq!(tally(&[1, 2, 0, 0], &log), (1, 1));
        assert_eq!(tally(&[1, 1, 1, 1], &log), (0, 0));
    }
}
