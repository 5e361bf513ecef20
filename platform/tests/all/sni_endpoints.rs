//! SNI endpoints (custom certificates) in the ledger, on SQLite and PostgreSQL: an app's bound on
//! them, and what the router's certificate reload reads from the ledger each time.

use std::sync::Arc;

use paas_platform::certs::{CertificateSource, HostCertificate, LedgerCertificates, MAX_ENDPOINTS_PER_APP};
use paas_platform::model::PrivateKeyPem;
use paas_platform::{Ledger, LedgerError};

/// A self-signed certificate for `name` and its key.
fn cert(name: &str) -> (String, PrivateKeyPem) {
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = rcgen::CertificateParams::new(vec![name.to_string()]).unwrap().self_signed(&key).unwrap();
    (cert.pem(), PrivateKeyPem::new(key.serialize_pem()))
}

/// The certificates by hostname, sorted.
async fn served(source: &LedgerCertificates) -> Vec<HostCertificate> {
    let mut certs = source.hostname_certificates().await.unwrap();
    certs.sort_by(|a, b| a.hostname.cmp(&b.hostname));
    certs
}

async fn endpoints_are_bounded_and_read_once_per_change(ledger: Arc<dyn Ledger>) {
    let (alice, _) = ledger.create_user("alice@example.com", None, false).await.unwrap();
    let app = ledger.create_app("shop", alice.id).await.unwrap();
    ledger.add_domain(app.id, "www.shop.test").await.unwrap();
    ledger.add_domain(app.id, "api.shop.test").await.unwrap();
    let (www, www_key) = cert("www.shop.test");
    let first = ledger.create_sni_endpoint(app.id, &www, &www_key).await.unwrap();
    let (api, api_key) = cert("api.shop.test");
    ledger.create_sni_endpoint(app.id, &api, &api_key).await.unwrap();

    // Reloads read the certificates once, however often they run.
    let source = LedgerCertificates::new(ledger.clone());
    for _ in 0..3 {
        let certs = served(&source).await;
        let names: Vec<&str> = certs.iter().map(|c| c.hostname.as_str()).collect();
        assert_eq!(names, ["api.shop.test", "www.shop.test"]);
        assert_eq!(&*certs[1].chain_pem, www.as_str());
    }
    assert_eq!(source.endpoints_read(), 2, "each endpoint's certificate is read once");

    // A replaced certificate is read again, and only that one.
    let (www2, www2_key) = cert("www.shop.test");
    ledger.update_sni_endpoint(app.id, &first.name, &www2, &www2_key).await.unwrap();
    let certs = served(&source).await;
    assert_eq!(&*certs[1].chain_pem, www2.as_str());
    assert_eq!(&*certs[1].key_pem, www2_key.expose());
    assert_eq!(source.endpoints_read(), 3);

    // The bound: the app has 2; 8 more fit, the next is refused saying why.
    for n in 2..MAX_ENDPOINTS_PER_APP {
        let (chain, key) = cert(&format!("n{n}.shop.test"));
        ledger.create_sni_endpoint(app.id, &chain, &key).await.unwrap();
    }
    let (chain, key) = cert("one-too-many.shop.test");
    let refused = ledger.create_sni_endpoint(app.id, &chain, &key).await;
    let Err(LedgerError::Invalid(message)) = refused else { panic!("the 11th endpoint was not refused: {refused:?}") };
    assert!(message.contains("already has 10 SNI endpoints"), "{message}");
    assert_eq!(ledger.list_sni_endpoints(app.id).await.unwrap().len(), MAX_ENDPOINTS_PER_APP);
    // Another app has its own bound.
    let other = ledger.create_app("other", alice.id).await.unwrap();
    ledger.create_sni_endpoint(other.id, &chain, &key).await.unwrap();

    served(&source).await;
    assert_eq!(source.endpoints_read(), 3 + 8 + 1);
    ledger.remove_sni_endpoint(app.id, &first.name).await.unwrap();
    let names: Vec<String> = served(&source).await.into_iter().map(|c| c.hostname).collect();
    assert_eq!(names, ["api.shop.test"], "the removed endpoint's domain is no longer served with it");
    assert_eq!(source.endpoints_read(), 12, "removing one reads nothing");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sni_endpoints_are_bounded_per_app_and_reloads_read_only_changed_certificates() {
    endpoints_are_bounded_and_read_once_per_change(crate::backends::sqlite().await.ledger.clone()).await;
    if let Some(postgres) = crate::backends::postgres().await {
        endpoints_are_bounded_and_read_once_per_change(postgres.ledger.clone()).await;
    }
}
