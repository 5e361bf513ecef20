//! Custom certificates of apps (Heroku's SNI endpoints): [`validate`] checks what a tenant
//! uploads (PEM, sizes, the key goes with the certificate, not expired) and reads the details
//! Heroku's `ssl_cert` shows; [`SniCerts`] picks the certificate of each TLS handshake on the
//! router's HTTPS listener by SNI: an app's own for its custom domain, else the server's
//! (the local CA's `*.<domain>`, or `--tls-cert`).
//!
//! Where certificates come from is a seam, [`CertificateSource`]: today the ledger's SNI
//! endpoints (uploaded with `heroku certs:add`). An ACME client (Heroku's ACM) would be a second
//! source: it keeps a certificate per custom domain, obtained over the network and renewed
//! before `expires_at`, and hands them to [`SniCerts::reload`] the same way; nothing else
//! (the resolver, the router, the API's `ssl_cert` view) would change.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use chrono::{DateTime, Utc};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;

use uuid::Uuid;

use crate::ledger::{Ledger, LedgerError};
use crate::model::SniEndpointStamp;

/// The largest certificate chain accepted, in bytes of PEM.
pub const MAX_CHAIN_BYTES: usize = 64 * 1024;
/// The largest private key accepted, in bytes of PEM.
pub const MAX_KEY_BYTES: usize = 16 * 1024;
/// The most certificates in one chain.
pub const MAX_CHAIN_CERTS: usize = 10;
/// The most names one certificate may cover.
pub const MAX_CERT_NAMES: usize = 100;
/// The most SNI endpoints (custom certificates) one app may have (the ledger enforces it).
pub use paas_ledger::model::MAX_SNI_ENDPOINTS_PER_APP as MAX_ENDPOINTS_PER_APP;
/// How often the router's HTTPS listener reads the certificates again (changes made through
/// another node; this node's API reloads at once).
pub const RELOAD_EVERY: std::time::Duration = std::time::Duration::from_secs(5);

/// Why a certificate or key was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CertError {
    /// Over a size bound.
    #[error("The {what} is {size} bytes; the limit is {limit}.")]
    TooLarge {
        /// `certificate chain` or `private key`.
        what: &'static str,
        /// Its size.
        size: usize,
        /// The limit.
        limit: usize,
    },
    /// Not PEM, or no certificate in it.
    #[error("The certificate chain is not PEM: expected -----BEGIN CERTIFICATE----- blocks ({0}).")]
    NotPemCertificate(String),
    /// Too many certificates.
    #[error("The certificate chain holds {0} certificates; the limit is {MAX_CHAIN_CERTS}.")]
    TooManyCertificates(usize),
    /// Not a PEM private key.
    #[error("The private key is not a PEM private key (PKCS#8, PKCS#1 RSA or SEC1 EC): {0}.")]
    NotPemKey(String),
    /// The first certificate is not X.509 DER.
    #[error("The first certificate of the chain cannot be read: {0}.")]
    BadCertificate(String),
    /// The key is unsupported or does not go with the certificate.
    #[error("The private key does not go with the certificate: {0}.")]
    KeyMismatch(String),
    /// Expired, or not valid yet.
    #[error("The certificate is valid from {starts_at} to {expires_at}; it is now {now}.")]
    NotValidNow {
        /// `notBefore`.
        starts_at: DateTime<Utc>,
        /// `notAfter`.
        expires_at: DateTime<Utc>,
        /// The time of the check.
        now: DateTime<Utc>,
    },
    /// No DNS name at all.
    #[error("The certificate names no host (no DNS subjectAltName and no common name).")]
    NoNames,
    /// Too many names.
    #[error("The certificate names {0} hosts; the limit is {MAX_CERT_NAMES}.")]
    TooManyNames(usize),
}

/// What Heroku's `ssl_cert` shows of a certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertDetails {
    /// The DNS names it is valid for (subjectAltName, else the common name), lowercase.
    pub cert_domains: Vec<String>,
    /// `/C=US/O=Example/CN=www.example.com`.
    pub subject: String,
    /// The issuer, in the same form.
    pub issuer: String,
    /// `notBefore`.
    pub starts_at: DateTime<Utc>,
    /// `notAfter`.
    pub expires_at: DateTime<Utc>,
    /// Issued by itself.
    pub self_signed: bool,
}

impl CertDetails {
    /// Whether the certificate is valid for `host` (an exact name, or `*.rest` for one label).
    pub fn covers(&self, host: &str) -> bool {
        self.cert_domains.iter().any(|name| name_covers(name, host))
    }
}

