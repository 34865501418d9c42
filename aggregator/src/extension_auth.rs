//! The `kube-system/extension-apiserver-authentication` ConfigMap, kept as
//! upstream's cluster-authentication-trust controller keeps it: aggregated
//! API servers read it to learn which CAs vouch for users (client
//! certificates) and for front proxies, and which headers carry the user.
//!
//! Keys, as upstream writes them:
//! - `client-ca-file`: PEM of the CAs client certificates are checked
//!   against (our CA and --client-ca-file);
//! - `requestheader-client-ca-file`: PEM of the front-proxy CAs;
//! - `requestheader-username-headers`, `requestheader-uid-headers`,
//!   `requestheader-group-headers`, `requestheader-extra-headers-prefix`,
//!   `requestheader-allowed-names`: JSON arrays of strings (`[]` when
//!   empty), written only beside a front-proxy CA.
//!
//! Like upstream, what is there is merged with what this server requires
//! rather than replaced: certificates and list entries already present
//! stay (certificates until five minutes past their expiry), ours are
//! added after them, duplicates dropped. So servers of one cluster with
//! different CAs or headers each add theirs once and then agree: every
//! server writes only when the merged content differs from the stored
//! one, and after one write each it never does. A value that does not
//! parse counts as empty (upstream would stop at it); keys that are not
//! upstream's are dropped.
//!
//! A pass runs at start, on every change of the ConfigMap in the watch
//! cache (so a deleted or edited ConfigMap is fixed at once), and every
//! [`RESYNC`] in case an event was missed.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use apiserver::error::ApiError;
use apiserver::handlers::Context;
use apiserver::object;
use apiserver::resource::ResourceDescriptor;
use apiserver::server::ApiServer;
use apiserver::storage::StoreError;
use apiserver::watch_cache::CacheEvent;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::CertificateDer;
use serde_json::{json, Value};
use tokio::sync::broadcast::{self, error::RecvError};

use crate::config::RequestHeaderSettings;
use crate::pki::{self, Pki};

const NAMESPACE: &str = "kube-system";
const NAME: &str = "extension-apiserver-authentication";

/// How often the ConfigMap is checked with no event (upstream: a minute).
const RESYNC: Duration = Duration::from_secs(30);
/// How long to wait after a failed pass.
const RETRY: Duration = Duration::from_secs(1);
/// A CA that expired less long ago than this is kept, as upstream keeps it.
const EXPIRY_SLACK_SECONDS: i64 = 5 * 60;

/// Starts keeping the ConfigMap current.
pub fn spawn(server: &ApiServer, pki: &Pki, request_header: &RequestHeaderSettings) {
    let required = AuthenticationInfo::required(pki, request_header);
    tokio::spawn(run(server.clone(), required));
}

async fn run(server: ApiServer, required: AuthenticationInfo) {
    let ctx = server.context();
    let Some(configmaps) = ctx.registry.snapshot().lookup("", "v1", "configmaps") else {
        tracing::warn!("configmaps are not served; not publishing {NAMESPACE}/{NAME}");
        return;
    };
    let key = ctx.key(&configmaps, Some(NAMESPACE), NAME);
    // Subscribed before the first pass, so no change after it is missed.
    let (_, subscription) = ctx.cache(&configmaps).snapshot_and_watch(&key);
    let mut live = subscription.live;
    loop {
        let wait = match sync(ctx, &configmaps, &key, &required).await {
            Ok(()) => RESYNC,
            Err(error) => {
                tracing::warn!(%error, "keeping {NAMESPACE}/{NAME} current failed; retrying");
                RETRY
            }
        };
        tokio::select! {
            () = changed(&mut live, &key) => {}
            () = tokio::time::sleep(wait) => {}
        }
    }
}

/// Completes on the next event of `key`, or when events were missed.
async fn changed(live: &mut broadcast::Receiver<Arc<CacheEvent>>, key: &str) {
    loop {
        match live.recv().await {
            Ok(event) if event.object.key == key => return,
            Ok(_) => {}
            Err(RecvError::Lagged(_)) => return,
            // The cache stopped (shutdown): the resync timer alone remains.
            Err(RecvError::Closed) => std::future::pending::<()>().await,
        }
    }
}

