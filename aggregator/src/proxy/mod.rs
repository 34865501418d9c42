//! The aggregation gateway in front of the in-process API groups: a
//! request for a group/version an APIService places on another server is
//! proxied there; discovery and OpenAPI merge what every server serves;
//! everything else is the core apiserver's.

mod availability;
mod backend;
mod discovery;
mod forward;
mod namespace_content;
mod openapi;
pub mod remotes;

use std::sync::Arc;

use apiserver::server::{ApiServer, Body};
use hyper::body::Incoming;

pub use backend::ClientIdentity;
use remotes::Remotes;

/// The version of the CRD API whose APIService places the CRD engine.
const CRD_VERSION: &str = "v1";

/// The front of the server.
#[derive(Clone)]
pub struct Aggregator {
    server: ApiServer,
    remotes: Arc<Remotes>,
    openapi_v2: Arc<openapi::MergedV2>,
    /// `--crd-engine=only`: nothing but the CRD groups is served.
    crds_only: bool,
}

impl Aggregator {
    /// Starts following APIServices; `identity` is what backends see.
    pub fn new(server: ApiServer, identity: Option<ClientIdentity>) -> Aggregator {
        let remotes = Remotes::follow(&server, identity);
        availability::spawn(server.clone(), remotes.clone());
        let content = namespace_content::RemoteNamespaces {
            remotes: remotes.clone(),
        };
        // Set once per process; a second aggregator would find it taken.
        let _ = server.context().remote_content.set(Arc::new(content));
        Aggregator {
            server,
            remotes,
            openapi_v2: Arc::default(),
            crds_only: false,
        }
    }

    /// The front of a process that serves only CRDs and their groups, as
    /// an aggregated API server behind another's aggregator: it proxies
    /// nothing (the APIServices it could read are the other's) and answers
    /// 404 for every other group, as upstream's apiextensions-apiserver
    /// does.
    pub fn crds_only(server: ApiServer) -> Aggregator {
        Aggregator {
            server,
            remotes: Arc::new(Remotes::empty()),
            openapi_v2: Arc::default(),
            crds_only: true,
        }
    }

    pub fn remotes(&self) -> &Arc<Remotes> {
        &self.remotes
    }

    /// Serves one authenticated request.
    pub async fn handle(&self, request: http::Request<Incoming>) -> http::Response<Body> {
        let index = self.remotes.current();
        let path = request.uri().path();
        if self.crds_only && !self.serves_path(path) {
            return apiserver::server::error_response(&apiserver::error::ApiError::UnknownPath);
        }
        // Most requests are for local groups with no remote at all: they
        // pay for no lookups.
        if !index.remotes.is_empty() {
            if let Some((group, version)) = group_version(path) {
                if let Some(remote) = index.remote(group, version) {
                    let remote = remote.clone();
                    return forward::forward(&remote, request).await;
                }
            }
            if let Some(engine) = self.unclaimed(&index, path) {
                return forward::forward(&engine, request).await;
            }
        }
        if request.method() == http::Method::GET {
            if let Some(response) = self.discovery(&request, &index).await {
                return response;
            }
            if !index.remotes.is_empty() {
                if let Some(response) = self.openapi(&request, &index).await {
                    return response;
                }
            }
        }
        self.server.handle(request).await
    }

    /// The OpenAPI documents that include remote group/versions; `None`
    /// leaves the request to the core apiserver.
    async fn openapi(
        &self,
        request: &http::Request<Incoming>,
        index: &remotes::Index,
    ) -> Option<http::Response<Body>> {
        let ctx = self.server.context();
        let path = request.uri().path().trim_end_matches('/');
        let document = match path {
            "/openapi/v2" => {
                // Only JSON is served; the core apiserver answers anything
                // else (with its 406).
                let accept = request.headers().get(http::header::ACCEPT);
                let json_ok = accept
                    .and_then(|v| v.to_str().ok())
                    .is_none_or(|a| a.contains("json") || a.contains("*/*"));
                if !json_ok {
                    return None;
                }
                self.openapi_v2.get(ctx, index).await
            }
            "/openapi/v3" => openapi::v3_index(ctx, index).await,
            _ => {
                let (group, version) = path
                    .strip_prefix("/openapi/v3/apis/")
                    .and_then(|rest| rest.split_once('/'))?;
                let remote = index.remote(group, version)?;
                match remote.openapi_v3().await {
                    Some(bytes) => Ok(bytes),
                    None => Err(apiserver::error::ApiError::UnknownPath),
                }
            }
        };
        Some(match document {
            Ok(bytes) => apiserver::server::bytes_response(200, "application/json", bytes),
            Err(error) => apiserver::server::error_response(&error),
        })
    }

