//! Custom certificates through the official heroku CLI (`certs:add`, `certs`, `certs:info`,
//! `domains:add --cert`, `domains:update --cert`, `certs:remove`), served by the router's HTTPS
//! listener (`--router-tls-listen`) by SNI: the app's own certificate for its custom domain, the
//! local CA's `*.<domain>` for `<app>.<domain>`. Run on the server and app of `https.rs`.

use std::path::Path;
use std::process::Command;

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};

use crate::support::TestServer;

/// A test CA and a certificate it signed for `names`, written as `ca.pem`, `cert.pem`, `key.pem`.
fn issue(dir: &Path, names: &[&str]) {
    let ca_key = KeyPair::generate().unwrap();
    let mut ca = CertificateParams::default();
    ca.distinguished_name.push(DnType::CommonName, "certs test CA");
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca_cert = ca.self_signed(&ca_key).unwrap();
    let key = KeyPair::generate().unwrap();
    let mut leaf = CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>()).unwrap();
    leaf.distinguished_name.push(DnType::CommonName, names[0]);
    let cert = leaf.signed_by(&key, &Issuer::new(ca, &ca_key)).unwrap();
    std::fs::write(dir.join("ca.pem"), ca_cert.pem()).unwrap();
    std::fs::write(dir.join("cert.pem"), cert.pem()).unwrap();
    std::fs::write(dir.join("key.pem"), key.serialize_pem()).unwrap();
}

/// `GET https://<host>:<port>/` on the router's HTTPS address, trusting only `ca`: status and
/// body, or curl's complaint.
fn https_get(router: &str, host: &str, ca: &Path) -> Result<(u16, String), String> {
    let port = router.rsplit_once(':').unwrap().1;
    let output = Command::new("curl")
        .args(["-sS", "-m", "10", "-o", "-", "-w", "\n%{http_code}", "--cacert"])
        .arg(ca)
        .args(["--resolve", &format!("{host}:{port}:127.0.0.1")])
        .arg(format!("https://{host}:{port}/"))
        .output()
        .unwrap();
    if !output.status.success() {
        return Err(String::from_utf8_lossy(&output.stderr).into_owned());
    }
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    let (body, status) = text.rsplit_once('\n').unwrap();
    Ok((status.parse().unwrap_or(0), body.to_string()))
}

/// The issuer of the certificate the router's HTTPS listener serves for `host` (SNI), as openssl
/// prints it (`CN = paas local CA`).
fn served_issuer(router: &str, host: &str) -> String {
    let script = format!(
        "openssl s_client -connect {router} -servername {host} </dev/null 2>/dev/null | openssl x509 -noout -issuer"
    );
    let output = Command::new("sh").args(["-c", &script]).output().unwrap();
    String::from_utf8_lossy(&output.stdout).trim().to_string()
}

