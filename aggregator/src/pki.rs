//! The server's own certificate authority and the certificates it signs,
//! kept under DATA_DIR/pki, and the admin kubeconfig that uses them.
//!
//! First start generates (ECDSA P-256, quick):
//! - `ca.crt`/`ca.key`: the CA that signs the rest and that client
//!   certificates are checked against;
//! - `apiserver.crt`/`apiserver.key`: the serving certificate for
//!   127.0.0.1, ::1, localhost, the in-cluster `kubernetes` names and the
//!   bind address (skipped when --tls-cert-file is given);
//! - `admin.crt`/`admin.key`: a client certificate for `kubernetes-admin`
//!   in `system:masters`, as kubeadm's admin.conf has;
//! - `front-proxy-ca.crt`/`front-proxy-ca.key`: a second CA, for front
//!   proxies only, kept apart from `ca.crt` as kubeadm keeps it: what it
//!   signs may name users in request headers but is never a user itself
//!   (skipped when both --proxy-client-cert-file and
//!   --requestheader-client-ca-file are given);
//! - `front-proxy-client.crt`/`front-proxy-client.key`: the client
//!   certificate (CN `front-proxy-client`) this server presents to
//!   aggregated API servers, signed by the front-proxy CA (skipped when
//!   --proxy-client-cert-file is given).
//!
//! Later starts read the same files, so clients keep trusting the server
//! across restarts. A leaf is reissued (by the same CA) only when it no
//! longer fits: it is about to expire, or the bind address is not among its
//! names. `admin.kubeconfig` is rewritten on every start because the port
//! may have changed.

use std::io::Write;
use std::net::IpAddr;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use base64::Engine;
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose, SanType,
};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use time::OffsetDateTime;

use crate::config::{ProxyClientCertificate, ServingCertificate, Settings, FRONT_PROXY_CLIENT};

/// The user and group of the generated admin certificate (kubeadm's names;
/// `system:masters` is the group upstream never rate-limits or denies).
pub const ADMIN_USER: &str = "kubernetes-admin";
pub const ADMIN_GROUP: &str = "system:masters";

/// How long generated certificates last: the CA ten years, leaves one,
/// as kubeadm does.
const CA_LIFETIME: time::Duration = time::Duration::days(3650);
const LEAF_LIFETIME: time::Duration = time::Duration::days(365);
/// A leaf this close to expiry is reissued at start.
const RENEW_BEFORE: time::Duration = time::Duration::days(30);
/// Certificates start an hour in the past so a client whose clock runs a
/// little behind still accepts them.
const CLOCK_SKEW: time::Duration = time::Duration::hours(1);

/// What the TLS listener, the front-proxy client and the published
/// authentication ConfigMap need from the PKI.
pub struct Pki {
    /// Our CA in PEM (`ca.crt`).
    pub ca_pem: String,
    /// The CAs whose client certificates name their holder (x509
    /// authentication), in PEM: our CA, then those of --client-ca-file.
    pub client_ca_pem: String,
    /// The serving certificate chain, leaf first.
    pub serving_chain: Vec<CertificateDer<'static>>,
    pub serving_key: PrivateKeyDer<'static>,
    /// The client certificate chain (leaf first) presented to aggregated
    /// API servers: --proxy-client-cert-file, else `front-proxy-client.crt`.
    pub proxy_client_chain: Vec<CertificateDer<'static>>,
    pub proxy_client_key: PrivateKeyDer<'static>,
    /// The CAs of front proxies (request-header authentication), in PEM:
    /// --requestheader-client-ca-file, else `front-proxy-ca.crt`.
    pub requestheader_ca_pem: String,
}

