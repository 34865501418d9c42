//! Which k8s-openapi type describes each built-in kind, and the meta types
//! every document may point at.
//!
//! The schemas themselves come from k8s-openapi's `schemars` feature, which
//! is generated from upstream's own OpenAPI, so descriptions and types match
//! what `kubectl explain` shows against kube-apiserver. This file only says
//! which Rust type stands for which group/version/kind.

use k8s_openapi::api;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1 as apiextensions;
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1 as meta;
use k8s_openapi::apimachinery::pkg::runtime::RawExtension;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use k8s_openapi::kube_aggregator::pkg::apis::apiregistration::v1 as apiregistration;
use k8s_openapi::schemars::{JsonSchema, SchemaGenerator};

/// Adds `T` (and everything it refers to) to the generator's definitions and
/// returns the upstream definition name, e.g. `io.k8s.api.core.v1.ConfigMap`.
fn add<T: JsonSchema>(generator: &mut SchemaGenerator) -> String {
    generator.subschema_for::<T>();
    T::schema_name().into_owned()
}

/// Defines `add_kind`, a `match` from (group, version, kind) to
/// `add::<Type>`, and for tests the list of those kinds.
macro_rules! kinds {
    ($( $g:literal $v:literal $k:literal => $ty:ty, )*) => {
        /// Adds the schema of a built-in kind and returns its definition
        /// name, or `None` when the kind is not one k8s-openapi knows (the
        /// caller then uses a permissive schema).
        pub(super) fn add_kind(
            generator: &mut SchemaGenerator,
            group: &str,
            version: &str,
            kind: &str,
        ) -> Option<String> {
            match (group, version, kind) {
                $( ($g, $v, $k) => Some(add::<$ty>(generator)), )*
                _ => None,
            }
        }

        #[cfg(test)]
        pub(super) const KNOWN_KINDS: &[(&str, &str, &str)] = &[$( ($g, $v, $k), )*];
    };
}