    /// The CRD engine's remote, when it is to answer `path`: with the CRD
    /// API served by another process (`--crd-engine=external`), a group
    /// or group/version that neither this process nor any APIService
    /// serves may be a CRD's that is established but whose APIService is
    /// not written yet. Upstream's aggregator hands whatever it does not
    /// serve down its delegation chain, whose last link is the
    /// apiextensions-apiserver; so here, the CRD engine answers it (with
    /// its own 404 when no CRD defines it either).
    fn unclaimed(&self, index: &remotes::Index, path: &str) -> Option<Arc<remotes::Remote>> {
        let mut segments = path.strip_prefix("/apis/")?.split('/');
        let group = segments.next().filter(|g| !g.is_empty())?;
        let version = segments.next().filter(|v| !v.is_empty());
        let engine = index
            .remote(crd_engine::definition::GROUP, CRD_VERSION)
            .filter(|engine| engine.is_available())?;
        let snapshot = self.server.registry().snapshot();
        let is_claimed = match version {
            Some(version) => {
                snapshot.has_group_version(group, version) || index.remote(group, version).is_some()
            }
            None => snapshot.in_group(group).next().is_some() || index.has_remote_group(group),
        };
        (!is_claimed).then(|| engine.clone())
    }

    /// Whether a `--crd-engine=only` process serves `path`: its CRD groups,
    /// and what every server has (health, version, OpenAPI).
    fn serves_path(&self, path: &str) -> bool {
        match path.strip_prefix("/apis") {
            Some("" | "/") => true,
            Some(rest) => rest
                .strip_prefix('/')
                .and_then(|rest| rest.split('/').next())
                .is_some_and(|group| self.serves_group(group)),
            None => !(path == "/api" || path.starts_with("/api/")),
        }
    }

    /// Whether a group is served, in `--crd-engine=only` terms.
    fn serves_group(&self, group: &str) -> bool {
        if !self.crds_only || group == crd_engine::definition::GROUP {
            return true;
        }
        let snapshot = self.server.registry().snapshot();
        let custom = snapshot
            .in_group(group)
            .any(|r| r.strategy.openapi_schema().is_some());
        custom
    }

    /// `/apis` always (its order is the APIServices'), `/apis/<group>`
    /// when the group has a remote version.
    async fn discovery(
        &self,
        request: &http::Request<Incoming>,
        index: &remotes::Index,
    ) -> Option<http::Response<Body>> {
        let snapshot = self.server.registry().snapshot();
        let path = request.uri().path().trim_end_matches('/');
        if path == "/apis" {
            let accept = request
                .headers()
                .get(http::header::ACCEPT)
                .and_then(|v| v.to_str().ok());
            let (mut body, content_type, list) = if apiserver::discovery::wants_aggregated(accept) {
                // A remote that became available a moment ago may not
                // have been probed yet: fetch its document now rather
                // than leave it out.
                for remote in index.remotes.values() {
                    if remote.is_available() && remote.discovery().is_none() {
                        remote.fetch_discovery().await;
                    }
                }
                let body = discovery::aggregated(&snapshot, index);
                (body, apiserver::discovery::AGGREGATED_V2, "items")
            } else {
                let body = discovery::group_list(&snapshot, index);
                (body, "application/json", "groups")
            };
            if self.crds_only {
                if let Some(groups) = body[list].as_array_mut() {
                    groups.retain(|g| {
                        let name = g["name"].as_str().or(g["metadata"]["name"].as_str());
                        self.serves_group(name.unwrap_or_default())
                    });
                }
            }
            return Some(json(&body, content_type));
        }
        let group = path.strip_prefix("/apis/").filter(|g| !g.contains('/'))?;
        if !index.has_remote_group(group) {
            return None;
        }
        discovery::group(&snapshot, index, group).map(|body| json(&body, "application/json"))
    }
}

fn json(value: &serde_json::Value, content_type: &str) -> http::Response<Body> {
    let bytes = serde_json::to_vec(value).unwrap_or_default();
    apiserver::server::bytes_response(200, content_type, bytes)
}

/// The group and version of an `/apis/<group>/<version>[/...]` path.
fn group_version(path: &str) -> Option<(&str, &str)> {
    let rest = path.strip_prefix("/apis/")?;
    let mut segments = rest.splitn(3, '/');
    let group = segments.next().filter(|s| !s.is_empty())?;
    let version = segments.next().filter(|s| !s.is_empty())?;
    Some((group, version))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn group_versions_are_found_in_api_paths() {
        assert_eq!(
            group_version("/apis/wardle.example.com/v1alpha1"),
            Some(("wardle.example.com", "v1alpha1"))
        );
        assert_eq!(
            group_version("/apis/wardle.example.com/v1alpha1/namespaces/x/flunders"),
            Some(("wardle.example.com", "v1alpha1"))
        );
        assert_eq!(group_version("/apis/wardle.example.com"), None);
        assert_eq!(group_version("/apis/wardle.example.com/"), None);
        assert_eq!(group_version("/api/v1/pods"), None);
    }
}
