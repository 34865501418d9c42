//! The two storage backends a test can run the server on, and a macro that
//! runs one test body on each: the behaviour clients see must not depend
//! on where the objects are kept.

use std::ops::Deref;

use crate::{TestEtcd, TestServer};

/// Where the server under test keeps its objects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// The embedded store under `--data-dir`.
    Embedded,
    /// A real etcd, through `--etcd-servers`.
    Etcd,
}

/// A server on one backend, with its etcd when it has one. Derefs to the
/// [`TestServer`].
pub struct Cluster {
    pub backend: Backend,
    pub server: TestServer,
    /// Declared after `server` so the server stops before its etcd.
    pub etcd: Option<TestEtcd>,
}

impl Cluster {
    /// Starts a server on `backend` (and the etcd it needs) with `args`.
    pub async fn start(backend: Backend, args: &[&str]) -> Cluster {
        match backend {
            Backend::Embedded => Cluster {
                backend,
                server: TestServer::start_with(args).await,
                etcd: None,
            },
            Backend::Etcd => {
                let etcd = TestEtcd::start().await;
                let endpoint = etcd.endpoint();
                let mut all = vec!["--etcd-servers", endpoint.as_str()];
                all.extend_from_slice(args);
                Cluster {
                    backend,
                    server: TestServer::start_with(&all).await,
                    etcd: Some(etcd),
                }
            }
        }
    }
}

impl Deref for Cluster {
    type Target = TestServer;

    fn deref(&self) -> &TestServer {
        &self.server
    }
}

/// Runs the async test body `fn NAME(cluster: &mut Cluster)` once on each
/// backend, as the tests `NAME::embedded` and `NAME::etcd`. Attributes
/// given before the name (such as `#[ignore = "..."]`) apply to both.
/// Server arguments may follow: `on_each_backend!(NAME, "--flag", "value")`.
#[macro_export]
macro_rules! on_each_backend {
    ($(#[$attribute:meta])* $name:ident $(, $arg:expr)* $(,)?) => {
        mod $name {
            $(#[$attribute])*
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn embedded() {
                let mut cluster =
                    $crate::Cluster::start($crate::Backend::Embedded, &[$($arg),*]).await;
                super::$name(&mut cluster).await;
            }

            $(#[$attribute])*
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn etcd() {
                let mut cluster =
                    $crate::Cluster::start($crate::Backend::Etcd, &[$($arg),*]).await;
                super::$name(&mut cluster).await;
            }
        }
    };
}
