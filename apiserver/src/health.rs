//! `/healthz`, `/livez` and `/readyz`, as upstream serves them: `ok` when
//! every check passes, one line per check with `?verbose`, a single check
//! at `/<endpoint>/<check>`, and `?exclude=<check>` to skip one.

use crate::storage::Store;

/// The checks every endpoint runs, in order.
const CHECKS: &[&str] = &["ping", "log", "etcd"];

/// The answer: status code and text body; `None` for an unknown check.
pub async fn answer(
    store: &dyn Store,
    endpoint: &str,
    check: Option<&str>,
    query: &str,
) -> Option<(u16, String)> {
    let params = crate::handlers::query::pairs(query);
    let verbose = params.iter().any(|(k, _)| k == "verbose");
    let excluded: Vec<&str> = params
        .iter()
        .filter(|(k, _)| k == "exclude")
        .map(|(_, v)| v.as_str())
        .collect();
    if let Some(check) = check {
        if !CHECKS.contains(&check) {
            return None;
        }
        return Some(match run(store, check).await {
            Ok(()) => (200, "ok".to_string()),
            Err(reason) => (500, format!("internal server error: {reason}\n")),
        });
    }
    let mut lines = Vec::new();
    let mut failed = false;
    for check in CHECKS {
        if excluded.contains(check) {
            lines.push(format!("[+]{check} excluded: ok"));
            continue;
        }
        match run(store, check).await {
            Ok(()) => lines.push(format!("[+]{check} ok")),
            Err(_) => {
                failed = true;
                // Upstream withholds the reason from the response.
                lines.push(format!("[-]{check} failed: reason withheld"));
            }
        }
    }
    let verdict = if failed { "failed" } else { "passed" };
    if failed || verbose {
        lines.push(format!("{endpoint} check {verdict}"));
        let code = if failed { 500 } else { 200 };
        return Some((code, lines.join("\n") + "\n"));
    }
    Some((200, "ok".to_string()))
}

async fn run(store: &dyn Store, check: &str) -> Result<(), String> {
    match check {
        "etcd" => store
            .current_revision()
            .await
            .map(|_| ())
            .map_err(|e| e.to_string()),
        _ => Ok(()),
    }
}
