//! Reading a kubeconfig into an [`Endpoint`]: where the server listens and
//! how to prove who we are.
//!
//! Only what the bench needs is read: the current context's cluster (server
//! URL, CA, optional `tls-server-name` or `insecure-skip-tls-verify`) and
//! user (client certificate and key, or a bearer token), inline (`-data`)
//! or as files relative to the kubeconfig. The server must be on 127.0.0.1.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use base64::Engine as _;
use http::HeaderMap;
use rustls::pki_types::ServerName;
use serde::Deserialize;

use crate::error::BenchError;
use crate::loopback;
use crate::tls;

/// A loopback API server and the TLS settings to reach it.
#[derive(Debug, Clone)]
pub struct Endpoint {
    pub port: u16,
    pub server_name: ServerName<'static>,
    pub tls: Arc<rustls::ClientConfig>,
    pub bearer_token: Option<String>,
    /// Sent with every request: the identity headers an authenticating
    /// front proxy adds (`X-Remote-User`, ...), for talking to an
    /// aggregated server directly. Empty for a kubeconfig.
    pub headers: HeaderMap,
}

#[derive(Debug, Deserialize)]
struct Kubeconfig {
    #[serde(rename = "current-context", default)]
    current_context: String,
    #[serde(default)]
    clusters: Vec<Named<Cluster>>,
    #[serde(default)]
    users: Vec<Named<User>>,
    #[serde(default)]
    contexts: Vec<Named<Context>>,
}

#[derive(Debug, Deserialize)]
struct Named<T> {
    name: String,
    #[serde(alias = "cluster", alias = "user", alias = "context")]
    value: T,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "kebab-case")]
struct Cluster {
    server: String,
    certificate_authority_data: Option<String>,
    certificate_authority: Option<PathBuf>,
    tls_server_name: Option<String>,
    #[serde(default)]
    insecure_skip_tls_verify: bool,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "kebab-case")]
struct User {
    client_certificate_data: Option<String>,
    client_certificate: Option<PathBuf>,
    client_key_data: Option<String>,
    client_key: Option<PathBuf>,
    token: Option<String>,
}

#[derive(Debug, Deserialize)]
struct Context {
    cluster: String,
    #[serde(default)]
    user: String,
}

/// Reads the kubeconfig at `path` and builds the endpoint of its current context.
pub fn load(path: &Path) -> Result<Endpoint, BenchError> {
    let text = std::fs::read_to_string(path)
        .map_err(|error| BenchError::Kubeconfig(format!("{}: {error}", path.display())))?;
    let base = path.parent().unwrap_or(Path::new("."));
    parse(&text, base)
}

/// Builds the endpoint from kubeconfig text; relative file names are read under `base`.
pub fn parse(text: &str, base: &Path) -> Result<Endpoint, BenchError> {
    let config: Kubeconfig =
        serde_yaml_ng::from_str(text).map_err(|error| BenchError::Kubeconfig(error.to_string()))?;
    let context = pick(&config.contexts, &config.current_context, "context")?;
    let cluster = pick(&config.clusters, &context.cluster, "cluster")?;
    let user = match context.user.as_str() {
        "" => &User::default(),
        name => pick(&config.users, name, "user")?,
    };

    let (host, port) = loopback::host_port(&cluster.server, "https", 443)?;
    let name = cluster.tls_server_name.clone().unwrap_or(host);
    let server_name = ServerName::try_from(name.clone())
        .map_err(|_| BenchError::Kubeconfig(format!("bad TLS server name {name:?}")))?;

    let client_auth = match (
        material(
            &user.client_certificate_data,
            &user.client_certificate,
            base,
        )?,
        material(&user.client_key_data, &user.client_key, base)?,
    ) {
        (Some(certificate), Some(key)) => Some(tls::client_identity(&certificate, &key)?),
        _ => None,
    };
    let tls = if cluster.insecure_skip_tls_verify {
        tls::insecure_config(client_auth)?
    } else {
        let ca = material(
            &cluster.certificate_authority_data,
            &cluster.certificate_authority,
            base,
        )?
        .ok_or_else(|| BenchError::Kubeconfig("the cluster has no certificate authority".into()))?;
        tls::verifying_config(&ca, client_auth)?
    };
    Ok(Endpoint {
        port,
        server_name,
        tls: Arc::new(tls),
        bearer_token: user.token.clone(),
        headers: HeaderMap::new(),
    })
}

fn pick<'a, T>(entries: &'a [Named<T>], name: &str, kind: &str) -> Result<&'a T, BenchError> {
    entries
        .iter()
        .find(|entry| entry.name == name)
        .map(|entry| &entry.value)
        .ok_or_else(|| BenchError::Kubeconfig(format!("no {kind} named {name:?}")))
}

/// PEM bytes given inline (base64) or as a file; inline wins, as in kubectl.
fn material(
    inline: &Option<String>,
    file: &Option<PathBuf>,
    base: &Path,
) -> Result<Option<Vec<u8>>, BenchError> {
    if let Some(data) = inline {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(data.trim())
            .map_err(|error| BenchError::Kubeconfig(format!("bad base64: {error}")))?;
        return Ok(Some(bytes));
    }
    match file {
        Some(file) => Ok(Some(std::fs::read(base.join(file))?)),
        None => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_context_is_reported() {
        let text = "current-context: nowhere\nclusters: []\nusers: []\ncontexts: []\n";
        let error = parse(text, Path::new(".")).expect_err("no such context");
        assert!(error.to_string().contains("nowhere"), "{error}");
    }

    #[test]
    fn remote_server_in_kubeconfig_is_refused() {
        let text = "\
current-context: c
contexts: [{name: c, context: {cluster: k, user: u}}]
clusters: [{name: k, cluster: {server: 'https://192.168.1.5:6443', insecure-skip-tls-verify: true}}]
users: [{name: u, user: {token: abc}}]
";
        assert!(matches!(
            parse(text, Path::new(".")),
            Err(BenchError::NotLoopback(_))
        ));
    }

    #[test]
    fn token_user_with_insecure_cluster_parses() {
        let text = "\
current-context: c
contexts: [{name: c, context: {cluster: k, user: u}}]
clusters: [{name: k, cluster: {server: 'https://127.0.0.1:7443', insecure-skip-tls-verify: true}}]
users: [{name: u, user: {token: abc}}]
";
        let endpoint = parse(text, Path::new(".")).expect("valid kubeconfig");
        assert_eq!(endpoint.port, 7443);
        assert_eq!(endpoint.bearer_token.as_deref(), Some("abc"));
    }
}
