//! Flags and the `--config` file, resolved once into [`Settings`].
//!
//! [`RawConfig`] mirrors both sources: every field is optional so that we can
//! tell "not given" from "given the default". The file is read first, then
//! every flag given on the command line replaces the file's value, then
//! [`Settings::resolve`] fills defaults and checks the whole. Flag names are
//! upstream kube-apiserver's wherever upstream has the setting, and the file
//! uses the same names as keys (`secure-port: 6443`).

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::duration;

/// What the command line and the config file can say; `None` means unsaid.
#[derive(Debug, Default, Clone, PartialEq, clap::Parser, Deserialize)]
#[command(
    name = "kube-apiserver",
    version,
    // As with upstream's flags, a flag given twice takes its last value.
    args_override_self = true,
    about = "A Kubernetes API server. Flags override the values of --config."
)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct RawConfig {
    /// A YAML file with any of these settings, keyed by flag name
    /// (e.g. `secure-port: 6443`). Flags given on the command line win.
    #[arg(long, value_name = "FILE")]
    #[serde(skip)]
    pub config: Option<PathBuf>,

    /// The port to serve HTTPS on [default: 6443].
    #[arg(long, value_name = "PORT")]
    pub secure_port: Option<u16>,

    /// The IP address to listen on [default: 127.0.0.1].
    #[arg(long, value_name = "IP")]
    pub bind_address: Option<IpAddr>,

    /// etcd servers to use instead of the embedded store (comma separated).
    #[arg(long, value_name = "URLS", value_delimiter = ',')]
    #[serde(default, deserialize_with = "list_or_comma_string")]
    pub etcd_servers: Option<Vec<String>>,

    /// The prefix of every key in etcd [default: /registry].
    #[arg(long, value_name = "PREFIX")]
    pub etcd_prefix: Option<String>,

    /// The serving certificate (PEM, may hold the chain). Without it a
    /// certificate is generated under DATA_DIR/pki.
    #[arg(long, value_name = "FILE")]
    pub tls_cert_file: Option<PathBuf>,

    /// The private key of --tls-cert-file (PEM).
    #[arg(long, value_name = "FILE")]
    pub tls_private_key_file: Option<PathBuf>,

    /// More certificate authorities whose client certificates are accepted,
    /// besides the generated one (PEM bundle).
    #[arg(long, value_name = "FILE")]
    pub client_ca_file: Option<PathBuf>,

    /// Static bearer tokens, one per line: token,user,uid,"group1,group2".
    #[arg(long, value_name = "FILE")]
    pub token_auth_file: Option<PathBuf>,

    /// The client certificate (PEM) this server presents to aggregated API
    /// servers when it proxies to them. Without it one is generated under
    /// DATA_DIR/pki, signed by a generated front-proxy CA.
    #[arg(long, value_name = "FILE")]
    pub proxy_client_cert_file: Option<PathBuf>,

    /// The private key of --proxy-client-cert-file (PEM).
    #[arg(long, value_name = "FILE")]
    pub proxy_client_key_file: Option<PathBuf>,

    /// Certificate authorities (PEM bundle) of front proxies: a client
    /// certificate they signed may name the user in the
    /// --requestheader-username-headers. Without it, the generated
    /// front-proxy CA.
    #[arg(long, value_name = "FILE")]
    pub requestheader_client_ca_file: Option<PathBuf>,

    /// Client certificate common names allowed to act as a front proxy
    /// (comma separated; empty allows any name the CA signed)
    /// [default: front-proxy-client without --requestheader-client-ca-file,
    /// else empty].
    #[arg(long, value_name = "NAMES", value_delimiter = ',')]
    #[serde(default, deserialize_with = "list_or_comma_string")]
    pub requestheader_allowed_names: Option<Vec<String>>,

    /// Request headers to read the user name from, the first with a value
    /// wins (comma separated) [default: X-Remote-User].
    #[arg(long, value_name = "HEADERS", value_delimiter = ',')]
    #[serde(default, deserialize_with = "list_or_comma_string")]
    pub requestheader_username_headers: Option<Vec<String>>,

    /// Request headers to read groups from, every value of each (comma
    /// separated) [default: X-Remote-Group].
    #[arg(long, value_name = "HEADERS", value_delimiter = ',')]
    #[serde(default, deserialize_with = "list_or_comma_string")]
    pub requestheader_group_headers: Option<Vec<String>>,

    /// Request header prefixes whose headers carry extra user information,
    /// the rest of the name being the key (comma separated)
    /// [default: X-Remote-Extra-].
    #[arg(long, value_name = "PREFIXES", value_delimiter = ',')]
    #[serde(default, deserialize_with = "list_or_comma_string")]
    pub requestheader_extra_headers_prefix: Option<Vec<String>>,

    /// Request headers to read the user's UID from, the first with a value
    /// wins (comma separated); none by default.
    #[arg(long, value_name = "HEADERS", value_delimiter = ',')]
    #[serde(default, deserialize_with = "list_or_comma_string")]
    pub requestheader_uid_headers: Option<Vec<String>>,

    /// Where CustomResourceDefinitions are served: `embedded` (here, the
    /// default), `external` (by another process, registered with the
    /// `v1.apiextensions.k8s.io` APIService; its CRD groups are then
    /// registered here automatically) or `only` (this process is that
    /// other process: it serves the CRD groups and nothing else, behind an
    /// aggregator on the same etcd).
    #[arg(long, value_name = "MODE")]
    pub crd_engine: Option<CrdEngine>,

    /// The CIDR range(s) Service ClusterIPs come from, one per IP family
    /// [default: 10.96.0.0/12].
    #[arg(long, value_name = "CIDRS")]
    pub service_cluster_ip_range: Option<String>,

    /// How long events are kept [default: 1h].
    #[arg(long, value_name = "DURATION")]
    pub event_ttl: Option<String>,

    /// Let requests without credentials in as system:anonymous
    /// [default: false].
    #[arg(
        long,
        value_name = "BOOL",
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "true"
    )]
    pub anonymous_auth: Option<bool>,

    /// The longest a non-watch request may run [default: 1m0s].
    #[arg(long, value_name = "DURATION")]
    pub request_timeout: Option<String>,

    /// The most read-only requests served at once; 0 is no limit
    /// [default: 400].
    #[arg(long, value_name = "N")]
    pub max_requests_inflight: Option<usize>,

    /// The most mutating requests served at once; 0 is no limit
    /// [default: 200].
    #[arg(long, value_name = "N")]
    pub max_mutating_requests_inflight: Option<usize>,

    /// Where generated certificates, admin.kubeconfig and the embedded store
    /// live [default: ./data].
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
}

