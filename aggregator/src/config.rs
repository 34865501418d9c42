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

/// upstream takes `--etcd-servers` as a comma-separated list; in YAML a
/// list reads more naturally, so the file takes either.
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

/// The validated configuration the server runs with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    pub secure_port: u16,
    pub bind_address: IpAddr,
    pub storage: StorageBackend,
    pub serving_certificate: ServingCertificate,
    pub client_ca_file: Option<PathBuf>,
    pub token_auth_file: Option<PathBuf>,
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
}