/// One pass: read the ConfigMap, merge, write if the result differs.
async fn sync(
    ctx: &Context,
    configmaps: &ResourceDescriptor,
    key: &str,
    required: &AuthenticationInfo,
) -> Result<(), ApiError> {
    let stored = ctx.store.get(key).await?;
    let (revision, mut configmap) = match stored {
        Some(kv) => {
            let value: Value = serde_json::from_slice(&kv.value)
                .map_err(|e| ApiError::Internal(format!("stored {NAMESPACE}/{NAME}: {e}")))?;
            (Some(kv.mod_revision), value)
        }
        None => (
            None,
            json!({
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": { "name": NAME, "namespace": NAMESPACE },
            }),
        ),
    };
    let existing = object::string_map(configmap.get("data"));
    let data = AuthenticationInfo::from_data(&existing)
        .merged_with(required)
        .to_data();
    if revision.is_some() && data == existing {
        return Ok(());
    }
    tracing::info!("writing the authentication info to {NAMESPACE}/{NAME}");
    configmap["data"] = json!(data);
    let written = match revision {
        Some(revision) => {
            let bytes = to_bytes(&configmap)?;
            ctx.store
                .update(key, bytes.into(), revision)
                .await
                .map(drop)
        }
        None => {
            ensure_namespace(ctx).await?;
            create(ctx, configmaps, key, configmap).await
        }
    };
    match written {
        // Someone else wrote first: their change brings the next pass.
        Ok(())
        | Err(StoreError::Conflict { .. })
        | Err(StoreError::NotFound { .. })
        | Err(StoreError::AlreadyExists { .. }) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// Creates `kube-system` if it is missing, as upstream's controller does.
async fn ensure_namespace(ctx: &Context) -> Result<(), ApiError> {
    let Some(namespaces) = ctx.registry.snapshot().lookup("", "v1", "namespaces") else {
        return Ok(());
    };
    let key = ctx.key(&namespaces, None, NAMESPACE);
    if ctx.store.get(&key).await?.is_some() {
        return Ok(());
    }
    let namespace =
        json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE}});
    match create(ctx, &namespaces, &key, namespace).await {
        Ok(()) | Err(StoreError::AlreadyExists { .. }) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// Stores a new object through its kind's defaulting, with the metadata a
/// create through the API would give it.
async fn create(
    ctx: &Context,
    descriptor: &ResourceDescriptor,
    key: &str,
    mut value: Value,
) -> Result<(), StoreError> {
    object::set_meta(&mut value, "uid", json!(uuid::Uuid::new_v4().to_string()));
    object::set_meta(
        &mut value,
        "creationTimestamp",
        json!(object::now_timestamp()),
    );
    descriptor.strategy.prepare_for_create(&mut value);
    let stored = descriptor
        .strategy
        .to_stored(value)
        .map_err(|e| StoreError::Internal(e.to_string()))?;
    let bytes = to_bytes(&stored).map_err(|e| StoreError::Internal(e.to_string()))?;
    ctx.store.create(key, bytes.into(), None).await.map(drop)
}

fn to_bytes(value: &Value) -> Result<Vec<u8>, ApiError> {
    serde_json::to_vec(value).map_err(|e| ApiError::Internal(e.to_string()))
}

/// What the ConfigMap says, parsed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct AuthenticationInfo {
    client_ca: Vec<CertificateDer<'static>>,
    requestheader_ca: Vec<CertificateDer<'static>>,
    username_headers: Vec<String>,
    uid_headers: Vec<String>,
    group_headers: Vec<String>,
    extra_headers_prefixes: Vec<String>,
    allowed_names: Vec<String>,
}

const CLIENT_CA: &str = "client-ca-file";
const REQUESTHEADER_CA: &str = "requestheader-client-ca-file";
const USERNAME_HEADERS: &str = "requestheader-username-headers";
const UID_HEADERS: &str = "requestheader-uid-headers";
const GROUP_HEADERS: &str = "requestheader-group-headers";
const EXTRA_HEADERS_PREFIX: &str = "requestheader-extra-headers-prefix";
const ALLOWED_NAMES: &str = "requestheader-allowed-names";

