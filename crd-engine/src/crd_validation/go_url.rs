//! A URL split the way Go's `net/url` splits it, because upstream's webhook
//! URL and API-approval checks judge the parts Go finds and quote Go's parse
//! errors. Only what those checks read is kept.

/// The parts of a parsed URL the checks look at (raw, not unescaped).
#[derive(Debug, PartialEq)]
pub(super) struct GoUrl<'a> {
    /// Lowercased, as Go stores it.
    pub scheme: String,
    pub user: Option<&'a str>,
    pub host: &'a str,
    pub raw_query: &'a str,
    pub fragment: &'a str,
}

/// Go's `url.Parse`. The error is Go's text: `parse "<url>": <reason>`.
pub(super) fn parse(raw: &str) -> Result<GoUrl<'_>, String> {
    let (before_fragment, fragment) = raw.split_once('#').unwrap_or((raw, ""));
    let mut url = parse_reference(before_fragment, false)
        .map_err(|reason| format!("parse {before_fragment:?}: {reason}"))?;
    check_escapes(fragment).map_err(|reason| format!("parse {raw:?}: {reason}"))?;
    url.fragment = fragment;
    Ok(url)
}

/// Go's `url.ParseRequestURI`: no fragment, and a URL without a scheme must
/// be an absolute path.
pub(super) fn parse_request_uri(raw: &str) -> Result<GoUrl<'_>, String> {
    parse_reference(raw, true).map_err(|reason| format!("parse {raw:?}: {reason}"))
}

fn parse_reference(raw: &str, via_request: bool) -> Result<GoUrl<'_>, String> {
    if raw.bytes().any(|b| b < 0x20 || b == 0x7f) {
        return Err("net/url: invalid control character in URL".into());
    }
    if raw.is_empty() && via_request {
        return Err("empty url".into());
    }
    let mut url = GoUrl {
        scheme: String::new(),
        user: None,
        host: "",
        raw_query: "",
        fragment: "",
    };
    if raw == "*" {
        return Ok(url);
    }
    let (scheme, rest) = split_scheme(raw)?;
    url.scheme = scheme.to_ascii_lowercase();
    let mut rest = rest;
    if rest.ends_with('?') && rest.matches('?').count() == 1 {
        rest = &rest[..rest.len() - 1];
    } else if let Some((path, query)) = rest.split_once('?') {
        rest = path;
        url.raw_query = query;
    }
    if !rest.starts_with('/') {
        if !url.scheme.is_empty() {
            return Ok(url);
        }
        if via_request {
            return Err("invalid URI for request".into());
        }
        let first_segment = rest.split('/').next().unwrap_or("");
        if first_segment.contains(':') {
            return Err("first path segment in URL cannot contain colon".into());
        }
    }
    let has_authority = (!url.scheme.is_empty() || !via_request && !rest.starts_with("///"))
        && rest.starts_with("//");
    if has_authority {
        let authority = &rest[2..];
        let (authority, path) = authority
            .find('/')
            .map_or((authority, ""), |i| (&authority[..i], &authority[i..]));
        let (user, host) = match authority.rfind('@') {
            Some(at) => (Some(&authority[..at]), &authority[at + 1..]),
            None => (None, authority),
        };
        check_host(host)?;
        if let Some(user) = user {
            if !user.chars().all(is_userinfo_char) {
                return Err("net/url: invalid userinfo".into());
            }
            check_escapes(user)?;
        }
        url.user = user;
        url.host = host;
        rest = path;
    }
    check_escapes(rest)?;
    Ok(url)
}

/// Go's `getScheme`: letters, then letters, digits, `+`, `-` or `.`, ended by
/// `:`. Anything else means there is no scheme.
fn split_scheme(raw: &str) -> Result<(&str, &str), String> {
    for (i, c) in raw.char_indices() {
        match c {
            'a'..='z' | 'A'..='Z' => {}
            '0'..='9' | '+' | '-' | '.' if i > 0 => {}
            ':' if i == 0 => return Err("missing protocol scheme".into()),
            ':' => return Ok((&raw[..i], &raw[i + 1..])),
            _ => return Ok(("", raw)),
        }
    }
    Ok(("", raw))
}

