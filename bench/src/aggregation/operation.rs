//! The requests `bench aggregation` times. Both ways to the backend use the
//! same paths: the front passes `/apis/wardle.example.com/...` on as it is.

use std::fmt;

use http::{Method, StatusCode};
use serde_json::json;

use super::registration::{GROUP, VERSION};
use crate::client::ApiClient;

/// Where the stored Flunders (and the ConfigMap the front keeps) live.
pub const NAMESPACE: &str = "bench";
/// The ConfigMap read in [`Operation::LocalGet`].
pub const CONFIGMAP: &str = "local";
/// Stored Flunders are `flunder-00000`, `flunder-00001`, ...
const STORED_PREFIX: &str = "flunder-";

/// One kind of timed request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    /// GET of one stored Flunder, cycling through them.
    Get,
    /// GET of every Flunder in the namespace (the stored ones only).
    List,
    /// POST of a new Flunder named `<prefix><index>`.
    Create,
    /// DELETE of the Flunder `Create` made with the same prefix and index.
    Delete,
    /// GET of one ConfigMap, which the front serves itself.
    LocalGet,
}

/// One request, ready to send, and the status that means success.
#[derive(Debug, PartialEq, Eq)]
pub struct Call {
    pub method: Method,
    pub path: String,
    pub body: Option<String>,
    pub expected: StatusCode,
}

impl Operation {
    /// The request for the `index`th operation; `prefix` names the
    /// Flunders `Create` and `Delete` work on, `objects` is how many are
    /// stored for `Get`.
    pub fn call(self, index: usize, prefix: &str, objects: usize) -> Call {
        let (method, path, body, expected) = match self {
            Operation::Get => {
                let name = stored_name(index % objects.max(1));
                (Method::GET, item(&name), None, StatusCode::OK)
            }
            Operation::List => (Method::GET, collection(), None, StatusCode::OK),
            Operation::Create => {
                let body = flunder(&format!("{prefix}{index:05}")).to_string();
                (Method::POST, collection(), Some(body), StatusCode::CREATED)
            }
            Operation::Delete => {
                let path = item(&format!("{prefix}{index:05}"));
                (Method::DELETE, path, None, StatusCode::OK)
            }
            Operation::LocalGet => {
                let path = format!("/api/v1/namespaces/{NAMESPACE}/configmaps/{CONFIGMAP}");
                (Method::GET, path, None, StatusCode::OK)
            }
        };
        Call {
            method,
            path,
            body,
            expected,
        }
    }
}

impl fmt::Display for Operation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Operation::Get => "flunder get",
            Operation::List => "flunder list",
            Operation::Create => "flunder create",
            Operation::Delete => "flunder delete",
            Operation::LocalGet => "configmap get",
        })
    }
}

impl Call {
    /// Sends the request; anything but the expected status is an error.
    pub async fn send(self, client: &ApiClient) -> Result<(), String> {
        let what = format!("{} {}", self.method, self.path);
        let reply = client
            .call(self.method, &self.path, self.body)
            .await
            .map_err(|error| format!("{what}: {error}"))?;
        if reply.status == self.expected {
            Ok(())
        } else {
            Err(format!("{what}: {}", reply.describe()))
        }
    }
}

/// The `index`th stored Flunder's name.
pub fn stored_name(index: usize) -> String {
    format!("{STORED_PREFIX}{index:05}")
}

/// How many stored Flunders a list body holds, found by a byte search
/// for their names (no other field holds that string).
pub fn count_stored(body: &[u8]) -> usize {
    let marker = format!("\"name\":\"{STORED_PREFIX}");
    memchr::memmem::find_iter(body, marker.as_bytes()).count()
}

/// The Flunders of [`NAMESPACE`].
pub fn collection() -> String {
    format!("/apis/{GROUP}/{VERSION}/namespaces/{NAMESPACE}/flunders")
}

fn item(name: &str) -> String {
    format!("{}/{name}", collection())
}

/// A small Flunder, as upstream's sample manifests have them.
pub fn flunder(name: &str) -> serde_json::Value {
    json!({
        "apiVersion": format!("{GROUP}/{VERSION}"),
        "kind": "Flunder",
        "metadata": {"name": name, "namespace": NAMESPACE, "labels": {"app": "bench"}},
        "spec": {"reference": "bench", "referenceType": "Flunder"},
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gets_cycle_through_the_stored_flunders() {
        let call = Operation::Get.call(102, "ignored-", 100);
        assert_eq!(call.method, Method::GET);
        assert_eq!(
            call.path,
            "/apis/wardle.example.com/v1alpha1/namespaces/bench/flunders/flunder-00002"
        );
        assert_eq!(call.expected, StatusCode::OK);
    }

    #[test]
    fn create_and_delete_name_the_same_flunder() {
        let create = Operation::Create.call(7, "c16-front-", 100);
        assert_eq!(create.expected, StatusCode::CREATED);
        assert_eq!(create.path, collection());
        let body: serde_json::Value =
            serde_json::from_str(create.body.as_deref().expect("a body")).expect("JSON");
        assert_eq!(body["metadata"]["name"], "c16-front-00007");
        let delete = Operation::Delete.call(7, "c16-front-", 100);
        assert_eq!(delete.method, Method::DELETE);
        assert!(delete.path.ends_with("/flunders/c16-front-00007"));
    }

    #[test]
    fn local_get_reads_the_front_s_configmap() {
        let call = Operation::LocalGet.call(3, "", 100);
        assert_eq!(call.path, "/api/v1/namespaces/bench/configmaps/local");
    }

    #[test]
    fn stored_flunders_are_counted_in_a_list() {
        let body = br#"{"kind":"FlunderList","items":[{"metadata":{"name":"flunder-00000"}},{"metadata":{"name":"flunder-00001"}},{"metadata":{"name":"c1-direct-00000"}}]}"#;
        assert_eq!(count_stored(body), 2);
    }
}
