//! Puts the process together: storage, PKI, TLS, the filter chain and the
//! listener, in the order a start needs them.

use std::net::SocketAddr;
use std::sync::Arc;

use apiserver::error::ApiError;
use apiserver::server::{ApiServer, ApiServerConfig};
use apiserver::storage::embedded::EmbeddedStore;
use apiserver::storage::etcd::EtcdStore;
use apiserver::storage::{Store, StoreError};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use crate::config::{CrdEngine, Settings, StorageBackend};
use crate::filters::authentication::{Authenticator, RequestHeader};
use crate::filters::token_file::{TokenFile, TokenFileError};
use crate::pki::PkiError;
use crate::proxy::Aggregator;
use crate::tls::TlsError;
use crate::{filters, listener, pki, tls};

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("certificates: {0}")]
    Pki(#[from] PkiError),
    #[error(transparent)]
    Tls(#[from] TlsError),
    #[error(transparent)]
    TokenFile(#[from] TokenFileError),
    #[error("opening the embedded store: {0}")]
    Store(#[from] StoreError),
    #[error("starting the API server: {0}")]
    Api(#[from] ApiError),
    #[error("listening on {address}: {source}")]
    Bind {
        address: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("a start-up task failed: {0}")]
    Task(#[from] tokio::task::JoinError),
}

/// Runs the server until SIGTERM or SIGINT, then shuts down gracefully.
pub async fn run(settings: Settings) -> Result<(), StartError> {
    let shutdown = shutdown_signal();
    let settings = Arc::new(settings);
    // Opening the store and key generation (first start only) touch the
    // disk; they run on the blocking pool, side by side. The store goes
    // first so that a storage misconfiguration stops us before any file
    // is written.
    let store = open_store(&settings.storage);
    let pki_settings = settings.clone();
    let pki = tokio::task::spawn_blocking(move || pki::ensure(&pki_settings));
    let tokens = match &settings.token_auth_file {
        Some(path) => Some(TokenFile::read(path)?),
        None => None,
    };
    let pki = pki.await??;
    let store: Arc<dyn Store> = store.await??;
    let tls = tls::server_config(&pki)?;

    let storage_prefix = match &settings.storage {
        StorageBackend::Etcd { prefix, .. } => prefix.clone(),
        StorageBackend::Embedded { .. } => DEFAULT_PREFIX.to_string(),
    };
    let server = ApiServer::new(ApiServerConfig {
        store,
        storage_prefix,
        service_cluster_ip_range: settings.service_cluster_ip_range.clone(),
        event_ttl: settings.event_ttl,
        advertise_address: SocketAddr::new(settings.bind_address, settings.secure_port).to_string(),
    })
    .await?;
    if settings.crd_engine != CrdEngine::External {
        crd_engine::install(&server);
    }
    if settings.crd_engine != CrdEngine::Only {
        // A CRD-only process reads the APIServices and the authentication
        // ConfigMap of the aggregator in front of it (same etcd): they are
        // the front's to write, not its.
        crate::apiservices::install(&server);
        crate::extension_auth::spawn(&server, &pki, &settings.request_header);
    }
    let authenticator = Authenticator {
        request_header: RequestHeader::new(&settings.request_header),
        tokens,
        allow_anonymous: settings.anonymous_auth,
    };
    let identity = crate::proxy::ClientIdentity {
        chain: pki.proxy_client_chain.clone(),
        key: pki.proxy_client_key.clone_key(),
    };
    let front = match settings.crd_engine {
        CrdEngine::Only => Aggregator::crds_only(server),
        CrdEngine::Embedded => Aggregator::new(server, Some(identity)),
        CrdEngine::External => {
            let front = Aggregator::new(server.clone(), Some(identity));
            crate::apiservices::crd_registration::spawn(server, front.remotes().clone());
            front
        }
    };
    let chain = filters::chain(front, &settings, authenticator);

    let address = SocketAddr::new(settings.bind_address, settings.secure_port);
    let listener = TcpListener::bind(address)
        .await
        .map_err(|source| StartError::Bind { address, source })?;
    tracing::info!(
        kubeconfig = %settings.admin_kubeconfig().display(),
        "serving on https://{address}"
    );
    listener::serve(listener, tls, chain, shutdown).await;
    Ok(())
}

/// Keys of the embedded store start with upstream's default etcd prefix.
const DEFAULT_PREFIX: &str = "/registry";

/// Starts opening the configured store: the embedded one on the blocking
/// pool (it touches the disk), etcd by connecting (lazily: an unreachable
/// etcd shows up as 503s, as upstream's does, not as a failed start).
fn open_store(backend: &StorageBackend) -> JoinHandle<Result<Arc<dyn Store>, StoreError>> {
    match backend {
        StorageBackend::Embedded { dir } => {
            let dir = dir.clone();
            tokio::task::spawn_blocking(move || {
                EmbeddedStore::open(&dir).map(|s| Arc::new(s) as Arc<dyn Store>)
            })
        }
        StorageBackend::Etcd { endpoints, prefix } => {
            let (endpoints, prefix) = (endpoints.clone(), prefix.clone());
            tokio::spawn(async move {
                EtcdStore::connect(&endpoints, &prefix)
                    .await
                    .map(|s| Arc::new(s) as Arc<dyn Store>)
            })
        }
    }
}

/// Completes on the first SIGTERM or SIGINT. The handlers are installed
/// when this is called, not when the future is first polled, so a signal
/// sent any time after start-up began stops the server cleanly.
fn shutdown_signal() -> impl std::future::Future<Output = ()> {
    use tokio::signal::unix::{signal, SignalKind};
    let listen = |kind: SignalKind, name: &str| match signal(kind) {
        Ok(stream) => Some(stream),
        Err(error) => {
            tracing::warn!(%error, "cannot listen for {name}");
            None
        }
    };
    let mut terminate = listen(SignalKind::terminate(), "SIGTERM");
    let mut interrupt = listen(SignalKind::interrupt(), "SIGINT");
    async move {
        tokio::select! {
            () = next_signal(terminate.as_mut()) => tracing::info!("SIGTERM received, shutting down"),
            () = next_signal(interrupt.as_mut()) => tracing::info!("SIGINT received, shutting down"),
        }
    }
}

/// The next signal on `stream`; never, without one.
async fn next_signal(stream: Option<&mut tokio::signal::unix::Signal>) {
    match stream {
        Some(stream) => {
            stream.recv().await;
        }
        None => std::future::pending::<()>().await,
    }
}
