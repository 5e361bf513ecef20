//! The server's TLS identity, shared by every TLS listener of `paas server` (the rendezvous for
//! attached one-off dynos, and the API over HTTPS): either the certificate and key the operator
//! gives (`--tls-cert` / `--tls-key`, PEM), or a local CA made on first start.
//!
//! The local CA lives in `<data-dir>/tls/`: `ca.pem` (what clients trust: `paas login` records it,
//! the heroku CLI takes it in `NODE_EXTRA_CA_CERTS`), `ca-key.pem`, and a server certificate it
//! signed, `server.pem` / `server-key.pem`, for `127.0.0.1`, `::1`, `localhost`, the `--domain` and
//! `*.<domain>` (plus any other host asked for). Keys are written mode 0600. A restart reuses them;
//! the server certificate is issued again (by the same CA) when the hosts asked for change.
//!
//! ```text
//! ServerTls::load_or_create(data_dir, &hosts, cert, key) -> ServerTls
//!   .server_config() -> Arc<rustls::ServerConfig>      for tokio_rustls::TlsAcceptor
//!   .ca_pem() -> Option<&Path>                          the local CA (None with --tls-cert)
//! ```

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::start_error::StartError;
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

/// The common name of the local CA.
const CA_NAME: &str = "paas local CA";

/// The server's certificate chain and key, ready for rustls.
#[derive(Clone)]
pub struct ServerTls {
    config: Arc<rustls::ServerConfig>,
    certified: Arc<rustls::sign::CertifiedKey>,
    ca_pem: Option<PathBuf>,
}

impl std::fmt::Debug for ServerTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerTls").field("ca_pem", &self.ca_pem).finish_non_exhaustive()
    }
}

impl ServerTls {
    /// With `cert` and `key` (both or neither): loads those PEM files. Without: the local CA in
    /// `<data_dir>/tls/`, made on first start, and its server certificate for `hosts` plus
    /// `127.0.0.1`, `::1` and `localhost`.
    pub fn load_or_create(
        data_dir: &Path,
        hosts: &[String],
        cert: Option<&Path>,
        key: Option<&Path>,
    ) -> Result<ServerTls, StartError> {
        match (cert, key) {
            (Some(cert), Some(key)) => {
                let (config, certified) = load_pem(cert, key)?;
                Ok(ServerTls { config, certified, ca_pem: None })
            }
            (Some(_), None) => Err(StartError::Config(
                "--tls-cert was given without --tls-key: give both, or neither to use the local CA".into(),
            )),
            (None, Some(_)) => Err(StartError::Config(
                "--tls-key was given without --tls-cert: give both, or neither to use the local CA".into(),
            )),
            (None, None) => {
                let dir = data_dir.join("tls");
                let ca_pem = local_ca(&dir, hosts)?;
                let (config, certified) = load_pem(&dir.join("server.pem"), &dir.join("server-key.pem"))?;
                Ok(ServerTls { config, certified, ca_pem: Some(ca_pem) })
            }
        }
    }

    /// The rustls configuration of a TLS listener (no client certificates).
    pub fn server_config(&self) -> Arc<rustls::ServerConfig> {
        self.config.clone()
    }

    /// The server's certificate and key, for a listener that chooses among several (the
    /// router's HTTPS listener serves it to every name without a certificate of its own).
    pub fn certified_key(&self) -> Arc<rustls::sign::CertifiedKey> {
        self.certified.clone()
    }

    /// The local CA's certificate (`<data-dir>/tls/ca.pem`) that clients trust; `None` when the
    /// operator gave a certificate (clients then use their system's roots).
    pub fn ca_pem(&self) -> Option<&Path> {
        self.ca_pem.as_deref()
    }
}

/// The hosts a local server certificate is always valid for, then `extra` (deduplicated).
fn all_hosts(extra: &[String]) -> Vec<String> {
    let mut hosts: Vec<String> = ["127.0.0.1", "::1", "localhost"].map(String::from).to_vec();
    for host in extra {
        let host = host.trim().trim_end_matches('.').to_ascii_lowercase();
        if !host.is_empty() && !hosts.contains(&host) {
            hosts.push(host);
        }
    }
    hosts
}

/// The hosts a `--domain` needs: the domain and `*.<domain>` (an IP address has no wildcard).
pub fn domain_hosts(domain: &str) -> Vec<String> {
    if domain.parse::<std::net::IpAddr>().is_ok() {
        vec![domain.to_string()]
    } else {
        vec![domain.to_string(), format!("*.{domain}")]
    }
}