/// Whether certificate name `name` covers `host`: equal, or `*.example.com` for
/// `www.example.com` (one label, as TLS clients check).
pub fn name_covers(name: &str, host: &str) -> bool {
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    match name.strip_prefix("*.") {
        Some(rest) => host.split_once('.').is_some_and(|(label, tail)| !label.is_empty() && tail == rest),
        None => name == host,
    }
}

fn crypto() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// Checks a certificate chain and its private key as a tenant uploads them (both PEM) at `now`,
/// and answers its details and the key rustls serves. Every refusal says what was wrong; no
/// part of the key is ever in a message.
pub fn validate(chain_pem: &str, key_pem: &str, now: DateTime<Utc>) -> Result<(CertDetails, Arc<CertifiedKey>), CertError> {
    if chain_pem.len() > MAX_CHAIN_BYTES {
        return Err(CertError::TooLarge { what: "certificate chain", size: chain_pem.len(), limit: MAX_CHAIN_BYTES });
    }
    if key_pem.len() > MAX_KEY_BYTES {
        return Err(CertError::TooLarge { what: "private key", size: key_pem.len(), limit: MAX_KEY_BYTES });
    }
    let mut chain = Vec::new();
    for cert in CertificateDer::pem_slice_iter(chain_pem.as_bytes()) {
        let cert = cert.map_err(|e| CertError::NotPemCertificate(e.to_string()))?;
        chain.push(cert);
        if chain.len() > MAX_CHAIN_CERTS {
            return Err(CertError::TooManyCertificates(chain.len()));
        }
    }
    if chain.is_empty() {
        return Err(CertError::NotPemCertificate("no certificate found".into()));
    }
    // The key's own error text may quote it: only its kind is said.
    let key = PrivateKeyDer::from_pem_slice(key_pem.as_bytes()).map_err(|e| {
        CertError::NotPemKey(match e {
            rustls::pki_types::pem::Error::NoItemsFound => "no private key found".to_string(),
            _ => "it cannot be read".to_string(),
        })
    })?;
    let details = details(&chain[0])?;
    if now < details.starts_at || now >= details.expires_at {
        return Err(CertError::NotValidNow { starts_at: details.starts_at, expires_at: details.expires_at, now });
    }
    let certified = CertifiedKey::from_der(chain, key, &crypto()).map_err(|e| CertError::KeyMismatch(match e {
        rustls::Error::InconsistentKeys(_) => "it is the key of another certificate".to_string(),
        _ => "the key's type is not supported (RSA, ECDSA P-256/P-384 and Ed25519 are)".to_string(),
    }))?;
    Ok((details, Arc::new(certified)))
}

/// The details of one DER certificate.
pub fn details(der: &CertificateDer<'_>) -> Result<CertDetails, CertError> {
    let (_, cert) = x509_parser::parse_x509_certificate(der).map_err(|e| CertError::BadCertificate(e.to_string()))?;
    let mut names: Vec<String> = Vec::new();
    if let Ok(Some(san)) = cert.subject_alternative_name() {
        for name in &san.value.general_names {
            if let x509_parser::extensions::GeneralName::DNSName(dns) = name {
                let dns = dns.trim_end_matches('.').to_ascii_lowercase();
                if !names.contains(&dns) {
                    names.push(dns);
                }
            }
        }
    }
    if names.is_empty()
        && let Some(cn) = cert.subject().iter_common_name().next().and_then(|cn| cn.as_str().ok())
    {
        names.push(cn.trim_end_matches('.').to_ascii_lowercase());
    }
    if names.is_empty() {
        return Err(CertError::NoNames);
    }
    if names.len() > MAX_CERT_NAMES {
        return Err(CertError::TooManyNames(names.len()));
    }
    let time = |t: &x509_parser::time::ASN1Time| DateTime::from_timestamp(t.timestamp(), 0).unwrap_or_default();
    Ok(CertDetails {
        cert_domains: names,
        subject: slash_name(cert.subject()),
        issuer: slash_name(cert.issuer()),
        starts_at: time(&cert.validity().not_before),
        expires_at: time(&cert.validity().not_after),
        self_signed: cert.subject().as_raw() == cert.issuer().as_raw(),
    })
}

