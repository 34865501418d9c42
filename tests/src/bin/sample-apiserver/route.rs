//! What a request path names, parsed once; and query strings.

use crate::{Version, GROUP};

/// Every path this server answers, and `NotFound` for the rest.
#[derive(Debug, PartialEq, Eq)]
pub enum Route {
    /// `/healthz`, `/readyz`, `/livez`: no credentials needed.
    Health,
    /// `/apis`.
    GroupList,
    /// `/apis/wardle.example.com`.
    Group,
    /// `/apis/wardle.example.com/<version>`.
    ResourceList(Version),
    /// `/openapi/v2`.
    OpenApiV2,
    /// `/openapi/v3`.
    OpenApiV3Index,
    /// `/openapi/v3/apis/wardle.example.com/<version>`.
    OpenApiV3(Version),
    /// Flunders of one namespace, or of all when `namespace` is `None`.
    Collection {
        version: Version,
        namespace: Option<String>,
    },
    /// One Flunder.
    Object {
        version: Version,
        namespace: String,
        name: String,
    },
    /// A Flunder's `echo` subresource, which upgrades the connection.
    Echo {
        version: Version,
    },
    NotFound,
}

impl Route {
    pub fn parse(path: &str) -> Route {
        let segments: Vec<&str> = path.trim_end_matches('/').split('/').skip(1).collect();
        match segments.as_slice() {
            ["healthz" | "readyz" | "livez"] => Route::Health,
            ["apis"] => Route::GroupList,
            ["apis", GROUP] => Route::Group,
            ["apis", GROUP, version] => {
                Version::parse(version).map_or(Route::NotFound, Route::ResourceList)
            }
            ["openapi", "v2"] => Route::OpenApiV2,
            ["openapi", "v3"] => Route::OpenApiV3Index,
            ["openapi", "v3", "apis", GROUP, version] => {
                Version::parse(version).map_or(Route::NotFound, Route::OpenApiV3)
            }
            ["apis", GROUP, version, rest @ ..] => {
                Version::parse(version).map_or(Route::NotFound, |v| Route::resource(v, rest))
            }
            _ => Route::NotFound,
        }
    }

    /// The part after `/apis/<group>/<version>/`.
    fn resource(version: Version, rest: &[&str]) -> Route {
        match rest {
            ["flunders"] => Route::Collection {
                version,
                namespace: None,
            },
            ["namespaces", namespace, "flunders"] => Route::Collection {
                version,
                namespace: Some(namespace.to_string()),
            },
            ["namespaces", namespace, "flunders", name] => Route::Object {
                version,
                namespace: namespace.to_string(),
                name: name.to_string(),
            },
            ["namespaces", _, "flunders", _, "echo"] => Route::Echo { version },
            _ => Route::NotFound,
        }
    }
}

/// The decoded `key=value` pairs of a query string, in order.
pub fn query_pairs(query: Option<&str>) -> Vec<(String, String)> {
    query
        .unwrap_or("")
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            let decode = |text: &str| percent_decode(&text.replace('+', " "));
            (decode(key), decode(value))
        })
        .collect()
}

/// `%XX` escapes decoded; a malformed escape is kept as written.
pub fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let escaped = bytes
            .get(i + 1..i + 3)
            .and_then(|hex| std::str::from_utf8(hex).ok())
            .and_then(|hex| u8::from_str_radix(hex, 16).ok());
        match (bytes[i], escaped) {
            (b'%', Some(byte)) => {
                out.push(byte);
                i += 3;
            }
            (byte, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_name_their_routes() {
        assert_eq!(Route::parse("/apis"), Route::GroupList);
        assert_eq!(Route::parse("/apis/wardle.example.com/"), Route::Group);
        assert_eq!(
            Route::parse("/apis/wardle.example.com/v1alpha1"),
            Route::ResourceList(Version::V1alpha1)
        );
        assert_eq!(
            Route::parse("/apis/wardle.example.com/v1beta1/flunders"),
            Route::Collection {
                version: Version::V1beta1,
                namespace: None
            }
        );
        assert_eq!(
            Route::parse("/apis/wardle.example.com/v1beta1/namespaces/ns/flunders/x"),
            Route::Object {
                version: Version::V1beta1,
                namespace: "ns".into(),
                name: "x".into()
            }
        );
        assert_eq!(
            Route::parse("/apis/wardle.example.com/v1alpha1/namespaces/ns/flunders/x/echo"),
            Route::Echo {
                version: Version::V1alpha1
            }
        );
        assert_eq!(Route::parse("/apis/wardle.example.com/v2"), Route::NotFound);
        assert_eq!(Route::parse("/api/v1"), Route::NotFound);
    }

    #[test]
    fn queries_and_keys_are_percent_decoded() {
        assert_eq!(
            query_pairs(Some("labelSelector=a%3Db&watch=1")),
            vec![
                ("labelSelector".to_string(), "a=b".to_string()),
                ("watch".to_string(), "1".to_string())
            ]
        );
        assert_eq!(percent_decode("example.org%2fteam"), "example.org/team");
        assert_eq!(percent_decode("bad%zzescape%"), "bad%zzescape%");
    }
}