impl AuthenticationInfo {
    /// What this server's configuration requires.
    fn required(pki: &Pki, request_header: &RequestHeaderSettings) -> AuthenticationInfo {
        AuthenticationInfo {
            client_ca: certificates(&pki.client_ca_pem),
            requestheader_ca: certificates(&pki.requestheader_ca_pem),
            username_headers: request_header.username_headers.clone(),
            uid_headers: request_header.uid_headers.clone(),
            group_headers: request_header.group_headers.clone(),
            extra_headers_prefixes: request_header.extra_headers_prefixes.clone(),
            allowed_names: request_header.allowed_names.clone(),
        }
    }

    /// Reads a ConfigMap's data; what does not parse counts as empty.
    fn from_data(data: &BTreeMap<String, String>) -> AuthenticationInfo {
        let text = |key: &str| data.get(key).map(String::as_str).unwrap_or_default();
        let list =
            |key: &str| -> Vec<String> { serde_json::from_str(text(key)).unwrap_or_default() };
        AuthenticationInfo {
            client_ca: certificates(text(CLIENT_CA)),
            requestheader_ca: certificates(text(REQUESTHEADER_CA)),
            username_headers: list(USERNAME_HEADERS),
            uid_headers: list(UID_HEADERS),
            group_headers: list(GROUP_HEADERS),
            extra_headers_prefixes: list(EXTRA_HEADERS_PREFIX),
            allowed_names: list(ALLOWED_NAMES),
        }
    }

    /// Everything in `self` then everything in `other`, without duplicates
    /// or expired certificates.
    fn merged_with(self, other: &AuthenticationInfo) -> AuthenticationInfo {
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        let certificates = |mine: Vec<CertificateDer<'static>>,
                            theirs: &[CertificateDer<'static>]| {
            let all = mine.into_iter().chain(theirs.iter().cloned());
            unique(all.filter(|c| is_current(c, now)))
        };
        let strings = |mine: Vec<String>, theirs: &[String]| {
            unique(mine.into_iter().chain(theirs.iter().cloned()))
        };
        AuthenticationInfo {
            client_ca: certificates(self.client_ca, &other.client_ca),
            requestheader_ca: certificates(self.requestheader_ca, &other.requestheader_ca),
            username_headers: strings(self.username_headers, &other.username_headers),
            uid_headers: strings(self.uid_headers, &other.uid_headers),
            group_headers: strings(self.group_headers, &other.group_headers),
            extra_headers_prefixes: strings(
                self.extra_headers_prefixes,
                &other.extra_headers_prefixes,
            ),
            allowed_names: strings(self.allowed_names, &other.allowed_names),
        }
    }

    /// The ConfigMap data, as upstream lays it out: the request-header
    /// keys only when there is a front-proxy CA.
    fn to_data(&self) -> BTreeMap<String, String> {
        let mut data = BTreeMap::new();
        if !self.client_ca.is_empty() {
            data.insert(CLIENT_CA.to_string(), pki::pem_bundle(&self.client_ca));
        }
        if self.requestheader_ca.is_empty() {
            return data;
        }
        data.insert(
            REQUESTHEADER_CA.to_string(),
            pki::pem_bundle(&self.requestheader_ca),
        );
        let lists = [
            (USERNAME_HEADERS, &self.username_headers),
            (UID_HEADERS, &self.uid_headers),
            (GROUP_HEADERS, &self.group_headers),
            (EXTRA_HEADERS_PREFIX, &self.extra_headers_prefixes),
            (ALLOWED_NAMES, &self.allowed_names),
        ];
        for (key, list) in lists {
            data.insert(key.to_string(), json!(list).to_string());
        }
        data
    }
}

/// The certificates of a PEM bundle; blocks that do not parse are skipped.
fn certificates(pem: &str) -> Vec<CertificateDer<'static>> {
    CertificateDer::pem_slice_iter(pem.as_bytes())
        .filter_map(Result::ok)
        .collect()
}

/// Whether a certificate expired no more than the slack ago; unreadable
/// ones are dropped.
fn is_current(certificate: &CertificateDer<'_>, now: i64) -> bool {
    x509_parser::parse_x509_certificate(certificate)
        .is_ok_and(|(_, c)| c.validity().not_after.timestamp() > now - EXPIRY_SLACK_SECONDS)
}