/// upstream takes `--etcd-servers` and the `--requestheader-*` lists as
/// comma-separated lists; in YAML a list reads more naturally, so the file
/// takes either.
fn list_or_comma_string<'de, D>(deserializer: D) -> Result<Option<Vec<String>>, D::Error>
where
    D: serde::Deserializer<'de>,
{
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum ListOrString {
        List(Vec<String>),
        String(String),
    }
    Ok(match Option::<ListOrString>::deserialize(deserializer)? {
        None => None,
        Some(ListOrString::List(list)) => Some(list),
        Some(ListOrString::String(text)) => Some(text.split(',').map(str::to_string).collect()),
    })
}

impl RawConfig {
    /// This config with every unset field taken from `file`.
    pub fn over(self, file: RawConfig) -> RawConfig {
        RawConfig {
            config: self.config,
            secure_port: self.secure_port.or(file.secure_port),
            bind_address: self.bind_address.or(file.bind_address),
            etcd_servers: self.etcd_servers.or(file.etcd_servers),
            etcd_prefix: self.etcd_prefix.or(file.etcd_prefix),
            tls_cert_file: self.tls_cert_file.or(file.tls_cert_file),
            tls_private_key_file: self.tls_private_key_file.or(file.tls_private_key_file),
            client_ca_file: self.client_ca_file.or(file.client_ca_file),
            token_auth_file: self.token_auth_file.or(file.token_auth_file),
            proxy_client_cert_file: self.proxy_client_cert_file.or(file.proxy_client_cert_file),
            proxy_client_key_file: self.proxy_client_key_file.or(file.proxy_client_key_file),
            requestheader_client_ca_file: self
                .requestheader_client_ca_file
                .or(file.requestheader_client_ca_file),
            requestheader_allowed_names: self
                .requestheader_allowed_names
                .or(file.requestheader_allowed_names),
            requestheader_username_headers: self
                .requestheader_username_headers
                .or(file.requestheader_username_headers),
            requestheader_group_headers: self
                .requestheader_group_headers
                .or(file.requestheader_group_headers),
            requestheader_extra_headers_prefix: self
                .requestheader_extra_headers_prefix
                .or(file.requestheader_extra_headers_prefix),
            requestheader_uid_headers: self
                .requestheader_uid_headers
                .or(file.requestheader_uid_headers),
            crd_engine: self.crd_engine.or(file.crd_engine),
            service_cluster_ip_range: self
                .service_cluster_ip_range
                .or(file.service_cluster_ip_range),
            event_ttl: self.event_ttl.or(file.event_ttl),
            anonymous_auth: self.anonymous_auth.or(file.anonymous_auth),
            request_timeout: self.request_timeout.or(file.request_timeout),
            max_requests_inflight: self.max_requests_inflight.or(file.max_requests_inflight),
            max_mutating_requests_inflight: self
                .max_mutating_requests_inflight
                .or(file.max_mutating_requests_inflight),
            data_dir: self.data_dir.or(file.data_dir),
        }
    }