/// What can go wrong creating or reading the PKI files.
#[derive(Debug, thiserror::Error)]
pub enum PkiError {
    /// A file or directory could not be read or written.
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A file exists but does not hold what it should.
    #[error("{}: {message}", path.display())]
    BadFile { path: PathBuf, message: String },
    /// Key or certificate generation failed.
    #[error("generating certificates: {0}")]
    Generate(#[from] rcgen::Error),
    /// The kubeconfig could not be encoded.
    #[error("encoding the admin kubeconfig: {0}")]
    Kubeconfig(#[from] serde_yaml_ng::Error),
}

fn io_error(path: &Path) -> impl FnOnce(std::io::Error) -> PkiError + '_ {
    move |source| PkiError::Io {
        path: path.to_owned(),
        source,
    }
}

fn bad_file(path: &Path, message: impl Into<String>) -> PkiError {
    PkiError::BadFile {
        path: path.to_owned(),
        message: message.into(),
    }
}

/// Loads the PKI under DATA_DIR/pki, generating what is missing, and writes
/// DATA_DIR/admin.kubeconfig.
pub fn ensure(settings: &Settings) -> Result<Pki, PkiError> {
    let dir = settings.pki_dir();
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(&dir)
        .map_err(io_error(&dir))?;

    let ca = CaFiles::load_or_create(&dir, "ca", || ca_params("kube-apiserver-ca"))?;
    let issuer = ca.issuer()?;
    let admin = LeafFiles::new(&dir, "admin");
    let admin_pems = admin.load_or_issue(&issuer, ca.is_new, &[], admin_params)?;

    let (serving_chain, serving_key, extra_trust) = match &settings.serving_certificate {
        ServingCertificate::Generated => {
            let required = required_serving_ips(settings.bind_address);
            let serving = LeafFiles::new(&dir, "apiserver");
            let (cert_pem, key_pem) =
                serving
                    .load_or_issue(&issuer, ca.is_new, &required, || serving_params(&required))?;
            let chain = parse_chain(&serving.cert, cert_pem.as_bytes())?;
            let key = parse_key(&serving.key, key_pem.as_bytes())?;
            (chain, key, None)
        }
        ServingCertificate::Files { cert, key } => {
            let chain = parse_chain(cert, &std::fs::read(cert).map_err(io_error(cert))?)?;
            let key = parse_key(key, &std::fs::read(key).map_err(io_error(key))?)?;
            // The last certificate of a given chain is the nearest thing to
            // its root we have; a kubeconfig that trusts it works for the
            // usual self-signed or CA-plus-leaf files.
            let top = chain.last().map(|der| der_to_pem(der));
            (chain, key, top)
        }
    };

    let mut trusted_pem = ca.cert_pem.clone();
    if let Some(extra) = extra_trust {
        trusted_pem.push_str(&extra);
    }
    let kubeconfig = admin_kubeconfig(
        &kubeconfig_server(settings.bind_address, settings.secure_port),
        &trusted_pem,
        &admin_pems.0,
        &admin_pems.1,
    )?;
    write_private(&settings.admin_kubeconfig(), kubeconfig.as_bytes())?;

    let mut client_ca_pem = ca.cert_pem.clone();
    if let Some(path) = &settings.client_ca_file {
        client_ca_pem.push_str(&pem_bundle(&read_certificates(path)?));
    }
    let front_proxy = front_proxy(settings, &dir)?;
    Ok(Pki {
        ca_pem: ca.cert_pem,
        client_ca_pem,
        serving_chain,
        serving_key,
        proxy_client_chain: front_proxy.client_chain,
        proxy_client_key: front_proxy.client_key,
        requestheader_ca_pem: front_proxy.ca_pem,
    })
}

/// The front-proxy side of the PKI: what this server presents as a front
/// proxy, and what it trusts front proxies by.
struct FrontProxy {
    client_chain: Vec<CertificateDer<'static>>,
    client_key: PrivateKeyDer<'static>,
    ca_pem: String,
}

/// Reads the given front-proxy files, generating the front-proxy CA and
/// client certificate for whatever was not given.
fn front_proxy(settings: &Settings, dir: &Path) -> Result<FrontProxy, PkiError> {
    // Loaded on first need: with both files given there is no front-proxy CA.
    let mut generated_ca = None;
    let (client_chain, client_key) = match &settings.proxy_client_certificate {
        ProxyClientCertificate::Files { cert, key } => (
            read_certificates(cert)?,
            parse_key(key, &std::fs::read(key).map_err(io_error(key))?)?,
        ),
        ProxyClientCertificate::Generated => {
            let ca = front_proxy_ca(&mut generated_ca, dir)?;
            let client = LeafFiles::new(dir, "front-proxy-client");
            let (cert_pem, key_pem) =
                client.load_or_issue(&ca.issuer()?, ca.is_new, &[], front_proxy_client_params)?;
            (
                parse_chain(&client.cert, cert_pem.as_bytes())?,
                parse_key(&client.key, key_pem.as_bytes())?,
            )
        }
    };
    let ca_pem = match &settings.request_header.client_ca_file {
        Some(path) => pem_bundle(&read_certificates(path)?),
        None => front_proxy_ca(&mut generated_ca, dir)?.cert_pem.clone(),
    };
    Ok(FrontProxy {
        client_chain,
        client_key,
        ca_pem,
    })
}

/// The front-proxy CA, loaded (or generated) into `slot` on first use.
fn front_proxy_ca<'a>(slot: &'a mut Option<CaFiles>, dir: &Path) -> Result<&'a CaFiles, PkiError> {
    let ca = match slot.take() {
        Some(ca) => ca,
        None => CaFiles::load_or_create(dir, "front-proxy-ca", || ca_params("front-proxy-ca"))?,
    };
    Ok(slot.insert(ca))
}

