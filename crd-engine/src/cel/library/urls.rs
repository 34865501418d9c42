//! Kubernetes' URL library: `url`, `isURL`, `getScheme`, `getHost`,
//! `getHostname`, `getPort`, `getEscapedPath`, `getQuery`.
//!
//! URLs are parsed as Go's `url.ParseRequestURI` does (absolute URLs and
//! absolute paths only), since that is what upstream accepts.

use cel::common::types::{CelBool, CelList, CelMap, CelMapKey, CelString, Type};
use cel::common::value::{StaticVal, Val};
use cel::{DeclarationError, Env, ExecutionError};
use std::any::Any;
use std::collections::HashMap;

pub(crate) const URL_TYPE_NAME: &str = "kubernetes.URL";
static URL_TYPE: Type = Type::new_unspecified_type(URL_TYPE_NAME);

pub(super) fn register(env: &mut Env) -> Result<(), DeclarationError> {
    env.add_type(URL_TYPE.to_owned())?;
    cel::add_overload!(env, fn url: (CelString) -> Result<Url>)?;
    cel::add_overload!(env, fn is_url: (CelString) -> CelBool, name = "isURL")?;
    cel::add_member_overload!(env, fn get_scheme: (Url) -> CelString)?;
    cel::add_member_overload!(env, fn get_host: (Url) -> CelString)?;
    cel::add_member_overload!(env, fn get_hostname: (Url) -> CelString)?;
    cel::add_member_overload!(env, fn get_port: (Url) -> CelString)?;
    cel::add_member_overload!(env, fn get_escaped_path: (Url) -> CelString)?;
    cel::add_member_overload!(env, fn get_query: (Url) -> CelMap)?;
    Ok(())
}

/// A parsed URL, its parts kept as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Url {
    scheme: String,
    host: String,
    path: String,
    query: String,
}

impl Url {
    /// Parses as Go's `url.ParseRequestURI`, with its error wording.
    pub(crate) fn parse(raw: &str) -> Result<Url, String> {
        let fail = |why: &str| format!("parse {raw:?}: {why}");
        if raw.chars().any(|c| c.is_ascii_control()) {
            return Err(fail("net/url: invalid control character in URL"));
        }
        if raw.is_empty() {
            return Err(fail("empty url"));
        }
        if raw == "*" {
            return Ok(Url {
                scheme: String::new(),
                host: String::new(),
                path: raw.to_string(),
                query: String::new(),
            });
        }
        let (scheme, rest) = split_scheme(raw).map_err(fail)?;
        let (rest, query) = match rest.split_once('?') {
            Some((before, after)) => (before, after.to_string()),
            None => (rest, String::new()),
        };
        if !rest.starts_with('/') {
            if !scheme.is_empty() {
                return Ok(Url {
                    scheme,
                    host: String::new(),
                    path: String::new(),
                    query,
                });
            }
            return Err(fail("invalid URI for request"));
        }
        let (host, path) = match rest.strip_prefix("//") {
            Some(authority) if !scheme.is_empty() && !rest.starts_with("///") => {
                let end = authority.find('/').unwrap_or(authority.len());
                let host = authority[..end]
                    .rsplit_once('@')
                    .map_or(&authority[..end], |(_, h)| h);
                validate_host(host).map_err(|why| fail(&why))?;
                (host.to_string(), authority[end..].to_string())
            }
            _ => (String::new(), rest.to_string()),
        };
        Ok(Url {
            scheme,
            host,
            path,
            query,
        })
    }

    fn hostname(&self) -> &str {
        if let Some(inner) = self.host.strip_prefix('[') {
            return inner.split(']').next().unwrap_or_default();
        }
        self.host.split(':').next().unwrap_or_default()
    }

    fn port(&self) -> &str {
        let after = match self.host.rfind(']') {
            Some(close) => &self.host[close + 1..],
            None => &self.host,
        };
        match after.rsplit_once(':') {
            Some((_, port)) if port.bytes().all(|b| b.is_ascii_digit()) => port,
            _ => "",
        }
    }
}

/// The lower-cased scheme and what follows its colon, or no scheme.
fn split_scheme(raw: &str) -> Result<(String, &str), &'static str> {
    for (i, c) in raw.char_indices() {
        match c {
            'a'..='z' | 'A'..='Z' => {}
            '0'..='9' | '+' | '-' | '.' if i > 0 => {}
            ':' if i == 0 => return Err("missing protocol scheme"),
            ':' => return Ok((raw[..i].to_ascii_lowercase(), &raw[i + 1..])),
            _ => return Ok((String::new(), raw)),
        }
    }
    Ok((String::new(), raw))
}