/// A distinguished name as Heroku (and OpenSSL's `-nameopt compat`) writes it: `/C=US/CN=x`.
fn slash_name(name: &x509_parser::x509::X509Name<'_>) -> String {
    let registry = x509_parser::objects::oid_registry();
    let mut out = String::new();
    for rdn in name.iter() {
        for attr in rdn.iter() {
            let key = x509_parser::objects::oid2abbrev(attr.attr_type(), registry)
                .map(str::to_string)
                .unwrap_or_else(|_| attr.attr_type().to_id_string());
            let value = attr.as_str().map(str::to_string).unwrap_or_else(|_| "?".to_string());
            out.push('/');
            out.push_str(&key);
            out.push('=');
            out.push_str(&value);
        }
    }
    out
}

/// Where certificates for apps' hostnames come from: the seam an ACME client would fill.
#[async_trait::async_trait]
pub trait CertificateSource: Send + Sync {
    /// Every hostname served with a certificate of its own, and that certificate's chain and key
    /// (PEM), plus a version that changes when they do (to skip parsing what did not change).
    async fn hostname_certificates(&self) -> Result<Vec<HostCertificate>, CertificateSourceError>;
}

/// Why a [`CertificateSource`] could not give the certificates.
#[derive(Debug, thiserror::Error)]
pub enum CertificateSourceError {
    /// The ledger could not be read.
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    /// A thread panicked holding the cache of certificates read.
    #[error("certificate cache poisoned")]
    CachePoisoned,
}

/// One hostname's certificate, as a [`CertificateSource`] gives it.
#[derive(Clone)]
pub struct HostCertificate {
    /// The hostname, lowercase.
    pub hostname: String,
    /// Names this certificate (an endpoint id and its update time); equal keys, equal PEM.
    pub version: String,
    /// The chain, PEM (shared, not copied, between reloads and hostnames).
    pub chain_pem: Arc<str>,
    /// The private key, PEM (shared likewise).
    pub key_pem: Arc<str>,
}

impl std::fmt::Debug for HostCertificate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HostCertificate").field("hostname", &self.hostname).field("version", &self.version).finish_non_exhaustive()
    }
}

/// An SNI endpoint's certificate and key as last read from the ledger.
struct Material {
    updated_at: DateTime<Utc>,
    chain: Arc<str>,
    key: Arc<str>,
    /// The leaf's details (which names it covers); `None` when it cannot be read.
    details: Option<CertDetails>,
}

/// The ledger's SNI endpoints as a [`CertificateSource`]: each custom domain gets the endpoint
/// it is set to (`domains:update --cert`), else the first of its app's endpoints whose
/// certificate covers it. Each reload reads only the domains and the endpoints' ids and times;
/// an endpoint's certificate and key are read (and its leaf parsed) once, and again only after
/// its `updated_at` changed.
pub struct LedgerCertificates {
    ledger: Arc<dyn Ledger>,
    materials: Mutex<HashMap<Uuid, Arc<Material>>>,
    read: AtomicU64,
}

impl std::fmt::Debug for LedgerCertificates {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LedgerCertificates").field("endpoints_read", &self.endpoints_read()).finish_non_exhaustive()
    }
}

impl LedgerCertificates {
    /// The SNI endpoints of `ledger`.
    pub fn new(ledger: Arc<dyn Ledger>) -> LedgerCertificates {
        LedgerCertificates { ledger, materials: Mutex::default(), read: AtomicU64::new(0) }
    }

    /// How many endpoints' certificates and keys have been read from the ledger so far: once
    /// per endpoint and per change of it, however many reloads there were.
    pub fn endpoints_read(&self) -> u64 {
        self.read.load(Ordering::Relaxed)
    }

    /// Reads the certificates of the endpoints that are new or changed since the last time,
    /// forgets those that are gone; answers every listed endpoint's material.
    async fn materials(&self, endpoints: &[SniEndpointStamp]) -> Result<HashMap<Uuid, Arc<Material>>, CertificateSourceError> {
        let stale: Vec<Uuid> = {
            let known = self.materials.lock().map_err(|_| CertificateSourceError::CachePoisoned)?;
            endpoints.iter().filter(|e| known.get(&e.id).is_none_or(|m| m.updated_at != e.updated_at)).map(|e| e.id).collect()
        };
        let fetched = if stale.is_empty() { Vec::new() } else { self.ledger.find_sni_endpoints(&stale).await? };
        self.read.fetch_add(fetched.len() as u64, Ordering::Relaxed);
        let mut known = self.materials.lock().map_err(|_| CertificateSourceError::CachePoisoned)?;
        for endpoint in fetched {
            let leaf = CertificateDer::pem_slice_iter(endpoint.certificate_chain.as_bytes()).next().and_then(Result::ok);
            let material = Material {
                updated_at: endpoint.updated_at,
                details: leaf.and_then(|der| details(&der).ok()),
                chain: endpoint.certificate_chain.into(),
                key: endpoint.private_key.expose().into(),
            };
            known.insert(endpoint.id, Arc::new(material));
        }
        let listed: std::collections::HashSet<Uuid> = endpoints.iter().map(|e| e.id).collect();
        known.retain(|id, _| listed.contains(id));
        Ok(known.clone())
    }
}