/// The CA's files; `is_new` when this start generated them, so every leaf
/// must be reissued under the new CA.
struct CaFiles {
    cert_pem: String,
    key_pem: String,
    is_new: bool,
}

impl CaFiles {
    /// `NAME.crt`/`NAME.key` under `dir`, generated from `params` when
    /// neither exists.
    fn load_or_create(
        dir: &Path,
        name: &str,
        params: impl FnOnce() -> CertificateParams,
    ) -> Result<CaFiles, PkiError> {
        let cert_path = dir.join(format!("{name}.crt"));
        let key_path = dir.join(format!("{name}.key"));
        match (read_if_exists(&cert_path)?, read_if_exists(&key_path)?) {
            (Some(cert_pem), Some(key_pem)) => Ok(CaFiles {
                cert_pem,
                key_pem,
                is_new: false,
            }),
            (None, None) => {
                let key = KeyPair::generate()?;
                let cert = params().self_signed(&key)?;
                let (cert_pem, key_pem) = (cert.pem(), key.serialize_pem());
                write_private(&key_path, key_pem.as_bytes())?;
                write_private(&cert_path, cert_pem.as_bytes())?;
                tracing::info!(cert = %cert_path.display(), "generated a new certificate authority");
                Ok(CaFiles {
                    cert_pem,
                    key_pem,
                    is_new: true,
                })
            }
            // Regenerating one half would silently invalidate every client
            // that trusts the CA; better to stop and let a person decide.
            (Some(_), None) => Err(bad_file(
                &key_path,
                format!("missing, though {name}.crt exists"),
            )),
            (None, Some(_)) => Err(bad_file(
                &cert_path,
                format!("missing, though {name}.key exists"),
            )),
        }
    }

    fn issuer(&self) -> Result<Issuer<'static, KeyPair>, PkiError> {
        let key = KeyPair::from_pem(&self.key_pem)?;
        Ok(Issuer::from_ca_cert_pem(&self.cert_pem, key)?)
    }
}

/// A leaf certificate's two files.
struct LeafFiles {
    cert: PathBuf,
    key: PathBuf,
}

impl LeafFiles {
    fn new(dir: &Path, name: &str) -> LeafFiles {
        LeafFiles {
            cert: dir.join(format!("{name}.crt")),
            key: dir.join(format!("{name}.key")),
        }
    }

    /// The leaf's (certificate, key) PEMs: the files on disk when they
    /// still fit, else a fresh pair signed by `issuer`.
    fn load_or_issue(
        &self,
        issuer: &Issuer<'_, KeyPair>,
        ca_is_new: bool,
        required_ips: &[IpAddr],
        params: impl FnOnce() -> CertificateParams,
    ) -> Result<(String, String), PkiError> {
        if !ca_is_new {
            if let (Some(cert_pem), Some(key_pem)) =
                (read_if_exists(&self.cert)?, read_if_exists(&self.key)?)
            {
                if still_fits(&self.cert, &cert_pem, required_ips)? {
                    return Ok((cert_pem, key_pem));
                }
                tracing::info!(cert = %self.cert.display(), "reissuing a certificate that no longer fits");
            }
        }
        let key = KeyPair::generate()?;
        let cert = params().signed_by(&key, issuer)?;
        let (cert_pem, key_pem) = (cert.pem(), key.serialize_pem());
        write_private(&self.key, key_pem.as_bytes())?;
        write_private(&self.cert, cert_pem.as_bytes())?;
        Ok((cert_pem, key_pem))
    }
}