fn validate_host(host: &str) -> Result<(), String> {
    let after_brackets = match host.strip_prefix('[') {
        Some(inner) => match inner.find(']') {
            Some(close) => &inner[close + 1..],
            None => return Err("missing ']' in host".into()),
        },
        None => host,
    };
    if let Some((_, port)) = after_brackets.rsplit_once(':') {
        if !port.bytes().all(|b| b.is_ascii_digit()) {
            return Err(format!("invalid port \":{port}\" after host"));
        }
    }
    match host.chars().find(|c| {
        matches!(
            c,
            ' ' | '<' | '>' | '"' | '{' | '}' | '|' | '\\' | '^' | '`'
        )
    }) {
        Some(bad) => Err(format!(
            "invalid character {:?} in host name",
            bad.to_string()
        )),
        None => Ok(()),
    }
}

/// Decodes `%XX` escapes and `+` as a query string does; malformed
/// escapes stay as written.
fn unescape_query(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => match (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                (Some(high), Some(low)) => {
                    out.push(high << 4 | low);
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn hex(digit: u8) -> Option<u8> {
    char::from(digit)
        .to_digit(16)
        .and_then(|d| u8::try_from(d).ok())
}

impl Val for Url {
    fn get_type(&self) -> &Type {
        &URL_TYPE
    }

    fn cel_type() -> &'static Type {
        &URL_TYPE
    }

    fn equals(&self, other: &dyn Val) -> bool {
        other.downcast_ref::<Url>().is_some_and(|o| o == self)
    }

    fn clone_as_boxed<'v>(&self) -> Box<dyn Val + 'v> {
        Box::new(self.clone())
    }

    fn as_any(&self) -> Option<&dyn Any> {
        Some(self)
    }
}

impl StaticVal for Url {}

fn url(text: &CelString<'_>) -> Result<Url, ExecutionError> {
    Url::parse(text.inner()).map_err(|e| {
        super::failure(
            "url",
            format!("URL parse error during conversion from string: {e}"),
        )
    })
}

fn is_url(text: &CelString<'_>) -> CelBool {
    CelBool::from(Url::parse(text.inner()).is_ok())
}

fn get_scheme(u: &Url) -> CelString<'static> {
    CelString::from(u.scheme.clone())
}

fn get_host(u: &Url) -> CelString<'static> {
    CelString::from(u.host.clone())
}

fn get_hostname(u: &Url) -> CelString<'static> {
    CelString::from(u.hostname().to_string())
}

fn get_port(u: &Url) -> CelString<'static> {
    CelString::from(u.port().to_string())
}

fn get_escaped_path(u: &Url) -> CelString<'static> {
    CelString::from(u.path.clone())
}

/// The query as a map from each name to its values, in order.
fn get_query(u: &Url) -> CelMap<'static> {
    let mut values: HashMap<String, Vec<Box<dyn Val>>> = HashMap::new();
    for pair in u.query.split(['&', ';']).filter(|p| !p.is_empty()) {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        values
            .entry(unescape_query(name))
            .or_default()
            .push(Box::new(CelString::from(unescape_query(value))));
    }
    let entries: HashMap<CelMapKey<'static>, Box<dyn Val>> = values
        .into_iter()
        .map(|(k, v)| {
            (
                CelMapKey::from(k),
                Box::new(CelList::from(v)) as Box<dyn Val>,
            )
        })
        .collect();
    CelMap::from(entries)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_as_go_parse_request_uri() {
        let u = Url::parse("https://user@[::1]:8443/a%20b?x=1&x=2").unwrap();
        assert_eq!(u.scheme, "https");
        assert_eq!(u.host, "[::1]:8443");
        assert_eq!(u.hostname(), "::1");
        assert_eq!(u.port(), "8443");
        assert_eq!(u.path, "/a%20b");
        assert!(Url::parse("/absolute/path").is_ok());
        assert_eq!(Url::parse("*").unwrap().path, "*");
        assert_eq!(Url::parse("").unwrap_err(), "parse \"\": empty url");
        assert_eq!(
            Url::parse("relative").unwrap_err(),
            "parse \"relative\": invalid URI for request"
        );
        assert_eq!(
            Url::parse("://x").unwrap_err(),
            "parse \"://x\": missing protocol scheme"
        );
        assert_eq!(unescape_query("a+b%21"), "a b!");
    }
}