#[async_trait::async_trait]
impl CertificateSource for LedgerCertificates {
    async fn hostname_certificates(&self) -> Result<Vec<HostCertificate>, CertificateSourceError> {
        let routes = self.ledger.sni_routes().await?;
        let materials = self.materials(&routes.endpoints).await?;
        let mut by_app: HashMap<Uuid, Vec<Uuid>> = HashMap::new();
        for endpoint in &routes.endpoints {
            by_app.entry(endpoint.app_id).or_default().push(endpoint.id);
        }
        let mut chosen = Vec::with_capacity(routes.domains.len());
        for domain in routes.domains {
            let own = by_app.get(&domain.app_id).map(Vec::as_slice).unwrap_or_default();
            let found = match domain.endpoint {
                // Set explicitly: that endpoint, if it is the app's.
                Some(id) => own.iter().find(|e| **e == id).and_then(|id| materials.get(id).map(|m| (*id, m))),
                // Implicit: the first that covers the name.
                None => own.iter().find_map(|id| {
                    let material = materials.get(id)?;
                    material.details.as_ref().is_some_and(|d| d.covers(&domain.hostname)).then_some((*id, material))
                }),
            };
            if let Some((id, material)) = found {
                chosen.push(HostCertificate {
                    hostname: domain.hostname,
                    version: format!("{id}@{}", material.updated_at.timestamp_micros()),
                    chain_pem: material.chain.clone(),
                    key_pem: material.key.clone(),
                });
            }
        }
        Ok(chosen)
    }
}

/// The certificate of each TLS handshake on the router's HTTPS listener, by SNI: a hostname's
/// own certificate when it has one, else the server's. Reloaded from a [`CertificateSource`]
/// after each API change and every few seconds (changes made through other nodes).
pub struct SniCerts {
    source: Arc<dyn CertificateSource>,
    fallback: Arc<CertifiedKey>,
    by_host: RwLock<HashMap<String, (String, Arc<CertifiedKey>)>>,
}

impl std::fmt::Debug for SniCerts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let hosts: Vec<String> = self.by_host.read().map(|m| m.keys().cloned().collect()).unwrap_or_default();
        f.debug_struct("SniCerts").field("hosts", &hosts).finish_non_exhaustive()
    }
}

impl SniCerts {
    /// Hostnames' certificates from `source`; any other name (and a client that sends no SNI)
    /// gets `fallback`.
    pub fn new(source: Arc<dyn CertificateSource>, fallback: Arc<CertifiedKey>) -> Arc<SniCerts> {
        Arc::new(SniCerts { source, fallback, by_host: RwLock::default() })
    }

    /// Reads the source again; certificates that no longer validate (expired since) are left
    /// out, with a warning, and their hostnames get the fallback.
    pub async fn reload(&self) {
        let certificates = match self.source.hostname_certificates().await {
            Ok(certificates) => certificates,
            Err(e) => {
                tracing::warn!("cannot read the apps' certificates: {e}");
                return;
            }
        };
        let old = self.by_host.read().map(|m| m.clone()).unwrap_or_default();
        let mut new = HashMap::with_capacity(certificates.len());
        for cert in certificates {
            if let Some((version, key)) = old.get(&cert.hostname).filter(|(version, _)| *version == cert.version) {
                new.insert(cert.hostname, (version.clone(), key.clone()));
                continue;
            }
            match validate(&cert.chain_pem, &cert.key_pem, Utc::now()) {
                Ok((_, key)) => {
                    new.insert(cert.hostname, (cert.version, key));
                }
                Err(e) => tracing::warn!(hostname = %cert.hostname, "its certificate is not served: {e}"),
            }
        }
        if let Ok(mut map) = self.by_host.write() {
            *map = new;
        }
    }

    /// Reloads every `every` until `stop` resolves.
    pub async fn reload_every(self: Arc<Self>, every: std::time::Duration, stop: impl std::future::Future<Output = ()>) {
        tokio::pin!(stop);
        loop {
            self.reload().await;
            tokio::select! {
                () = &mut stop => return,
                () = tokio::time::sleep(every) => {}
            }
        }
    }

