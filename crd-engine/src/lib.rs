//! The CRD engine: serves apiextensions.k8s.io/v1 CustomResourceDefinitions
//! and the custom resources they define, by plugging resources into the
//! apiserver's runtime registry.
//!
//! Not built yet: this crate only reserves its place in the workspace. The
//! server does not serve apiextensions.k8s.io until it lands, so a request
//! for CustomResourceDefinitions gets the usual 404 for an unknown resource.

pub mod cel;

/// Whether this build serves CustomResourceDefinitions.
pub const SERVES_CRDS: bool = false;
