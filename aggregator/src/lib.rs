//! The front door of the API server and the `kube-apiserver` binary.
//!
//! This crate owns what happens before a request reaches an API group:
//! configuration (flags and file), the generated PKI and admin kubeconfig,
//! the TLS listener (HTTP/1.1 and HTTP/2), and the filter chain (panic
//! guard, timeout, in-flight limit, authentication). It hands each
//! authenticated request to `apiserver::server::ApiServer` and knows
//! nothing of resources, storage keys or objects.

pub mod apiservices;
pub mod config;
pub mod duration;
pub mod extension_auth;
pub mod filters;
pub mod listener;
pub mod pki;
pub mod proxy;
pub mod server;
pub mod tls;
