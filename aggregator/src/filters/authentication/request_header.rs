//! Users named by a front proxy in request headers, as upstream's
//! request-header authenticator reads them (`X-Remote-User: alice`,
//! `X-Remote-Group: dev`, `X-Remote-Extra-Scopes: read`).
//!
//! Only a caller whose client certificate chains to a front-proxy CA, with
//! an allowed common name, may do this; authentication checks that before
//! asking for the user. Every header named here is removed from every
//! request, whoever sent it, so that no handler or aggregated API server
//! ever sees a name a client made up.

use std::collections::BTreeMap;

use apiserver::server::UserInfo;
use http::HeaderMap;

use crate::config::RequestHeaderSettings;

/// The header names (lower-cased, as `http` keeps them) and the allowed
/// proxy names of `--requestheader-*`.
#[derive(Debug, Clone, Default)]
pub struct RequestHeader {
    /// Common names allowed to act as a front proxy; empty allows any.
    allowed_names: Vec<String>,
    username_headers: Vec<String>,
    uid_headers: Vec<String>,
    group_headers: Vec<String>,
    extra_prefixes: Vec<String>,
}

impl RequestHeader {
    pub fn new(settings: &RequestHeaderSettings) -> RequestHeader {
        let lower = |names: &[String]| names.iter().map(|n| n.to_ascii_lowercase()).collect();
        RequestHeader {
            allowed_names: settings.allowed_names.clone(),
            username_headers: lower(&settings.username_headers),
            uid_headers: lower(&settings.uid_headers),
            group_headers: lower(&settings.group_headers),
            extra_prefixes: lower(&settings.extra_headers_prefixes),
        }
    }

    /// Whether a front proxy with this certificate common name may name
    /// users.
    pub fn allows(&self, common_name: &str) -> bool {
        self.allowed_names.is_empty() || self.allowed_names.iter().any(|n| n == common_name)
    }

    /// The user the headers name, `None` when no username header has a
    /// value (upstream then leaves the request to the other
    /// authenticators). As upstream: the first username (and uid) header
    /// with a value wins; groups are every non-empty value of every group
    /// header, in order; an extra key is the rest of the header name after
    /// the prefix, lower-cased and then percent-decoded, with every value.
    pub fn user(&self, headers: &HeaderMap) -> Option<UserInfo> {
        let name = first_value(headers, &self.username_headers)?;
        let uid = first_value(headers, &self.uid_headers).unwrap_or_default();
        let groups = self
            .group_headers
            .iter()
            .flat_map(|header| headers.get_all(header.as_str()))
            .filter_map(|value| value.to_str().ok())
            .filter(|value| !value.is_empty())
            .map(str::to_string)
            .collect();
        let mut extra: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for prefix in &self.extra_prefixes {
            for header in headers.keys() {
                let Some(key) = header.as_str().strip_prefix(prefix.as_str()) else {
                    continue;
                };
                let values = headers
                    .get_all(header)
                    .iter()
                    .filter_map(|value| value.to_str().ok())
                    .map(str::to_string);
                extra.entry(unescape_key(key)).or_default().extend(values);
            }
        }
        Some(UserInfo {
            name,
            uid,
            groups,
            extra,
        })
    }

    /// Removes every header this authenticator reads.
    pub fn strip(&self, headers: &mut HeaderMap) {
        let named = self
            .username_headers
            .iter()
            .chain(&self.uid_headers)
            .chain(&self.group_headers);
        for header in named {
            headers.remove(header.as_str());
        }
        let prefixed: Vec<_> = headers
            .keys()
            .filter(|header| {
                let header = header.as_str();
                self.extra_prefixes
                    .iter()
                    .any(|p| header.starts_with(p.as_str()))
            })
            .cloned()
            .collect();
        for header in prefixed {
            headers.remove(header);
        }
    }
}

/// The first non-empty value among `names`, taking each header's first
/// value as Go's `Header.Get` does.
fn first_value(headers: &HeaderMap, names: &[String]) -> Option<String> {
    names
        .iter()
        .filter_map(|name| headers.get(name.as_str())?.to_str().ok())
        .find(|value| !value.is_empty())
        .map(str::to_string)
}