/// The items in their first order, each once.
fn unique<T: PartialEq>(items: impl Iterator<Item = T>) -> Vec<T> {
    let mut out = Vec::new();
    for item in items {
        if !out.contains(&item) {
            out.push(item);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ca(name: &str, not_after: time::OffsetDateTime) -> CertificateDer<'static> {
        let mut params = rcgen::CertificateParams::default();
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, name);
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        params.not_before = not_after - time::Duration::days(365);
        params.not_after = not_after;
        let key = rcgen::KeyPair::generate().expect("key");
        params.self_signed(&key).expect("certificate").der().clone()
    }

    fn in_a_year() -> time::OffsetDateTime {
        time::OffsetDateTime::now_utc() + time::Duration::days(365)
    }

    fn ours() -> AuthenticationInfo {
        AuthenticationInfo {
            client_ca: vec![ca("client", in_a_year())],
            requestheader_ca: vec![ca("front-proxy", in_a_year())],
            username_headers: vec!["X-Remote-User".into()],
            uid_headers: Vec::new(),
            group_headers: vec!["X-Remote-Group".into()],
            extra_headers_prefixes: vec!["X-Remote-Extra-".into()],
            allowed_names: vec!["front-proxy-client".into()],
        }
    }

    #[test]
    fn data_has_upstreams_keys_with_json_lists() {
        let info = ours();
        let data = info.to_data();
        let keys: Vec<&str> = data.keys().map(String::as_str).collect();
        assert_eq!(
            keys,
            [
                CLIENT_CA,
                ALLOWED_NAMES,
                REQUESTHEADER_CA,
                EXTRA_HEADERS_PREFIX,
                GROUP_HEADERS,
                UID_HEADERS,
                USERNAME_HEADERS
            ]
        );
        assert_eq!(data[USERNAME_HEADERS], r#"["X-Remote-User"]"#);
        assert_eq!(data[UID_HEADERS], "[]");
        assert_eq!(data[ALLOWED_NAMES], r#"["front-proxy-client"]"#);
        assert!(data[CLIENT_CA].starts_with("-----BEGIN CERTIFICATE-----\n"));
        assert_eq!(AuthenticationInfo::from_data(&data), info);
    }

    #[test]
    fn without_a_front_proxy_ca_only_the_client_ca_is_written() {
        let info = AuthenticationInfo {
            requestheader_ca: Vec::new(),
            ..ours()
        };
        let data = info.to_data();
        assert_eq!(data.keys().collect::<Vec<_>>(), [CLIENT_CA]);
    }

    #[test]
    fn merging_keeps_what_is_there_and_adds_ours_once() {
        let theirs = AuthenticationInfo {
            client_ca: vec![ca("other-client", in_a_year())],
            allowed_names: vec!["other-proxy".into(), "front-proxy-client".into()],
            username_headers: vec!["X-Remote-User".into()],
            ..AuthenticationInfo::default()
        };
        let ours = ours();
        let merged = theirs.clone().merged_with(&ours);
        assert_eq!(
            merged.client_ca,
            [theirs.client_ca[0].clone(), ours.client_ca[0].clone()]
        );
        assert_eq!(merged.allowed_names, ["other-proxy", "front-proxy-client"]);
        assert_eq!(merged.username_headers, ["X-Remote-User"]);
        // Merging again changes nothing: servers stop writing.
        assert_eq!(merged.clone().merged_with(&ours), merged);
    }

    #[test]
    fn expired_certificates_are_dropped_when_merging() {
        let long_ago = time::OffsetDateTime::now_utc() - time::Duration::days(1);
        let theirs = AuthenticationInfo {
            client_ca: vec![ca("expired", long_ago)],
            ..AuthenticationInfo::default()
        };
        let ours = ours();
        let merged = theirs.merged_with(&ours);
        assert_eq!(merged.client_ca, ours.client_ca);
    }

    #[test]
    fn values_that_do_not_parse_count_as_empty() {
        let data = BTreeMap::from([
            (USERNAME_HEADERS.to_string(), "X-Remote-User".to_string()),
            (CLIENT_CA.to_string(), "not a PEM".to_string()),
        ]);
        assert_eq!(
            AuthenticationInfo::from_data(&data),
            AuthenticationInfo::default()
        );
    }
}