/// The CLI steps; `heroku` runs the official CLI against `server` (HTTPS API), `router` is the
/// router's HTTPS `host:port`, `app` is deployed and answers `hello`.
pub(crate) fn custom_certificates(server: &TestServer, heroku: &dyn Fn(&[&str]) -> std::process::Output, router: &str, app: &str, hello: &str) {
    let dir = tempfile::tempdir().unwrap();
    let shop = "www.shop-certs.test";
    issue(dir.path(), &[shop]);
    let (cert, key) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    let said = |output: &std::process::Output| {
        format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr))
    };

    // A key of another certificate is refused, saying so; nothing is added.
    let other = tempfile::tempdir().unwrap();
    issue(other.path(), &[shop]);
    let refused = heroku(&["certs:add", cert.to_str().unwrap(), other.path().join("key.pem").to_str().unwrap(), "-a", app]);
    assert!(!refused.status.success(), "{}", said(&refused));
    assert!(said(&refused).contains("does not go with the certificate"), "{}", said(&refused));

    let added = heroku(&["certs:add", cert.to_str().unwrap(), key.to_str().unwrap(), "-a", app]);
    assert!(added.status.success(), "{}", said(&added));
    assert!(said(&added).contains(shop), "{}", said(&added));
    assert!(said(&added).contains("CN=certs test CA"), "the issuer is shown: {}", said(&added));
    let listed = heroku(&["certs", "-a", app]);
    let name = String::from_utf8_lossy(&listed.stdout)
        .lines()
        .find(|line| line.contains(shop))
        .and_then(|line| line.split_whitespace().next().map(str::to_string))
        .unwrap_or_else(|| panic!("heroku certs lists the certificate: {}", said(&listed)));
    // The private key is never given back.
    let raw = Command::new("curl")
        .args(["-sS", "-k", "-H", &format!("Authorization: Bearer {}", server.operator_key)])
        .arg(format!("{}/apps/{app}/sni-endpoints", server.api_url))
        .output()
        .unwrap();
    let raw = String::from_utf8_lossy(&raw.stdout);
    assert!(raw.contains("BEGIN CERTIFICATE") && !raw.contains("PRIVATE KEY"), "{raw}");

    let domain = heroku(&["domains:add", shop, "--cert", &name, "-a", app]);
    assert!(domain.status.success(), "{}", said(&domain));
    let info = heroku(&["certs:info", "--name", &name, "--show-domains", "-a", app]);
    assert!(said(&info).contains(shop), "{}", said(&info));

    // SNI: the custom domain gets the app's certificate, <app>.localhost the local CA's
    // `*.localhost` (which curl's OpenSSL will not match: a wildcard right above a top-level
    // name; so the issuer is checked, and the request made without verification).
    let test_ca = dir.path().join("ca.pem");
    let local_ca = server.data_dir().join("tls/ca.pem");
    assert_eq!(https_get(router, shop, &test_ca), Ok((200, hello.to_string())));
    assert!(https_get(router, shop, &local_ca).is_err(), "the custom domain is not served with the server's certificate");
    let own = format!("{app}.localhost");
    assert_eq!(served_issuer(router, shop), "issuer=CN = certs test CA");
    assert_eq!(served_issuer(router, &own), "issuer=CN = paas local CA, O = paas");
    assert_eq!(served_issuer(router, "127.0.0.1"), "issuer=CN = paas local CA, O = paas", "no SNI: the server's");
    let insecure = Command::new("curl")
        .args(["-sS", "-k", "--resolve", &format!("{own}:{}:127.0.0.1", router.rsplit_once(':').unwrap().1)])
        .arg(format!("https://{own}:{}/", router.rsplit_once(':').unwrap().1))
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&insecure.stdout), hello);

    // certs:update replaces it (a new CA's certificate); domains:update --cert sets it again.
    let renewed = tempfile::tempdir().unwrap();
    issue(renewed.path(), &[shop]);
    let update = heroku(&[
        "certs:update",
        renewed.path().join("cert.pem").to_str().unwrap(),
        renewed.path().join("key.pem").to_str().unwrap(),
        "--name",
        &name,
        "--confirm",
        app,
        "-a",
        app,
    ]);
    assert!(update.status.success(), "{}", said(&update));
    assert_eq!(https_get(router, shop, &renewed.path().join("ca.pem")), Ok((200, hello.to_string())));
    let set = heroku(&["domains:update", shop, "--cert", &name, "-a", app]);
    assert!(set.status.success(), "{}", said(&set));

    // Removed: the domain is served with the server's certificate again.
    let removed = heroku(&["certs:remove", "--name", &name, "--confirm", app, "-a", app]);
    assert!(removed.status.success(), "{}", said(&removed));
    assert!(https_get(router, shop, &renewed.path().join("ca.pem")).is_err());
    let listed = heroku(&["certs", "-a", app]);
    assert!(!said(&listed).contains(&name), "{}", said(&listed));
}