    /// Reads a config file. Relative paths inside it are taken relative to
    /// the working directory, the same as on the command line.
    pub fn from_file(path: &Path) -> Result<RawConfig, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::ReadFile {
            path: path.to_owned(),
            source,
        })?;
        // An empty file is a valid "nothing set", though YAML reads it as null.
        if text.trim().is_empty() {
            return Ok(RawConfig::default());
        }
        serde_yaml_ng::from_str(&text).map_err(|source| ConfigError::ParseFile {
            path: path.to_owned(),
            source,
        })
    }
}

/// Where the cluster's state is kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StorageBackend {
    /// The embedded store in this directory.
    Embedded { dir: PathBuf },
    /// An etcd cluster; every key starts with `prefix`.
    Etcd {
        endpoints: Vec<String>,
        prefix: String,
    },
}

/// Where the serving certificate comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServingCertificate {
    /// Generated under DATA_DIR/pki on first start, signed by our CA.
    Generated,
    /// Given with --tls-cert-file and --tls-private-key-file.
    Files { cert: PathBuf, key: PathBuf },
}

/// Where the front-proxy client certificate comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProxyClientCertificate {
    /// Generated under DATA_DIR/pki, signed by the generated front-proxy CA.
    Generated,
    /// Given with --proxy-client-cert-file and --proxy-client-key-file.
    Files { cert: PathBuf, key: PathBuf },
}

/// How front proxies name users in request headers (upstream's
/// request-header authentication). Header names keep the spelling they
/// were given in, as the `extension-apiserver-authentication` ConfigMap
/// publishes them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestHeaderSettings {
    /// --requestheader-client-ca-file; `None` is the generated front-proxy CA.
    pub client_ca_file: Option<PathBuf>,
    /// Empty allows any common name the CA signed.
    pub allowed_names: Vec<String>,
    pub username_headers: Vec<String>,
    pub uid_headers: Vec<String>,
    pub group_headers: Vec<String>,
    pub extra_headers_prefixes: Vec<String>,
}

/// The common name of the generated front-proxy client certificate (as
/// kubeadm names it), allowed by default when the front-proxy CA is ours.
pub const FRONT_PROXY_CLIENT: &str = "front-proxy-client";

/// The validated configuration the server runs with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    pub secure_port: u16,
    pub bind_address: IpAddr,
    pub storage: StorageBackend,
    pub serving_certificate: ServingCertificate,
    pub client_ca_file: Option<PathBuf>,
    pub token_auth_file: Option<PathBuf>,
    pub proxy_client_certificate: ProxyClientCertificate,
    pub request_header: RequestHeaderSettings,
    pub crd_engine: CrdEngine,
    pub service_cluster_ip_range: String,
    pub event_ttl: Duration,
    pub anonymous_auth: bool,
    pub request_timeout: Duration,
    /// 0 is no limit, as upstream.
    pub max_requests_inflight: usize,
    /// 0 is no limit, as upstream.
    pub max_mutating_requests_inflight: usize,
    pub data_dir: PathBuf,
}

/// Where CustomResourceDefinitions are served (`--crd-engine`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CrdEngine {
    /// In this process, with everything else.
    #[default]
    Embedded,
    /// In another process, behind this one's aggregator.
    External,
    /// This process serves only the CRD groups, behind another's aggregator.
    Only,
}