/// Whether a stored leaf is valid for a while yet and names every required IP.
fn still_fits(path: &Path, pem: &str, required_ips: &[IpAddr]) -> Result<bool, PkiError> {
    let der = CertificateDer::from_pem_slice(pem.as_bytes())
        .map_err(|e| bad_file(path, format!("not a PEM certificate: {e}")))?;
    let (_, cert) = x509_parser::parse_x509_certificate(&der)
        .map_err(|e| bad_file(path, format!("not an X.509 certificate: {e}")))?;
    let renew_at = OffsetDateTime::now_utc() + RENEW_BEFORE;
    if cert.validity().not_after.timestamp() < renew_at.unix_timestamp() {
        return Ok(false);
    }
    let named: Vec<IpAddr> = match cert.subject_alternative_name() {
        Ok(Some(san)) => san
            .value
            .general_names
            .iter()
            .filter_map(|name| match name {
                x509_parser::extensions::GeneralName::IPAddress(bytes) => ip_from_bytes(bytes),
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    };
    Ok(required_ips.iter().all(|ip| named.contains(ip)))
}

fn ip_from_bytes(bytes: &[u8]) -> Option<IpAddr> {
    match bytes.len() {
        4 => <[u8; 4]>::try_from(bytes).ok().map(IpAddr::from),
        16 => <[u8; 16]>::try_from(bytes).ok().map(IpAddr::from),
        _ => None,
    }
}

fn validity(params: &mut CertificateParams, lifetime: time::Duration) {
    let now = OffsetDateTime::now_utc();
    params.not_before = now - CLOCK_SKEW;
    params.not_after = now + lifetime;
}

fn ca_params(common_name: &str) -> CertificateParams {
    let mut params = CertificateParams::default();
    let mut name = DistinguishedName::new();
    // A timestamp in the name tells CAs of different data dirs apart in
    // a client's error messages, as upstream's self-signed CAs do.
    let name_suffix = OffsetDateTime::now_utc().unix_timestamp();
    name.push(DnType::CommonName, format!("{common_name}@{name_suffix}"));
    params.distinguished_name = name;
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    validity(&mut params, CA_LIFETIME);
    params
}

/// The IPs the generated serving certificate must name.
fn required_serving_ips(bind_address: IpAddr) -> Vec<IpAddr> {
    let mut ips = vec![
        IpAddr::from(std::net::Ipv4Addr::LOCALHOST),
        IpAddr::from(std::net::Ipv6Addr::LOCALHOST),
    ];
    if !bind_address.is_unspecified() && !ips.contains(&bind_address) {
        ips.push(bind_address);
    }
    ips
}

fn serving_params(ips: &[IpAddr]) -> CertificateParams {
    let mut params = CertificateParams::default();
    let mut name = DistinguishedName::new();
    name.push(DnType::CommonName, "kube-apiserver");
    params.distinguished_name = name;
    // The in-cluster names are those of the `kubernetes` Service, so pods
    // reaching the API through it see a matching certificate.
    let dns_names = [
        "localhost",
        "kubernetes",
        "kubernetes.default",
        "kubernetes.default.svc",
        "kubernetes.default.svc.cluster.local",
    ];
    params.subject_alt_names = dns_names
        .iter()
        .filter_map(|dns| dns.to_string().try_into().ok().map(SanType::DnsName))
        .chain(ips.iter().map(|ip| SanType::IpAddress(*ip)))
        .collect();
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    params.use_authority_key_identifier_extension = true;
    validity(&mut params, LEAF_LIFETIME);
    params
}

fn admin_params() -> CertificateParams {
    let mut params = CertificateParams::default();
    let mut name = DistinguishedName::new();
    name.push(DnType::CommonName, ADMIN_USER);
    name.push(DnType::OrganizationName, ADMIN_GROUP);
    params.distinguished_name = name;
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    params.use_authority_key_identifier_extension = true;
    validity(&mut params, LEAF_LIFETIME);
    params
}

/// kubeadm's front-proxy client: a name and nothing else (no groups), for
/// client authentication only.
fn front_proxy_client_params() -> CertificateParams {
    let mut params = CertificateParams::default();
    let mut name = DistinguishedName::new();
    name.push(DnType::CommonName, FRONT_PROXY_CLIENT);
    params.distinguished_name = name;
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    params.use_authority_key_identifier_extension = true;
    validity(&mut params, LEAF_LIFETIME);
    params
}

/// The URL the admin kubeconfig points at: loopback when the server listens
/// on every address, else the bind address itself.
fn kubeconfig_server(bind_address: IpAddr, port: u16) -> String {
    match bind_address {
        IpAddr::V4(v4) if v4.is_unspecified() || v4.is_loopback() => {
            format!("https://127.0.0.1:{port}")
        }
        IpAddr::V6(v6) if v6.is_unspecified() => format!("https://127.0.0.1:{port}"),
        IpAddr::V4(v4) => format!("https://{v4}:{port}"),
        IpAddr::V6(v6) => format!("https://[{v6}]:{port}"),
    }
}

fn admin_kubeconfig(
    server: &str,
    ca_pem: &str,
    cert_pem: &str,
    key_pem: &str,
) -> Result<String, PkiError> {
    let b64 = |text: &str| base64::engine::general_purpose::STANDARD.encode(text);
    let cluster = "kube-apiserver";
    let context = format!("{ADMIN_USER}@{cluster}");
    let config = serde_json::json!({
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{
            "name": cluster,
            "cluster": { "server": server, "certificate-authority-data": b64(ca_pem) },
        }],
        "users": [{
            "name": ADMIN_USER,
            "user": {
                "client-certificate-data": b64(cert_pem),
                "client-key-data": b64(key_pem),
            },
        }],
        "contexts": [{
            "name": context,
            "context": { "cluster": cluster, "user": ADMIN_USER },
        }],
        "current-context": context,
        "preferences": {},
    });
    Ok(serde_yaml_ng::to_string(&config)?)
}

fn read_if_exists(path: &Path) -> Result<Option<String>, PkiError> {
    match std::fs::read_to_string(path) {
        Ok(text) => Ok(Some(text)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(io_error(path)(e)),
    }
}

/// Writes a file readable by its owner only, atomically (temp file and
/// rename), so a crash never leaves half a key and a key is never briefly
/// world-readable.
fn write_private(path: &Path, contents: &[u8]) -> Result<(), PkiError> {
    let temp = path.with_extension("tmp");
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&temp)
        .map_err(io_error(&temp))?;
    file.write_all(contents).map_err(io_error(&temp))?;
    file.sync_all().map_err(io_error(&temp))?;
    std::fs::rename(&temp, path).map_err(io_error(path))
}

fn parse_chain(path: &Path, pem: &[u8]) -> Result<Vec<CertificateDer<'static>>, PkiError> {
    let chain = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| bad_file(path, format!("reading PEM certificates: {e}")))?;
    if chain.is_empty() {
        return Err(bad_file(path, "holds no PEM certificate"));
    }
    Ok(chain)
}

