//! What the kubectl-driven test files share: running kubectl with stdin
//! and environment, reading its tables, and following a `kubectl get -w`
//! in the background. Servers on either backend come from the harness
//! (`Cluster`, `Backend`).
//!
//! Every test file compiles this module on its own and uses part of it.
#![allow(
    dead_code,
    unused_imports,
    reason = "each test file uses a different part"
)]

use std::io::Write;
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use blackbox_tests::TestServer;
pub use blackbox_tests::{Backend, Cluster};
use serde_json::Value;

/// A kubectl command against `server`, with the admin kubeconfig and a
/// cache dir of the server's own.
pub fn kubectl_command(server: &TestServer, args: &[&str]) -> Command {
    let mut command = Command::new("kubectl");
    command
        .arg("--kubeconfig")
        .arg(server.kubeconfig())
        .arg("--cache-dir")
        .arg(server.dir().join("kubectl-cache"))
        .args(args)
        .env_remove("KUBECONFIG")
        .stdin(Stdio::null());
    command
}

fn describe(args: &[&str], output: &Output) -> String {
    format!(
        "kubectl {}\nexit: {}\nstdout:\n{}\nstderr:\n{}",
        args.join(" "),
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// Runs kubectl and returns stdout; panics with everything when it fails.
pub fn ok(server: &TestServer, args: &[&str]) -> String {
    let output = server.kubectl(args);
    assert!(output.status.success(), "{}", describe(args, &output));
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// Runs kubectl that must fail and returns stderr.
pub fn fails(server: &TestServer, args: &[&str]) -> String {
    let output = server.kubectl(args);
    assert!(
        !output.status.success(),
        "expected a failure\n{}",
        describe(args, &output)
    );
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Runs kubectl with `input` on stdin (for `-f -`).
pub fn ok_with_stdin(server: &TestServer, args: &[&str], input: &str) -> String {
    let mut child = kubectl_command(server, args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("kubectl starts");
    child
        .stdin
        .take()
        .expect("stdin is piped")
        .write_all(input.as_bytes())
        .expect("kubectl reads stdin");
    let output = child.wait_with_output().expect("kubectl finishes");
    assert!(output.status.success(), "{}", describe(args, &output));
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// Runs kubectl with extra environment (e.g. `KUBE_EDITOR`).
pub fn ok_with_env(server: &TestServer, args: &[&str], env: &[(&str, &str)]) -> String {
    let mut command = kubectl_command(server, args);
    for (key, value) in env {
        command.env(key, value);
    }
    let output = command.output().expect("kubectl runs");
    assert!(output.status.success(), "{}", describe(args, &output));
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// Writes `text` to a file in the server's dir and returns its path.
pub fn write_file(server: &TestServer, name: &str, text: &str) -> String {
    let path: PathBuf = server.dir().join(name);
    std::fs::write(&path, text).expect("manifest written");
    path.display().to_string()
}

/// `kubectl get ... -o json`, parsed.
pub fn get_json(server: &TestServer, args: &[&str]) -> Value {
    let mut all = vec!["get"];
    all.extend_from_slice(args);
    all.extend_from_slice(&["-o", "json"]);
    let text = ok(server, &all);
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

/// The sorted names `kubectl get -o name` prints, without the kind prefix.
pub fn names(server: &TestServer, args: &[&str]) -> Vec<String> {
    let mut all = vec!["get"];
    all.extend_from_slice(args);
    all.extend_from_slice(&["-o", "name"]);
    let mut found: Vec<String> = ok(server, &all)
        .lines()
        .map(|line| line.rsplit('/').next().unwrap_or(line).to_string())
        .collect();
    found.sort();
    found
}

/// A `kubectl get` table read by column: kubectl aligns every cell under
/// its header, so a cell is the text between its header's start and the
/// next header's (cells may be empty or hold single spaces).
#[derive(Debug)]
pub struct Table {
    pub headers: Vec<String>,
    pub rows: Vec<Vec<String>>,
}

impl Table {
    pub fn parse(text: &str) -> Table {
        let mut lines = text.lines().filter(|line| !line.trim().is_empty());
        let header = lines.next().unwrap_or_default();
        let bytes = header.as_bytes();
        let starts: Vec<usize> = (0..bytes.len())
            .filter(|&i| {
                bytes[i] != b' '
                    && (i == 0 || (i >= 2 && bytes[i - 1] == b' ' && bytes[i - 2] == b' '))
            })
            .collect();
        let cut = |line: &str| -> Vec<String> {
            starts
                .iter()
                .enumerate()
                .map(|(n, &start)| {
                    let end = starts.get(n + 1).copied().unwrap_or(usize::MAX);
                    let end = end.min(line.len());
                    line.get(start.min(end)..end)
                        .unwrap_or("")
                        .trim()
                        .to_string()
                })
                .collect()
        };
        Table {
            headers: cut(header),
            rows: lines.map(cut).collect(),
        }
    }

    /// The cell under `column` in the row whose first cell is `first`.
    pub fn cell(&self, first: &str, column: &str) -> &str {
        let index = self
            .headers
            .iter()
            .position(|h| h == column)
            .unwrap_or_else(|| panic!("no column {column} in {:?}", self.headers));
        let row = self
            .rows
            .iter()
            .find(|row| row.first().is_some_and(|c| c == first))
            .unwrap_or_else(|| panic!("no row {first} in {self:?}"));
        &row[index]
    }
}

/// A `kubectl get -w` running in the background, its output collected in a
/// file. Killed on drop.
pub struct Watch {
    child: Child,
    path: PathBuf,
}

impl Watch {
    /// Starts `kubectl get -w ARGS` and returns once kubectl has printed the
    /// initial list (give it one object to list): the watch then continues
    /// from that list's resourceVersion, so nothing done after is missed.
    pub fn start(server: &TestServer, name: &str, args: &[&str]) -> Watch {
        let path = server.dir().join(format!("{name}.watch"));
        let out = std::fs::File::create(&path).expect("watch output file");
        let mut all = vec!["get", "-w", "--request-timeout=30s"];
        all.extend_from_slice(args);
        let child = kubectl_command(server, &all)
            .stdout(out)
            .stderr(Stdio::null())
            .spawn()
            .expect("kubectl get -w starts");
        let watch = Watch { child, path };
        watch.wait_for(|line| !line.trim().is_empty());
        watch
    }

    pub fn output(&self) -> String {
        std::fs::read_to_string(&self.path).unwrap_or_default()
    }

    /// Waits until the output has a line for which `done` holds, up to
    /// 10 s; returns the output either way.
    pub fn wait_for(&self, done: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let text = self.output();
            if text.lines().any(&done) || Instant::now() > deadline {
                return text;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The lines of watch output whose first cell is an event type, as
/// `(type, name)` pairs.
pub fn watch_events(text: &str) -> Vec<(String, String)> {
    text.lines()
        .filter_map(|line| {
            let mut cells = line.split_whitespace();
            let kind = cells.next()?;
            let name = cells.next()?;
            matches!(kind, "ADDED" | "MODIFIED" | "DELETED")
                .then(|| (kind.to_string(), name.to_string()))
        })
        .collect()
}