/// Why the configuration cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The config file could not be read.
    #[error("reading config file {}: {source}", path.display())]
    ReadFile {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The config file is not YAML of the expected shape.
    #[error("parsing config file {}: {source}", path.display())]
    ParseFile {
        path: PathBuf,
        #[source]
        source: serde_yaml_ng::Error,
    },
    /// A setting has a value the server cannot run with.
    #[error("--{flag}: {message}")]
    Invalid { flag: &'static str, message: String },
}

fn invalid(flag: &'static str, message: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        flag,
        message: message.into(),
    }
}

impl Settings {
    /// Reads `--config` if the command line names one, lays the command
    /// line over it, and resolves the result.
    pub fn load(command_line: RawConfig) -> Result<Settings, ConfigError> {
        let file = match &command_line.config {
            Some(path) => RawConfig::from_file(path)?,
            None => RawConfig::default(),
        };
        Settings::resolve(command_line.over(file))
    }

    /// Fills defaults and checks every value.
    pub fn resolve(raw: RawConfig) -> Result<Settings, ConfigError> {
        let secure_port = raw.secure_port.unwrap_or(6443);
        if secure_port == 0 {
            // upstream reads 0 as "no HTTPS"; this server serves nothing else.
            return Err(invalid("secure-port", "must be between 1 and 65535"));
        }
        let data_dir = raw.data_dir.unwrap_or_else(|| PathBuf::from("data"));
        let storage = resolve_storage(raw.etcd_servers, raw.etcd_prefix, &data_dir)?;
        let serving_certificate = match (raw.tls_cert_file, raw.tls_private_key_file) {
            (None, None) => ServingCertificate::Generated,
            (Some(cert), Some(key)) => ServingCertificate::Files { cert, key },
            (Some(_), None) => {
                return Err(invalid(
                    "tls-private-key-file",
                    "required with --tls-cert-file",
                ))
            }
            (None, Some(_)) => {
                return Err(invalid(
                    "tls-cert-file",
                    "required with --tls-private-key-file",
                ))
            }
        };
        let proxy_client_certificate = match (raw.proxy_client_cert_file, raw.proxy_client_key_file)
        {
            (None, None) => ProxyClientCertificate::Generated,
            (Some(cert), Some(key)) => ProxyClientCertificate::Files { cert, key },
            (Some(_), None) => {
                return Err(invalid(
                    "proxy-client-key-file",
                    "required with --proxy-client-cert-file",
                ))
            }
            (None, Some(_)) => {
                return Err(invalid(
                    "proxy-client-cert-file",
                    "required with --proxy-client-key-file",
                ))
            }
        };
        let allowed_names = match raw.requestheader_allowed_names {
            Some(names) => non_empty(names),
            None if raw.requestheader_client_ca_file.is_none() => {
                vec![FRONT_PROXY_CLIENT.to_string()]
            }
            None => Vec::new(),
        };
        let request_header = RequestHeaderSettings {
            client_ca_file: raw.requestheader_client_ca_file,
            allowed_names,
            username_headers: header_names(
                "requestheader-username-headers",
                raw.requestheader_username_headers,
                "X-Remote-User",
            )?,
            uid_headers: header_names(
                "requestheader-uid-headers",
                raw.requestheader_uid_headers,
                "",
            )?,
            group_headers: header_names(
                "requestheader-group-headers",
                raw.requestheader_group_headers,
                "X-Remote-Group",
            )?,
            extra_headers_prefixes: header_names(
                "requestheader-extra-headers-prefix",
                raw.requestheader_extra_headers_prefix,
                "X-Remote-Extra-",
            )?,
        };
        let service_cluster_ip_range = raw
            .service_cluster_ip_range
            .unwrap_or_else(|| "10.96.0.0/12".to_string());
        check_service_ranges(&service_cluster_ip_range)
            .map_err(|message| invalid("service-cluster-ip-range", message))?;
        let event_ttl = positive_duration("event-ttl", raw.event_ttl.as_deref().unwrap_or("1h"))?;
        let request_timeout = positive_duration(
            "request-timeout",
            raw.request_timeout.as_deref().unwrap_or("1m0s"),
        )?;
        Ok(Settings {
            secure_port,
            bind_address: raw.bind_address.unwrap_or(IpAddr::from([127, 0, 0, 1])),
            storage,
            serving_certificate,
            client_ca_file: raw.client_ca_file,
            token_auth_file: raw.token_auth_file,
            proxy_client_certificate,
            request_header,
            crd_engine: raw.crd_engine.unwrap_or_default(),
            service_cluster_ip_range,
            event_ttl,
            anonymous_auth: raw.anonymous_auth.unwrap_or(false),
            request_timeout,
            max_requests_inflight: raw.max_requests_inflight.unwrap_or(400),
            max_mutating_requests_inflight: raw.max_mutating_requests_inflight.unwrap_or(200),
            data_dir,
        })
    }

