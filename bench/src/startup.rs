//! Startup time: from spawning the server to `/readyz` answering 200 over HTTPS.
//!
//! Each run gets a fresh temporary directory and a free loopback port. In
//! the command's arguments `{data_dir}` becomes `<tmp>/data` (created
//! empty) and `{port}` the port. Unless `--insecure`, the probe waits for
//! the server to write `<data_dir>/admin.kubeconfig` and uses its CA and
//! client certificate; with `--insecure` it trusts any certificate and sends
//! none, on 127.0.0.1:{port}.

use std::net::{Ipv4Addr, TcpListener};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use http::{Method, StatusCode};
use rustls::pki_types::ServerName;

use crate::client::ApiClient;
use crate::error::BenchError;
use crate::kubeconfig::{self, Endpoint};
use crate::report::{Check, Report, Row};
use crate::stats;
use crate::tls;

#[derive(Debug, Clone)]
pub struct StartupOptions {
    pub runs: usize,
    pub timeout_seconds: u64,
    pub insecure: bool,
    pub command: Vec<String>,
}

/// Time between two readiness probes.
const PROBE_INTERVAL: Duration = Duration::from_millis(1);

pub async fn run(options: StartupOptions) -> Result<Report, BenchError> {
    if options.command.is_empty() {
        return Err(BenchError::Protocol(
            "give the server command after --".into(),
        ));
    }
    let mut report = Report::new("startup to /readyz 200");
    let mut times = Vec::with_capacity(options.runs);
    let mut failures = 0u64;
    let mut first_error = None;
    for _ in 0..options.runs {
        match one_run(&options).await {
            Ok(elapsed) => times.push(elapsed),
            Err(error) => {
                failures += 1;
                first_error.get_or_insert(error.to_string());
            }
        }
    }
    report.notes.push(format!(
        "runs (ms): {}",
        times
            .iter()
            .map(|time| format!("{:.1}", time.as_secs_f64() * 1e3))
            .collect::<Vec<_>>()
            .join(", ")
    ));
    let minimum = times.iter().min().copied();
    let median = stats::median(&mut times);
    let as_ms = |time: Option<Duration>| time.map(|t| t.as_secs_f64() * 1e3);
    let mut row = Row::figure(
        "startup",
        match (as_ms(minimum), as_ms(median)) {
            (Some(minimum), Some(median)) => {
                format!("min {minimum:.1} ms, median {median:.1} ms")
            }
            _ => "never ready".to_string(),
        },
    );
    row.ops = times.len() as u64;
    row.errors = failures;
    row.first_error = first_error;
    let median_ms = as_ms(median).unwrap_or(f64::INFINITY);
    report
        .rows
        .push(row.check(Check::below("median ms", median_ms, 150.0)));
    Ok(report)
}

/// Replaces `{data_dir}` and `{port}` in every argument.
pub fn substitute(command: &[String], data_dir: &Path, port: u16) -> Vec<String> {
    let data_dir = data_dir.display().to_string();
    command
        .iter()
        .map(|argument| {
            argument
                .replace("{data_dir}", &data_dir)
                .replace("{port}", &port.to_string())
        })
        .collect()
}

/// A port that was free a moment ago; the server binds it right after.
pub fn free_port() -> Result<u16, BenchError> {
    Ok(TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?
        .local_addr()?
        .port())
}

/// Kills the server however the run ends.
pub struct Server(pub Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

async fn one_run(options: &StartupOptions) -> Result<Duration, BenchError> {
    let scratch = tempfile::Builder::new()
        .prefix("bench-startup-")
        .tempdir()?;
    let data_dir = scratch.path().join("data");
    std::fs::create_dir(&data_dir)?;
    let port = free_port()?;
    let arguments = substitute(&options.command, &data_dir, port);
    let log = std::fs::File::create(scratch.path().join("server.log"))?;

    let began = Instant::now();
    let mut server = Server(
        Command::new(&arguments[0])
            .args(&arguments[1..])
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()?,
    );
    let deadline = began + Duration::from_secs(options.timeout_seconds);
    let mut endpoint = if options.insecure {
        Some(insecure_endpoint(port)?)
    } else {
        None
    };
    while Instant::now() < deadline {
        if let Some(status) = server.0.try_wait()? {
            return Err(BenchError::Protocol(format!(
                "the server exited with {status}: {}",
                log_tail(&scratch.path().join("server.log"))
            )));
        }
        if endpoint.is_none() {
            endpoint = kubeconfig::load(&data_dir.join("admin.kubeconfig")).ok();
        }
        if let Some(endpoint) = &endpoint {
            if is_ready(endpoint).await {
                return Ok(began.elapsed());
            }
        }
        tokio::time::sleep(PROBE_INTERVAL).await;
    }
    Err(BenchError::Protocol(format!(
        "not ready within {} s: {}",
        options.timeout_seconds,
        log_tail(&scratch.path().join("server.log"))
    )))
}

fn insecure_endpoint(port: u16) -> Result<Endpoint, BenchError> {
    Ok(Endpoint {
        port,
        server_name: ServerName::IpAddress(Ipv4Addr::LOCALHOST.into()),
        tls: Arc::new(tls::insecure_config(None)?),
        bearer_token: None,
        headers: http::HeaderMap::new(),
    })
}

/// Whether `GET /readyz` answers 200 within a second.
pub async fn is_ready(endpoint: &Endpoint) -> bool {
    let probe = async {
        let client = ApiClient::connect(endpoint, 1).await?;
        client.call(Method::GET, "/readyz", None).await
    };
    matches!(
        tokio::time::timeout(Duration::from_secs(1), probe).await,
        Ok(Ok(reply)) if reply.status == StatusCode::OK
    )
}

/// The last 400 bytes or so of a log file, for error messages.
pub fn log_tail(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let start = text.len().saturating_sub(400);
    let start = (start..text.len())
        .find(|&index| text.is_char_boundary(index))
        .unwrap_or(text.len());
    text[start..].trim().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_substituted_everywhere() {
        let command: Vec<String> = [
            "kube-apiserver",
            "--data-dir={data_dir}",
            "--secure-port",
            "{port}",
        ]
        .map(String::from)
        .to_vec();
        let arguments = substitute(&command, Path::new("/tmp/x/data"), 7443);
        assert_eq!(
            arguments,
            [
                "kube-apiserver",
                "--data-dir=/tmp/x/data",
                "--secure-port",
                "7443"
            ]
        );
    }

    #[tokio::test]
    async fn a_server_that_exits_is_reported() {
        let options = StartupOptions {
            runs: 1,
            timeout_seconds: 5,
            insecure: true,
            command: vec!["false".to_string()],
        };
        let error = one_run(&options).await.expect_err("false never serves");
        assert!(error.to_string().contains("exited"), "{error}");
    }
}