/// Makes (or reuses) the CA and a server certificate for `hosts` in `dir`; answers `ca.pem`'s path.
fn local_ca(dir: &Path, hosts: &[String]) -> Result<PathBuf, StartError> {
    std::fs::create_dir_all(dir).map_err(StartError::file(|| format!("cannot create {}", dir.display())))?;
    let (ca_pem, ca_key_pem) = (dir.join("ca.pem"), dir.join("ca-key.pem"));
    let ca_key = if ca_pem.exists() && ca_key_pem.exists() {
        let pem = read(&ca_key_pem)?;
        KeyPair::from_pem(&pem).map_err(StartError::invalid(|| {
            format!("{} is not a private key in PEM; remove {} to make a new CA", ca_key_pem.display(), dir.display())
        }))?
    } else {
        let key = KeyPair::generate().map_err(StartError::step("cannot generate the CA's key"))?;
        let cert = ca_params().self_signed(&key).map_err(StartError::step("cannot make the CA's certificate"))?;
        write(&ca_key_pem, &key.serialize_pem(), 0o600)?;
        write(&ca_pem, &cert.pem(), 0o644)?;
        // A new CA: any server certificate left over was not signed by it.
        let _ = std::fs::remove_file(dir.join("server.hosts"));
        key
    };
    let hosts = all_hosts(hosts);
    let listed = hosts.join("\n") + "\n";
    let (cert_path, key_path, hosts_path) = (dir.join("server.pem"), dir.join("server-key.pem"), dir.join("server.hosts"));
    let current = std::fs::read_to_string(&hosts_path).ok();
    if current.as_deref() != Some(listed.as_str()) || !cert_path.exists() || !key_path.exists() {
        let mut params = CertificateParams::new(hosts.clone())
            .map_err(StartError::invalid(|| "invalid host name for the server certificate".to_string()))?;
        params.distinguished_name = DistinguishedName::new();
        params.distinguished_name.push(DnType::CommonName, hosts[0].clone());
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature, KeyUsagePurpose::KeyEncipherment];
        params.use_authority_key_identifier_extension = true;
        set_validity(&mut params);
        let key = KeyPair::generate().map_err(StartError::step("cannot generate the server's key"))?;
        let issuer = Issuer::new(ca_params(), &ca_key);
        let cert = params.signed_by(&key, &issuer).map_err(StartError::step("cannot sign the server certificate"))?;
        write(&key_path, &key.serialize_pem(), 0o600)?;
        write(&cert_path, &(cert.pem() + &read(&ca_pem)?), 0o644)?;
        write(&hosts_path, &listed, 0o644)?;
    }
    Ok(ca_pem)
}

/// The CA's parameters: the same every time, so a server certificate can be issued again with the
/// stored key alone.
fn ca_params() -> CertificateParams {
    let mut params = CertificateParams::default();
    params.distinguished_name = DistinguishedName::new();
    params.distinguished_name.push(DnType::CommonName, CA_NAME);
    params.distinguished_name.push(DnType::OrganizationName, "paas");
    params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign, KeyUsagePurpose::DigitalSignature];
    set_validity(&mut params);
    params
}

/// Valid from the start of last year (clock skew) to ten years on.
fn set_validity(params: &mut CertificateParams) {
    use chrono::Datelike;
    let year = chrono::Utc::now().year();
    params.not_before = rcgen::date_time_ymd(year - 1, 1, 1);
    params.not_after = rcgen::date_time_ymd(year + 10, 1, 1);
}

/// A rustls server configuration from a PEM certificate chain and a PEM private key, and the
/// certificate and key themselves.
fn load_pem(cert: &Path, key: &Path) -> Result<(Arc<rustls::ServerConfig>, Arc<rustls::sign::CertifiedKey>), StartError> {
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
        .map_err(StartError::invalid(|| format!("cannot read the TLS certificate {}", cert.display())))?
        .collect::<Result<_, _>>()
        .map_err(StartError::invalid(|| format!("{} is not a PEM certificate chain", cert.display())))?;
    if chain.is_empty() {
        let what = format!("{} holds no certificate (expected -----BEGIN CERTIFICATE-----)", cert.display());
        return Err(StartError::Invalid { what, source: None });
    }
    let private = PrivateKeyDer::from_pem_file(key)
        .map_err(StartError::invalid(|| format!("cannot read a PEM private key from {}", key.display())))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mismatch = || format!("the key {} does not go with the certificate {}", key.display(), cert.display());
    let certified =
        rustls::sign::CertifiedKey::from_der(chain.clone(), private.clone_key(), &provider).map_err(StartError::invalid(mismatch))?;
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(StartError::step("cannot set up TLS"))?
        .with_no_client_auth()
        .with_single_cert(chain, private)
        .map_err(StartError::invalid(mismatch))?;
    Ok((Arc::new(config), Arc::new(certified)))
}

fn read(path: &Path) -> Result<String, StartError> {
    std::fs::read_to_string(path).map_err(StartError::file(|| format!("cannot read {}", path.display())))
}

