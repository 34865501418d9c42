//! The one place that decides where traffic may go: 127.0.0.1 only.

use crate::error::BenchError;

/// Splits `scheme://host[:port]` and refuses any host but 127.0.0.1 (or
/// `localhost`, which callers still dial as 127.0.0.1).
pub fn host_port(url: &str, scheme: &str, default_port: u16) -> Result<(String, u16), BenchError> {
    let uri: http::Uri = url
        .parse()
        .map_err(|_| BenchError::Protocol(format!("bad URL {url:?}")))?;
    if uri.scheme_str() != Some(scheme) {
        return Err(BenchError::Protocol(format!(
            "URL {url:?} should start with {scheme}://"
        )));
    }
    let host = uri
        .host()
        .ok_or_else(|| BenchError::Protocol(format!("URL {url:?} has no host")))?;
    if host != "127.0.0.1" && host != "localhost" {
        return Err(BenchError::NotLoopback(host.to_string()));
    }
    Ok((host.to_string(), uri.port_u16().unwrap_or(default_port)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_urls_are_accepted() {
        assert_eq!(
            host_port("https://127.0.0.1:6443", "https", 443).expect("loopback"),
            ("127.0.0.1".to_string(), 6443)
        );
        assert_eq!(
            host_port("https://localhost", "https", 443).expect("loopback"),
            ("localhost".to_string(), 443)
        );
        assert_eq!(
            host_port("http://127.0.0.1:2379", "http", 2379).expect("loopback"),
            ("127.0.0.1".to_string(), 2379)
        );
    }

    #[test]
    fn other_hosts_are_refused() {
        for url in [
            "https://10.0.0.1:6443",
            "https://example.com",
            "https://127.0.0.2:6443",
            "https://[::1]:6443",
        ] {
            assert!(
                matches!(
                    host_port(url, "https", 443),
                    Err(BenchError::NotLoopback(_))
                ),
                "{url} should be refused"
            );
        }
    }

    #[test]
    fn wrong_scheme_is_refused() {
        assert!(matches!(
            host_port("http://127.0.0.1:8080", "https", 443),
            Err(BenchError::Protocol(_))
        ));
    }
}
