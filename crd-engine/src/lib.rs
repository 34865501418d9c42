//! The CRD engine: serves apiextensions.k8s.io/v1 CustomResourceDefinitions
//! and the custom resources they define, by plugging resources into the
//! apiserver's runtime registry.
//!
//! It owns everything CRD-specific: validation of the CRD object, the
//! schema machinery (structural checks, pruning, defaulting, validation,
//! CEL rules), the per-version strategy custom resources are served with,
//! and the controller that turns CRDs into served resources. It must not
//! know about APIServices or the front door; the generic REST path,
//! storage and discovery are the apiserver's.

pub mod cel;
pub mod controller;
pub mod conversion;
pub mod crd_validation;
pub mod custom_resource;
pub mod definition;
pub mod jsonpath;
pub mod schema;

use apiserver::server::ApiServer;

/// Serves CustomResourceDefinitions on `server` and starts the controller
/// that serves what they define.
pub fn install(server: &ApiServer) {
    server.registry().add([definition::descriptor()]);
    controller::spawn(server.clone());
}