/// Writes `text` to `path` with `mode` (through a temporary file, so a crash leaves no half file).
fn write(path: &Path, text: &str, mode: u32) -> Result<(), StartError> {
    let tmp = path.with_extension("tmp");
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(mode)
        .open(&tmp)
        .map_err(StartError::file(|| format!("cannot write {}", tmp.display())))?;
    file.write_all(text.as_bytes()).map_err(StartError::file(|| format!("cannot write {}", tmp.display())))?;
    std::fs::rename(&tmp, path).map_err(StartError::file(|| format!("cannot write {}", path.display())))
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    fn hosts() -> Vec<String> {
        domain_hosts("paas.test")
    }

    /// A client that trusts only `ca` completes a handshake with `server` as `name`.
    async fn handshake(server: &ServerTls, ca: &Path, name: &str) -> anyhow::Result<()> {
        let mut roots = rustls::RootCertStore::empty();
        for cert in CertificateDer::pem_file_iter(ca)? {
            roots.add(cert?)?;
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let client = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()?
            .with_root_certificates(roots)
            .with_no_client_auth();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let acceptor = tokio_rustls::TlsAcceptor::from(server.server_config());
        let accepting = tokio::spawn(async move {
            let (tcp, _) = listener.accept().await.unwrap();
            let _ = acceptor.accept(tcp).await;
        });
        let tcp = tokio::net::TcpStream::connect(addr).await?;
        let name = rustls::pki_types::ServerName::try_from(name.to_string())?;
        let result = tokio_rustls::TlsConnector::from(Arc::new(client)).connect(name, tcp).await;
        accepting.abort();
        result.map(|_| ()).map_err(Into::into)
    }

    #[tokio::test]
    async fn the_local_ca_signs_a_certificate_for_loopback_and_the_domain() {
        let dir = tempfile::tempdir().unwrap();
        let tls = ServerTls::load_or_create(dir.path(), &hosts(), None, None).unwrap();
        let ca = tls.ca_pem().unwrap().to_path_buf();
        assert_eq!(ca, dir.path().join("tls/ca.pem"));
        for name in ["127.0.0.1", "::1", "localhost", "paas.test", "myapp.paas.test"] {
            handshake(&tls, &ca, name).await.unwrap_or_else(|e| panic!("{name}: {e:#}"));
        }
        let err = handshake(&tls, &ca, "example.com").await.unwrap_err();
        assert!(format!("{err:#}").contains("not valid for name"), "{err:#}");
        for key in ["ca-key.pem", "server-key.pem"] {
            let mode = std::fs::metadata(dir.path().join("tls").join(key)).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600, "{key}");
        }
    }

    #[tokio::test]
    async fn a_restart_reuses_the_ca_and_new_hosts_get_a_new_certificate_from_it() {
        let dir = tempfile::tempdir().unwrap();
        ServerTls::load_or_create(dir.path(), &hosts(), None, None).unwrap();
        let tls_dir = dir.path().join("tls");
        let (ca, server) = (read(&tls_dir.join("ca.pem")).unwrap(), read(&tls_dir.join("server.pem")).unwrap());
        ServerTls::load_or_create(dir.path(), &hosts(), None, None).unwrap();
        assert_eq!(read(&tls_dir.join("ca.pem")).unwrap(), ca);
        assert_eq!(read(&tls_dir.join("server.pem")).unwrap(), server, "same hosts: the certificate is kept");
        // Trusting the first start's CA is enough after a change of domain.
        let kept = dir.path().join("kept-ca.pem");
        std::fs::write(&kept, &ca).unwrap();
        let tls = ServerTls::load_or_create(dir.path(), &domain_hosts("other.test"), None, None).unwrap();
        assert_eq!(read(&tls_dir.join("ca.pem")).unwrap(), ca);
        assert_ne!(read(&tls_dir.join("server.pem")).unwrap(), server);
        handshake(&tls, &kept, "app.other.test").await.unwrap();
        assert!(handshake(&tls, &kept, "app.paas.test").await.is_err());
    }

    #[tokio::test]
    async fn given_pem_files_are_served_and_bad_ones_are_refused_clearly() {
        let made = tempfile::tempdir().unwrap();
        ServerTls::load_or_create(made.path(), &hosts(), None, None).unwrap();
        let tls_dir = made.path().join("tls");
        let (cert, key, ca_key) = (tls_dir.join("server.pem"), tls_dir.join("server-key.pem"), tls_dir.join("ca-key.pem"));
        let other = tempfile::tempdir().unwrap();
        let tls = ServerTls::load_or_create(other.path(), &[], Some(&cert), Some(&key)).unwrap();
        assert!(tls.ca_pem().is_none());
        assert!(!other.path().join("tls").exists(), "no local CA is made when a certificate is given");
        handshake(&tls, &tls_dir.join("ca.pem"), "paas.test").await.unwrap();

        let err = |cert: &Path, key: &Path| {
            format!("{:#}", ServerTls::load_or_create(other.path(), &[], Some(cert), Some(key)).unwrap_err())
        };
        let missing = other.path().join("missing.pem");
        assert!(err(&missing, &key).contains("cannot read the TLS certificate"), "{}", err(&missing, &key));
        assert!(err(&cert, &missing).contains("cannot read a PEM private key"), "{}", err(&cert, &missing));
        assert!(err(&key, &key).contains("holds no certificate"), "{}", err(&key, &key));
        assert!(err(&cert, &ca_key).contains("does not go with the certificate"), "{}", err(&cert, &ca_key));
        let half = format!("{:#}", ServerTls::load_or_create(other.path(), &[], Some(&cert), None).unwrap_err());
        assert!(half.contains("without --tls-key"), "{half}");
    }
}