    /// DATA_DIR/pki: the generated CA, certificates and keys.
    pub fn pki_dir(&self) -> PathBuf {
        self.data_dir.join("pki")
    }

    /// DATA_DIR/admin.kubeconfig.
    pub fn admin_kubeconfig(&self) -> PathBuf {
        self.data_dir.join("admin.kubeconfig")
    }
}

fn resolve_storage(
    servers: Option<Vec<String>>,
    prefix: Option<String>,
    data_dir: &Path,
) -> Result<StorageBackend, ConfigError> {
    let endpoints: Vec<String> = servers
        .unwrap_or_default()
        .into_iter()
        .map(|server| server.trim().to_string())
        .filter(|server| !server.is_empty())
        .collect();
    if endpoints.is_empty() {
        return Ok(StorageBackend::Embedded {
            dir: data_dir.join("store"),
        });
    }
    if let Some(bad) = endpoints
        .iter()
        .find(|e| !(e.starts_with("http://") || e.starts_with("https://")))
    {
        return Err(invalid(
            "etcd-servers",
            format!("{bad:?} is not an http:// or https:// URL"),
        ));
    }
    let prefix = prefix.unwrap_or_else(|| "/registry".to_string());
    if !prefix.starts_with('/') {
        return Err(invalid("etcd-prefix", "must start with /"));
    }
    Ok(StorageBackend::Etcd { endpoints, prefix })
}

/// The entries of a list flag, trimmed, without empty ones: an empty value
/// (`--requestheader-allowed-names=`) is the empty list, as with upstream's
/// list flags.
fn non_empty(list: Vec<String>) -> Vec<String> {
    list.into_iter()
        .map(|entry| entry.trim().to_string())
        .filter(|entry| !entry.is_empty())
        .collect()
}

/// A list of header names (or name prefixes), `default` when unsaid (an
/// empty `default` is the empty list). Each must be a valid header name.
fn header_names(
    flag: &'static str,
    given: Option<Vec<String>>,
    default: &str,
) -> Result<Vec<String>, ConfigError> {
    let names = match given {
        Some(names) => non_empty(names),
        None => non_empty(vec![default.to_string()]),
    };
    if let Some(bad) = names
        .iter()
        .find(|name| http::HeaderName::from_bytes(name.as_bytes()).is_err())
    {
        return Err(invalid(flag, format!("{bad:?} is not a valid header name")));
    }
    Ok(names)
}

/// upstream takes one CIDR, or two of different IP families (dual stack).
fn check_service_ranges(text: &str) -> Result<(), String> {
    let ranges: Vec<&str> = text.split(',').map(str::trim).collect();
    if ranges.len() > 2 {
        return Err("at most two ranges (one per IP family) may be given".into());
    }
    let mut families = Vec::new();
    for range in &ranges {
        let (address, prefix) = range
            .split_once('/')
            .ok_or_else(|| format!("{range:?} is not a CIDR"))?;
        let address: IpAddr = address
            .parse()
            .map_err(|_| format!("{range:?} is not a CIDR"))?;
        let bits = if address.is_ipv4() { 32 } else { 128 };
        match prefix.parse::<u8>() {
            Ok(length) if length <= bits => {}
            _ => return Err(format!("{range:?} is not a CIDR")),
        }
        families.push(address.is_ipv4());
    }
    if families.len() == 2 && families[0] == families[1] {
        return Err("two ranges must be of different IP families".into());
    }
    Ok(())
}

