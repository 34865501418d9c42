//! The core apiserver: generic REST machinery over a revisioned key/value
//! store, and the built-in API groups.
//!
//! This crate owns storage, the watch cache, the runtime resource registry,
//! request parsing, the generic handlers, discovery, and the built-in kinds.
//! It knows nothing of CustomResourceDefinitions or APIServices: those plug
//! into the registry from the crates above, like any other API group.

pub mod apply;
pub mod bootstrap;
pub mod builtin;
pub mod codec;
pub mod compaction;
pub mod discovery;
pub mod duration;
pub mod error;
pub mod handlers;
pub mod health;
pub mod namespaces;
pub mod negotiation;
pub mod object;
pub mod openapi;
pub mod patch;
pub mod pruning;
pub mod registry;
pub mod request_info;
pub mod resource;
pub mod reviews;
pub mod selectors;
pub mod server;
pub mod service_resolver;
pub mod storage;
pub mod validation;
pub mod watch_cache;