    /// The certificate served for `hostname`.
    pub fn certificate_for(&self, hostname: Option<&str>) -> Arc<CertifiedKey> {
        let own = hostname.and_then(|host| {
            let host = host.trim_end_matches('.').to_ascii_lowercase();
            self.by_host.read().ok()?.get(&host).map(|(_, key)| key.clone())
        });
        own.unwrap_or_else(|| self.fallback.clone())
    }

    /// A rustls server configuration that chooses by SNI with this (HTTP/2 and HTTP/1.1 by ALPN).
    pub fn server_config(self: &Arc<Self>) -> Result<Arc<rustls::ServerConfig>, rustls::Error> {
        let mut config = rustls::ServerConfig::builder_with_provider(crypto())
            .with_safe_default_protocol_versions()?
            .with_no_client_auth()
            .with_cert_resolver(Arc::new(Resolver(self.clone())));
        config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        Ok(Arc::new(config))
    }
}

#[derive(Debug)]
struct Resolver(Arc<SniCerts>);

impl ResolvesServerCert for Resolver {
    fn resolve(&self, hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.0.certificate_for(hello.server_name()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rcgen::{CertificateParams, KeyPair};

    fn cert(names: &[&str], from: (i32, u8), to: (i32, u8)) -> (String, String) {
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>()).unwrap();
        params.distinguished_name.push(rcgen::DnType::CommonName, names[0]);
        params.distinguished_name.push(rcgen::DnType::OrganizationName, "Example");
        params.not_before = rcgen::date_time_ymd(from.0, from.1, 1);
        params.not_after = rcgen::date_time_ymd(to.0, to.1, 1);
        let cert = params.self_signed(&key).unwrap();
        (cert.pem(), key.serialize_pem())
    }

    #[test]
    fn a_good_certificate_gives_heroku_s_details() {
        let (chain, key) = cert(&["www.example.test", "*.shop.example.test"], (2020, 1), (2099, 1));
        let (details, _) = validate(&chain, &key, Utc::now()).unwrap();
        assert_eq!(details.cert_domains, ["www.example.test", "*.shop.example.test"]);
        assert_eq!(details.subject, "/CN=www.example.test/O=Example");
        assert_eq!(details.issuer, details.subject);
        assert!(details.self_signed);
        assert_eq!(details.expires_at.to_rfc3339(), "2099-01-01T00:00:00+00:00");
        assert!(details.covers("www.example.test") && details.covers("a.shop.example.test"));
        assert!(!details.covers("shop.example.test") && !details.covers("a.b.shop.example.test") && !details.covers("x.example.test"));
    }

    #[test]
    fn bad_certificates_and_keys_are_refused_saying_why_and_never_quoting_the_key() {
        let (chain, key) = cert(&["www.example.test"], (2020, 1), (2099, 1));
        let (_, other_key) = cert(&["www.example.test"], (2020, 1), (2099, 1));
        let now = Utc::now();
        let refused = |chain: &str, key: &str| validate(chain, key, now).err().map(|e| e.to_string()).unwrap_or_default();
        assert!(refused(&chain, &other_key).contains("does not go with the certificate"), "{}", refused(&chain, &other_key));
        assert!(refused("hello", &key).contains("not PEM"));
        assert!(refused(&key, &key).contains("not PEM"));
        assert!(refused(&chain, &chain).contains("no private key found"));
        let (old, old_key) = cert(&["old.example.test"], (2001, 1), (2002, 1));
        assert!(refused(&old, &old_key).starts_with("The certificate is valid from 2001-01-01"), "{}", refused(&old, &old_key));
        let big = "x".repeat(MAX_CHAIN_BYTES + 1);
        assert_eq!(refused(&big, &key), format!("The certificate chain is {} bytes; the limit is {MAX_CHAIN_BYTES}.", big.len()));
        assert!(refused(&chain, &"k".repeat(MAX_KEY_BYTES + 1)).contains("private key is"));
        let many = chain.repeat(MAX_CHAIN_CERTS + 1);
        assert!(refused(&many, &key).contains("holds 11 certificates"));
        // A key that is not one, with its text in the file: the message never echoes it.
        let mut lines: Vec<&str> = key.lines().collect();
        lines[1] = "!!secret-looking-text!!";
        let garbled = lines.join("\n");
        let said = refused(&chain, &garbled);
        assert!(said.contains("not a PEM private key") && !said.contains("secret"), "{said}");
    }
}