fn positive_duration(flag: &'static str, text: &str) -> Result<Duration, ConfigError> {
    match duration::parse(text) {
        Ok(d) if !d.is_zero() => Ok(d),
        Ok(_) => Err(invalid(flag, "must be greater than zero")),
        Err(message) => Err(invalid(flag, message)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    fn flags(args: &[&str]) -> RawConfig {
        RawConfig::try_parse_from(std::iter::once("kube-apiserver").chain(args.iter().copied()))
            .expect("test flags parse")
    }

    fn file(yaml: &str) -> RawConfig {
        serde_yaml_ng::from_str(yaml).expect("test yaml parses")
    }

    #[test]
    fn defaults_match_upstream_where_upstream_has_the_flag() {
        let settings = Settings::resolve(RawConfig::default()).expect("defaults resolve");
        assert_eq!(settings.secure_port, 6443);
        assert_eq!(settings.bind_address, IpAddr::from([127, 0, 0, 1]));
        assert_eq!(settings.service_cluster_ip_range, "10.96.0.0/12");
        assert_eq!(settings.event_ttl, Duration::from_secs(3600));
        assert_eq!(settings.request_timeout, Duration::from_secs(60));
        assert!(!settings.anonymous_auth);
        assert_eq!(settings.data_dir, PathBuf::from("data"));
        assert_eq!(
            settings.storage,
            StorageBackend::Embedded {
                dir: PathBuf::from("data/store")
            }
        );
        assert_eq!(settings.serving_certificate, ServingCertificate::Generated);
    }

    #[test]
    fn file_values_apply_when_no_flag_is_given() {
        let raw = flags(&[]).over(file(
            "secure-port: 7443\nevent-ttl: 5m\nanonymous-auth: true\ndata-dir: /tmp/x\n",
        ));
        let settings = Settings::resolve(raw).expect("resolves");
        assert_eq!(settings.secure_port, 7443);
        assert_eq!(settings.event_ttl, Duration::from_secs(300));
        assert!(settings.anonymous_auth);
        assert_eq!(settings.data_dir, PathBuf::from("/tmp/x"));
    }

    #[test]
    fn flags_win_over_the_file() {
        let raw = flags(&["--secure-port", "8443", "--anonymous-auth=false"]).over(file(
            "secure-port: 7443\nanonymous-auth: true\nbind-address: 127.0.0.2\n",
        ));
        let settings = Settings::resolve(raw).expect("resolves");
        assert_eq!(settings.secure_port, 8443);
        assert!(!settings.anonymous_auth);
        assert_eq!(settings.bind_address, IpAddr::from([127, 0, 0, 2]));
    }

    #[test]
    fn a_repeated_flag_takes_its_last_value() {
        let raw = flags(&["--secure-port=1", "--secure-port=2"]);
        assert_eq!(raw.secure_port, Some(2));
    }

    #[test]
    fn a_bare_bool_flag_means_true() {
        assert_eq!(flags(&["--anonymous-auth"]).anonymous_auth, Some(true));
        assert_eq!(
            flags(&["--anonymous-auth=false"]).anonymous_auth,
            Some(false)
        );
    }

    #[test]
    fn etcd_servers_take_a_comma_list_in_flags_and_either_form_in_the_file() {
        let expected = Some(vec![
            "http://a:2379".to_string(),
            "http://b:2379".to_string(),
        ]);
        assert_eq!(
            flags(&["--etcd-servers=http://a:2379,http://b:2379"]).etcd_servers,
            expected
        );
        assert_eq!(
            file("etcd-servers: http://a:2379,http://b:2379").etcd_servers,
            expected
        );
        assert_eq!(
            file("etcd-servers: [http://a:2379, http://b:2379]").etcd_servers,
            expected
        );
        let settings = Settings::resolve(file("etcd-servers: [http://a:2379]")).expect("resolves");
        assert_eq!(
            settings.storage,
            StorageBackend::Etcd {
                endpoints: vec!["http://a:2379".into()],
                prefix: "/registry".into()
            }
        );
    }

    #[test]
    fn unknown_file_keys_are_refused() {
        assert!(serde_yaml_ng::from_str::<RawConfig>("secure_port: 1").is_err());
    }

    #[test]
    fn bad_values_name_their_flag() {
        let cases = [
            ("secure-port: 0", "secure-port"),
            ("event-ttl: 1d", "event-ttl"),
            (
                "service-cluster-ip-range: 10.0.0.0/33",
                "service-cluster-ip-range",
            ),
            (
                "service-cluster-ip-range: 10.0.0.0/16,10.1.0.0/16",
                "service-cluster-ip-range",
            ),
            ("tls-cert-file: a.crt", "tls-private-key-file"),
            ("proxy-client-cert-file: a.crt", "proxy-client-key-file"),
            ("proxy-client-key-file: a.key", "proxy-client-cert-file"),
            (
                "requestheader-username-headers: X Remote",
                "requestheader-username-headers",
            ),
            ("etcd-servers: [a:2379]", "etcd-servers"),
        ];
        for (yaml, flag) in cases {
            match Settings::resolve(file(yaml)) {
                Err(ConfigError::Invalid { flag: named, .. }) => assert_eq!(named, flag, "{yaml}"),
                other => panic!("{yaml}: expected an error for --{flag}, got {other:?}"),
            }
        }
    }

    #[test]
    fn dual_stack_service_ranges_are_accepted() {
        let raw = file("service-cluster-ip-range: 10.96.0.0/12,fd00::/108");
        assert!(Settings::resolve(raw).is_ok());
    }

    #[test]
    fn request_header_defaults_trust_the_generated_front_proxy() {
        let settings = Settings::resolve(RawConfig::default()).expect("defaults resolve");
        assert_eq!(
            settings.proxy_client_certificate,
            ProxyClientCertificate::Generated
        );
        let header = settings.request_header;
        assert_eq!(header.client_ca_file, None);
        assert_eq!(header.allowed_names, ["front-proxy-client"]);
        assert_eq!(header.username_headers, ["X-Remote-User"]);
        assert_eq!(header.group_headers, ["X-Remote-Group"]);
        assert_eq!(header.extra_headers_prefixes, ["X-Remote-Extra-"]);
        assert!(header.uid_headers.is_empty());
    }

    #[test]
    fn a_given_requestheader_ca_allows_any_name_unless_names_are_given() {
        let given = Settings::resolve(file("requestheader-client-ca-file: proxy-ca.crt"))
            .expect("resolves");
        assert_eq!(
            given.request_header.client_ca_file,
            Some(PathBuf::from("proxy-ca.crt"))
        );
        assert!(given.request_header.allowed_names.is_empty());

        let raw = flags(&[
            "--requestheader-client-ca-file=proxy-ca.crt",
            "--requestheader-allowed-names=a, b",
        ]);
        let named = Settings::resolve(raw).expect("resolves");
        assert_eq!(named.request_header.allowed_names, ["a", "b"]);

        let raw = flags(&["--requestheader-allowed-names="]);
        let any = Settings::resolve(raw).expect("resolves");
        assert!(any.request_header.allowed_names.is_empty());
    }

    #[test]
    fn request_header_lists_take_commas_in_flags_and_either_form_in_the_file() {
        let raw = flags(&[
            "--requestheader-username-headers=X-User,X-Login",
            "--requestheader-uid-headers=X-Remote-Uid",
        ])
        .over(file(
            "requestheader-group-headers: [X-Groups, X-Teams]\nrequestheader-extra-headers-prefix: X-A-,X-B-\nrequestheader-username-headers: X-Ignored\n",
        ));
        let header = Settings::resolve(raw).expect("resolves").request_header;
        assert_eq!(header.username_headers, ["X-User", "X-Login"]);
        assert_eq!(header.uid_headers, ["X-Remote-Uid"]);
        assert_eq!(header.group_headers, ["X-Groups", "X-Teams"]);
        assert_eq!(header.extra_headers_prefixes, ["X-A-", "X-B-"]);
    }

    #[test]
    fn a_repeated_list_flag_adds_up_as_upstreams_do() {
        let raw = flags(&[
            "--requestheader-username-headers=X-A",
            "--requestheader-username-headers=X-B,X-C",
        ]);
        let header = Settings::resolve(raw).expect("resolves").request_header;
        assert_eq!(header.username_headers, ["X-A", "X-B", "X-C"]);
    }

    #[test]
    fn proxy_client_files_come_together() {
        let raw = flags(&[
            "--proxy-client-cert-file=p.crt",
            "--proxy-client-key-file=p.key",
        ]);
        assert_eq!(
            Settings::resolve(raw)
                .expect("resolves")
                .proxy_client_certificate,
            ProxyClientCertificate::Files {
                cert: PathBuf::from("p.crt"),
                key: PathBuf::from("p.key")
            }
        );
    }
}