kinds! {
    "" "v1" "Binding" => api::core::v1::Binding,
    "" "v1" "ComponentStatus" => api::core::v1::ComponentStatus,
    "" "v1" "ConfigMap" => api::core::v1::ConfigMap,
    "" "v1" "Endpoints" => api::core::v1::Endpoints,
    "" "v1" "Event" => api::core::v1::Event,
    "" "v1" "LimitRange" => api::core::v1::LimitRange,
    "" "v1" "Namespace" => api::core::v1::Namespace,
    "" "v1" "Node" => api::core::v1::Node,
    "" "v1" "PersistentVolume" => api::core::v1::PersistentVolume,
    "" "v1" "PersistentVolumeClaim" => api::core::v1::PersistentVolumeClaim,
    "" "v1" "Pod" => api::core::v1::Pod,
    "" "v1" "PodTemplate" => api::core::v1::PodTemplate,
    "" "v1" "ReplicationController" => api::core::v1::ReplicationController,
    "" "v1" "ResourceQuota" => api::core::v1::ResourceQuota,
    "" "v1" "Secret" => api::core::v1::Secret,
    "" "v1" "Service" => api::core::v1::Service,
    "" "v1" "ServiceAccount" => api::core::v1::ServiceAccount,
    "admissionregistration.k8s.io" "v1" "MutatingWebhookConfiguration" => api::admissionregistration::v1::MutatingWebhookConfiguration,
    "admissionregistration.k8s.io" "v1" "ValidatingAdmissionPolicy" => api::admissionregistration::v1::ValidatingAdmissionPolicy,
    "admissionregistration.k8s.io" "v1" "ValidatingAdmissionPolicyBinding" => api::admissionregistration::v1::ValidatingAdmissionPolicyBinding,
    "admissionregistration.k8s.io" "v1" "ValidatingWebhookConfiguration" => api::admissionregistration::v1::ValidatingWebhookConfiguration,
    "apiextensions.k8s.io" "v1" "CustomResourceDefinition" => apiextensions::CustomResourceDefinition,
    "apiregistration.k8s.io" "v1" "APIService" => apiregistration::APIService,
    "apps" "v1" "ControllerRevision" => api::apps::v1::ControllerRevision,
    "apps" "v1" "DaemonSet" => api::apps::v1::DaemonSet,
    "apps" "v1" "Deployment" => api::apps::v1::Deployment,
    "apps" "v1" "ReplicaSet" => api::apps::v1::ReplicaSet,
    "apps" "v1" "StatefulSet" => api::apps::v1::StatefulSet,
    "authentication.k8s.io" "v1" "SelfSubjectReview" => api::authentication::v1::SelfSubjectReview,
    "authentication.k8s.io" "v1" "TokenReview" => api::authentication::v1::TokenReview,
    "authorization.k8s.io" "v1" "LocalSubjectAccessReview" => api::authorization::v1::LocalSubjectAccessReview,
    "authorization.k8s.io" "v1" "SelfSubjectAccessReview" => api::authorization::v1::SelfSubjectAccessReview,
    "authorization.k8s.io" "v1" "SelfSubjectRulesReview" => api::authorization::v1::SelfSubjectRulesReview,
    "authorization.k8s.io" "v1" "SubjectAccessReview" => api::authorization::v1::SubjectAccessReview,
    "autoscaling" "v1" "HorizontalPodAutoscaler" => api::autoscaling::v1::HorizontalPodAutoscaler,
    "autoscaling" "v2" "HorizontalPodAutoscaler" => api::autoscaling::v2::HorizontalPodAutoscaler,
    "batch" "v1" "CronJob" => api::batch::v1::CronJob,
    "batch" "v1" "Job" => api::batch::v1::Job,
    "certificates.k8s.io" "v1" "CertificateSigningRequest" => api::certificates::v1::CertificateSigningRequest,
    "coordination.k8s.io" "v1" "Lease" => api::coordination::v1::Lease,
    "discovery.k8s.io" "v1" "EndpointSlice" => api::discovery::v1::EndpointSlice,
    "events.k8s.io" "v1" "Event" => api::events::v1::Event,
    "flowcontrol.apiserver.k8s.io" "v1" "FlowSchema" => api::flowcontrol::v1::FlowSchema,
    "flowcontrol.apiserver.k8s.io" "v1" "PriorityLevelConfiguration" => api::flowcontrol::v1::PriorityLevelConfiguration,
    "networking.k8s.io" "v1" "Ingress" => api::networking::v1::Ingress,
    "networking.k8s.io" "v1" "IngressClass" => api::networking::v1::IngressClass,
    "networking.k8s.io" "v1" "NetworkPolicy" => api::networking::v1::NetworkPolicy,
    "node.k8s.io" "v1" "RuntimeClass" => api::node::v1::RuntimeClass,
    "policy" "v1" "Eviction" => api::policy::v1::Eviction,
    "policy" "v1" "PodDisruptionBudget" => api::policy::v1::PodDisruptionBudget,
    "rbac.authorization.k8s.io" "v1" "ClusterRole" => api::rbac::v1::ClusterRole,
    "rbac.authorization.k8s.io" "v1" "ClusterRoleBinding" => api::rbac::v1::ClusterRoleBinding,
    "rbac.authorization.k8s.io" "v1" "Role" => api::rbac::v1::Role,
    "rbac.authorization.k8s.io" "v1" "RoleBinding" => api::rbac::v1::RoleBinding,
    "scheduling.k8s.io" "v1" "PriorityClass" => api::scheduling::v1::PriorityClass,
    "storage.k8s.io" "v1" "CSIDriver" => api::storage::v1::CSIDriver,
    "storage.k8s.io" "v1" "CSINode" => api::storage::v1::CSINode,
    "storage.k8s.io" "v1" "CSIStorageCapacity" => api::storage::v1::CSIStorageCapacity,
    "storage.k8s.io" "v1" "StorageClass" => api::storage::v1::StorageClass,
    "storage.k8s.io" "v1" "VolumeAttachment" => api::storage::v1::VolumeAttachment,
}

pub(super) const OBJECT_META: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta";
pub(super) const LIST_META: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.ListMeta";
pub(super) const STATUS: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.Status";
pub(super) const DELETE_OPTIONS: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.DeleteOptions";
pub(super) const WATCH_EVENT: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.WatchEvent";
pub(super) const PATCH: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.Patch";
pub(super) const API_RESOURCE_LIST: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.APIResourceList";
pub(super) const INT_OR_STRING: &str = "io.k8s.apimachinery.pkg.util.intstr.IntOrString";
pub(super) const QUANTITY: &str = "io.k8s.apimachinery.pkg.api.resource.Quantity";
/// What `/scale` answers with, for every kind that has it.
pub(super) const SCALE: &str = "io.k8s.api.autoscaling.v1.Scale";

/// Adds the meta types that operations refer to (request and response
/// bodies) whether or not any kind's schema does.
pub(super) fn add_meta_types(generator: &mut SchemaGenerator) {
    add::<meta::ObjectMeta>(generator);
    add::<meta::ListMeta>(generator);
    add::<meta::Status>(generator);
    add::<meta::DeleteOptions>(generator);
    // The event's object is opaque to OpenAPI; any type argument gives the
    // same schema.
    add::<meta::WatchEvent<RawExtension>>(generator);
    add::<meta::Patch>(generator);
    add::<meta::APIResourceList>(generator);
    add::<meta::Time>(generator);
    add::<meta::MicroTime>(generator);
    add::<IntOrString>(generator);
    add::<Quantity>(generator);
    add::<api::autoscaling::v1::Scale>(generator);
}