/// Go's `parseHost`: a bracketed IPv6 literal or a name, an optional numeric
/// port, and only characters a host may hold.
fn check_host(host: &str) -> Result<(), String> {
    let name = if let Some(inner) = host.strip_prefix('[') {
        let close = inner.find(']').ok_or("missing ']' in host")?;
        let port = &inner[close + 1..];
        if !is_optional_port(port) {
            return Err(format!("invalid port {port:?} after host"));
        }
        &inner[..close]
    } else {
        match host.rfind(':') {
            Some(colon) if !is_optional_port(&host[colon..]) => {
                return Err(format!("invalid port {:?} after host", &host[colon..]));
            }
            _ => host,
        }
    };
    check_escapes(name)?;
    let bad = name.chars().find(|c| {
        c.is_ascii() && !(c.is_ascii_alphanumeric() || "-_.~!$&'()*+,;=:[]<>\"%".contains(*c))
    });
    match bad {
        Some(c) => Err(format!(
            "invalid character {:?} in host name",
            c.to_string()
        )),
        None => Ok(()),
    }
}

fn is_optional_port(port: &str) -> bool {
    port.is_empty()
        || port
            .strip_prefix(':')
            .is_some_and(|digits| digits.bytes().all(|b| b.is_ascii_digit()))
}

fn is_userinfo_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "-._:~!$&'()*+,;=%@".contains(c) || !c.is_ascii()
}

/// Every `%` must start a two-digit hex escape (Go's `unescape`).
fn check_escapes(text: &str) -> Result<(), String> {
    let bytes = text.as_bytes();
    for (i, b) in bytes.iter().enumerate() {
        if *b != b'%' {
            continue;
        }
        let escape = &bytes[i..bytes.len().min(i + 3)];
        let valid = escape.len() == 3 && escape[1..].iter().all(u8::is_ascii_hexdigit);
        if !valid {
            let shown = String::from_utf8_lossy(escape);
            return Err(format!("invalid URL escape {shown:?}"));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_the_parts() {
        let url = parse("HTTPS://me@example.com:8443/convert?x=1#top").unwrap();
        assert_eq!(url.scheme, "https");
        assert_eq!(url.user, Some("me"));
        assert_eq!(url.host, "example.com:8443");
        assert_eq!(url.raw_query, "x=1");
        assert_eq!(url.fragment, "top");
    }

    #[test]
    fn no_scheme_means_no_host() {
        let url = parse("example.com/path").unwrap();
        assert_eq!(url.scheme, "");
        assert_eq!(url.host, "");
    }

    #[test]
    fn reports_go_errors() {
        assert_eq!(
            parse("://x").unwrap_err(),
            "parse \"://x\": missing protocol scheme"
        );
        assert_eq!(
            parse("https://exa mple.com").unwrap_err(),
            "parse \"https://exa mple.com\": invalid character \" \" in host name"
        );
        assert_eq!(
            parse("https://example.com:80x").unwrap_err(),
            "parse \"https://example.com:80x\": invalid port \":80x\" after host"
        );
        assert_eq!(
            parse("https://example.com/%zz").unwrap_err(),
            "parse \"https://example.com/%zz\": invalid URL escape \"%zz\""
        );
        assert_eq!(parse("a:b/c").map(|u| u.scheme), Ok("a".to_string()));
        assert_eq!(
            parse("1a:b").unwrap_err(),
            "parse \"1a:b\": first path segment in URL cannot contain colon"
        );
    }

    #[test]
    fn request_uri_needs_a_scheme_or_absolute_path() {
        assert!(parse_request_uri("no thanks").is_err());
        let url =
            parse_request_uri("https://github.com/kubernetes/enhancements/pull/1111").unwrap();
        assert_eq!(url.host, "github.com");
    }
}