fn parse_key(path: &Path, pem: &[u8]) -> Result<PrivateKeyDer<'static>, PkiError> {
    PrivateKeyDer::from_pem_slice(pem)
        .map_err(|e| bad_file(path, format!("reading a PEM private key: {e}")))
}

/// Certificates in PEM, one block after another, in the layout Go writes
/// (64-column base64, `\n` line ends).
pub fn pem_bundle(certificates: &[CertificateDer<'_>]) -> String {
    certificates.iter().map(der_to_pem).collect()
}

fn der_to_pem(der: &CertificateDer<'_>) -> String {
    let body = base64::engine::general_purpose::STANDARD.encode(der.as_ref());
    let mut pem = String::from("-----BEGIN CERTIFICATE-----\n");
    for line in body.as_bytes().chunks(64) {
        pem.push_str(&String::from_utf8_lossy(line));
        pem.push('\n');
    }
    pem.push_str("-----END CERTIFICATE-----\n");
    pem
}

/// Reads every certificate of a PEM bundle (used for --client-ca-file).
pub fn read_certificates(path: &Path) -> Result<Vec<CertificateDer<'static>>, PkiError> {
    parse_chain(path, &std::fs::read(path).map_err(io_error(path))?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::RawConfig;

    fn settings(dir: &Path, bind: &str) -> Settings {
        Settings::resolve(RawConfig {
            data_dir: Some(dir.to_owned()),
            bind_address: Some(bind.parse().expect("test address")),
            ..RawConfig::default()
        })
        .expect("test settings resolve")
    }

    #[test]
    fn second_start_reuses_every_file() {
        let dir = tempfile::tempdir().expect("temp dir");
        let first = ensure(&settings(dir.path(), "127.0.0.1")).expect("first start");
        let second = ensure(&settings(dir.path(), "127.0.0.1")).expect("second start");
        assert_eq!(first.ca_pem, second.ca_pem);
        assert_eq!(first.serving_chain, second.serving_chain);
    }

    #[test]
    fn a_new_bind_address_reissues_only_the_serving_certificate() {
        let dir = tempfile::tempdir().expect("temp dir");
        let first = ensure(&settings(dir.path(), "127.0.0.1")).expect("first start");
        let admin = std::fs::read(dir.path().join("pki/admin.crt")).expect("admin cert");
        let second = ensure(&settings(dir.path(), "127.0.0.5")).expect("second start");
        assert_eq!(first.ca_pem, second.ca_pem);
        assert_ne!(first.serving_chain, second.serving_chain);
        let admin_again = std::fs::read(dir.path().join("pki/admin.crt")).expect("admin cert");
        assert_eq!(admin, admin_again);
    }

    #[test]
    fn kubeconfig_points_at_loopback_for_wildcard_binds() {
        assert_eq!(
            kubeconfig_server("0.0.0.0".parse().expect("ip"), 6443),
            "https://127.0.0.1:6443"
        );
        assert_eq!(
            kubeconfig_server("::1".parse().expect("ip"), 1),
            "https://[::1]:1"
        );
    }

    #[test]
    fn the_front_proxy_gets_its_own_ca_and_client_certificate() {
        let dir = tempfile::tempdir().expect("temp dir");
        let first = ensure(&settings(dir.path(), "127.0.0.1")).expect("first start");
        let ca = std::fs::read_to_string(dir.path().join("pki/front-proxy-ca.crt")).expect("CA");
        assert_eq!(first.requestheader_ca_pem, ca);
        assert_ne!(first.requestheader_ca_pem, first.ca_pem);
        assert!(dir.path().join("pki/front-proxy-ca.key").exists());
        let client = read_certificates(&dir.path().join("pki/front-proxy-client.crt"))
            .expect("client certificate");
        assert_eq!(first.proxy_client_chain, client);
        assert!(dir.path().join("pki/front-proxy-client.key").exists());

        let second = ensure(&settings(dir.path(), "127.0.0.1")).expect("second start");
        assert_eq!(second.requestheader_ca_pem, first.requestheader_ca_pem);
        assert_eq!(second.proxy_client_chain, first.proxy_client_chain);
    }

    #[test]
    fn given_front_proxy_files_generate_nothing() {
        let dir = tempfile::tempdir().expect("temp dir");
        let generated = ensure(&settings(dir.path(), "127.0.0.1")).expect("first start");
        let elsewhere = tempfile::tempdir().expect("temp dir");
        let pki = dir.path().join("pki");
        let given = Settings::resolve(RawConfig {
            data_dir: Some(elsewhere.path().to_owned()),
            proxy_client_cert_file: Some(pki.join("front-proxy-client.crt")),
            proxy_client_key_file: Some(pki.join("front-proxy-client.key")),
            requestheader_client_ca_file: Some(pki.join("front-proxy-ca.crt")),
            ..RawConfig::default()
        })
        .expect("settings");
        let loaded = ensure(&given).expect("start with given files");
        assert_eq!(loaded.proxy_client_chain, generated.proxy_client_chain);
        let ca = read_certificates(&pki.join("front-proxy-ca.crt")).expect("CA");
        assert_eq!(loaded.requestheader_ca_pem, pem_bundle(&ca));
        assert!(!elsewhere.path().join("pki/front-proxy-ca.crt").exists());
        assert!(!elsewhere.path().join("pki/front-proxy-client.crt").exists());
    }
}