/// Decodes `%XX` escapes in an extra key (from a front proxy, or in
/// `Impersonate-Extra-*`) as Go's `url.PathUnescape` does
/// (`+` stays a plus). A key with a broken escape, or that would not
/// decode to UTF-8, is kept as it came: upstream records malformed keys
/// rather than dropping them.
pub(crate) fn unescape_key(key: &str) -> String {
    let bytes = key.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] != b'%' {
            out.push(bytes[i]);
            i += 1;
            continue;
        }
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok());
        match hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
            Some(byte) => out.push(byte),
            None => return key.to_string(),
        }
        i += 3;
    }
    String::from_utf8(out).unwrap_or_else(|_| key.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn defaults() -> RequestHeader {
        RequestHeader::new(&RequestHeaderSettings {
            client_ca_file: None,
            allowed_names: vec!["front-proxy-client".into()],
            username_headers: vec!["X-Remote-User".into(), "X-Other-User".into()],
            uid_headers: vec!["X-Remote-Uid".into()],
            group_headers: vec!["X-Remote-Group".into()],
            extra_headers_prefixes: vec!["X-Remote-Extra-".into()],
        })
    }

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(
                http::HeaderName::from_bytes(name.as_bytes()).expect("name"),
                value.parse().expect("value"),
            );
        }
        map
    }

    #[test]
    fn the_headers_name_user_uid_groups_and_extra() {
        let user = defaults()
            .user(&headers(&[
                ("X-Remote-User", "alice"),
                ("X-Remote-Uid", "42"),
                ("X-Remote-Group", "dev"),
                ("X-Remote-Group", ""),
                ("X-Remote-Group", "ops"),
                ("X-Remote-Extra-Acme.com%2Fproject", "x"),
                ("X-Remote-Extra-Scopes", "a"),
                ("X-Remote-Extra-Scopes", "b"),
            ]))
            .expect("a user");
        assert_eq!(user.name, "alice");
        assert_eq!(user.uid, "42");
        assert_eq!(user.groups, ["dev", "ops"]);
        assert_eq!(user.extra["acme.com/project"], ["x"]);
        assert_eq!(user.extra["scopes"], ["a", "b"]);
    }

    #[test]
    fn the_first_username_header_with_a_value_wins() {
        let user = defaults()
            .user(&headers(&[("X-Remote-User", ""), ("X-Other-User", "bob")]))
            .expect("a user");
        assert_eq!(user.name, "bob");
        assert!(user.groups.is_empty());
        assert!(user.extra.is_empty());
    }

    #[test]
    fn without_a_username_there_is_no_user() {
        let only_groups = headers(&[("X-Remote-Group", "system:masters")]);
        assert!(defaults().user(&only_groups).is_none());
    }

    #[test]
    fn extra_keys_decode_like_a_path_segment() {
        assert_eq!(unescape_key("acme.com%2fproject"), "acme.com/project");
        assert_eq!(unescape_key("a+b"), "a+b");
        assert_eq!(unescape_key("%e2%9c%93"), "\u{2713}");
        assert_eq!(unescape_key("broken%2"), "broken%2");
        assert_eq!(unescape_key("broken%zz"), "broken%zz");
        assert_eq!(unescape_key("not-utf8%ff"), "not-utf8%ff");
    }

    #[test]
    fn allowed_names_limit_proxies_unless_empty() {
        assert!(defaults().allows("front-proxy-client"));
        assert!(!defaults().allows("mallory"));
        assert!(RequestHeader::default().allows("anyone"));
    }

    #[test]
    fn strip_removes_every_header_read_and_nothing_else() {
        let mut map = headers(&[
            ("X-Remote-User", "alice"),
            ("X-Other-User", "bob"),
            ("X-Remote-Uid", "1"),
            ("X-Remote-Group", "a"),
            ("X-Remote-Group", "b"),
            ("X-Remote-Extra-One", "1"),
            ("X-Remote-Extra-Two%2F", "2"),
            ("Accept", "application/json"),
        ]);
        defaults().strip(&mut map);
        let left: Vec<&str> = map.keys().map(|k| k.as_str()).collect();
        assert_eq!(left, ["accept"]);
    }
}
