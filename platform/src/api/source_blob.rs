//! Builds from a URL, Heroku's `POST /apps/{app}/builds {"source_blob": {"url", "version",
//! "checksum"}}` → 201 with the build (its output at `output_stream_url` while it runs and
//! after). A URL on this server's blob store (`POST /sources`) is read from the store; any other
//! is fetched where the node's egress policy lets tenants go, as log drains are (the host
//! resolved once and every address checked, no redirects followed, no proxy), within
//! [`FETCH_TIMEOUT`] and [`super::sources::MAX_BLOB_SIZE`]. A `checksum` (`SHA256:<hex>`) must
//! match the source, or nothing is built.

use std::path::Path as FsPath;
use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::body::Bytes;
use axum::http::StatusCode;
use paas_sandbox::egress::EgressPolicy;
use serde::Deserialize;
use sha2::{Digest, Sha256};
use tokio::io::AsyncReadExt;

use super::extract::CurrentUser;
use super::sources::{self, MAX_BLOB_SIZE};
use super::views::BuildView;
use super::{ApiError, AppState};
use crate::logplex::drains::Endpoint;
use crate::logplex::drains::http::CheckedResolver;
use crate::model::App;

/// How long fetching a source from elsewhere may take: 10 minutes.
pub const FETCH_TIMEOUT: Duration = Duration::from_secs(600);

/// The body of a build from a URL.
#[derive(Debug, Deserialize)]
pub struct NewBuild {
    source_blob: SourceBlob,
}

/// Where the source is.
#[derive(Debug, Deserialize)]
pub struct SourceBlob {
    /// A URL of a tarball (`.tar` or `.tar.gz`).
    pub url: String,
    /// The source's version (a git commit), for the release's description.
    pub version: Option<String>,
    /// `SHA256:<64 hex digits>` of the tarball.
    pub checksum: Option<String>,
}

/// `SHA256:<hex>` → the lowercase hex.
fn parse_checksum(checksum: &str) -> Result<String, ApiError> {
    let hex = checksum
        .split_once(':')
        .filter(|(algorithm, _)| algorithm.eq_ignore_ascii_case("sha256"))
        .map(|(_, hex)| hex.to_ascii_lowercase())
        .filter(|hex| hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit()));
    hex.ok_or_else(|| ApiError::invalid("source_blob.checksum must be SHA256:<64 hex digits>."))
}

/// Starts a build of the source at `body`'s `source_blob.url` (see the module docs).
pub(super) async fn create(state: &AppState, caller: &CurrentUser, app: &App, body: &Bytes) -> Result<(StatusCode, Json<BuildView>), ApiError> {
    let body: NewBuild = serde_json::from_slice(body)
        .map_err(|e| ApiError::invalid(format!("The build must be {{\"source_blob\": {{\"url\", \"version\"?, \"checksum\"?}}}}: {e}")))?;
    let blob = body.source_blob;
    let upload = download(state, &blob).await?;
    let build = start(state, caller, app, upload, blob.version).await?;
    Ok((StatusCode::CREATED, Json(BuildView::new(&build, app, &state.config))))
}

/// The source at `blob.url` in a temp file of the build uploads (removed when dropped), its
/// checksum checked.
pub(super) async fn download(state: &AppState, blob: &SourceBlob) -> Result<tempfile::TempPath, ApiError> {
    let deploys = super::builds::deploys(state)?;
    let expected = blob.checksum.as_deref().map(parse_checksum).transpose()?;
    let uploads = deploys.builder().config().data_dir.join("uploads");
    tokio::fs::create_dir_all(&uploads).await.map_err(ApiError::internal)?;
    let upload = tempfile::NamedTempFile::new_in(&uploads).map_err(ApiError::internal)?.into_temp_path();
    let size = match sources::local_token(state, &blob.url) {
        Some(token) => {
            let path = sources::blob(&sources::store(state)?, token)?;
            tokio::fs::copy(&path, &upload).await.map_err(ApiError::internal)?
        }
        None => fetch(state.logs.drain_policy().egress.clone(), &blob.url, &upload, MAX_BLOB_SIZE).await?,
    };
    if size == 0 {
        return Err(ApiError::invalid("The source at source_blob.url is empty: it must be a tarball of the source."));
    }
    let actual = sha256_file(&upload).await?;
    if let Some(expected) = expected.filter(|expected| *expected != actual) {
        return Err(ApiError::invalid(format!(
            "The source's checksum is SHA256:{actual}, not SHA256:{expected} as source_blob.checksum says: nothing was built."
        )));
    }
    Ok(upload)
}

/// Starts the build of a downloaded source (the file goes when the build ends); its output is
/// kept for `output_stream_url`.
pub(super) async fn start(
    state: &AppState,
    caller: &CurrentUser,
    app: &App,
    upload: tempfile::TempPath,
    version: Option<String>,
) -> Result<crate::model::Build, ApiError> {
    let deploys = super::builds::deploys(state)?;
    let source = paas_builder::Source::Tarball(upload.to_path_buf());
    let (build, mut lines) = deploys.start_build(app, &caller.user, source, version, upload).await?;
    // Nobody reads the output here: it is kept for output_stream_url; this only drains it.
    tokio::spawn(async move { while lines.next().await.is_some() {} });
    Ok(build)
}

/// Fetches `url` into `path` where `egress` lets tenants go (as log drains), at most `limit`
/// bytes; the size fetched.
async fn fetch(egress: Arc<EgressPolicy>, url: &str, path: &FsPath, limit: u64) -> Result<u64, ApiError> {
    let refused = |why: String| ApiError::invalid(format!("Cannot fetch source_blob.url: {why}"));
    let endpoint = Endpoint::parse(url).map_err(|e| refused(e.to_string()))?;
    if !matches!(endpoint, Endpoint::Http { .. }) {
        return Err(refused("it must be an http:// or https:// URL.".into()));
    }
    // An address literal never reaches the resolver: checked here.
    if let Some(Err(denied)) = endpoint.literal_address().map(|ip| egress.check(ip)) {
        return Err(refused(format!("{denied}; builds cannot fetch from loopback, link-local, private or this server's own addresses.")));
    }
    let _ = rustls::crypto::ring::default_provider().install_default();
    let client = reqwest::Client::builder()
        .user_agent("paas-builds")
        .timeout(FETCH_TIMEOUT)
        .connect_timeout(Duration::from_secs(10))
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .dns_resolver(Arc::new(CheckedResolver(egress)))
        .build()
        .map_err(ApiError::internal)?;
    let response = client.get(url).send().await.map_err(|e| refused(describe(&e)))?;
    if !response.status().is_success() {
        return Err(refused(format!("the server answered {}.", response.status())));
    }
    if response.content_length().is_some_and(|length| length > limit) {
        return Err(sources::too_large(limit));
    }
    sources::write_limited(path, response.bytes_stream(), limit).await
}

/// A fetch error with its causes (the egress refusal is one of them).
fn describe(error: &reqwest::Error) -> String {
    let mut text = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        text.push_str(&format!(": {cause}"));
        source = cause.source();
    }
    text
}

async fn sha256_file(path: &FsPath) -> Result<String, ApiError> {
    let mut file = tokio::fs::File::open(path).await.map_err(ApiError::internal)?;
    let mut hasher = Sha256::new();
    let mut buffer = vec![0u8; 64 * 1024];
    loop {
        let n = file.read(&mut buffer).await.map_err(ApiError::internal)?;
        if n == 0 {
            break;
        }
        hasher.update(&buffer[..n]);
    }
    Ok(hex::encode(hasher.finalize()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::routing::get;

    /// A source server on loopback: `/ok` (a 5-byte source), `/redirect` (to `/ok`), `/big`.
    async fn source_server() -> String {
        let router = axum::Router::new()
            .route("/ok", get(|| async { "hello" }))
            .route("/big", get(|| async { "0123456789" }))
            .route("/redirect", get(|| async { (StatusCode::FOUND, [("location", "/ok")]) }));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, router).await });
        format!("{address}")
    }

    async fn fetched(egress: &Arc<EgressPolicy>, url: &str, limit: u64) -> Result<String, String> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("source");
        match fetch(egress.clone(), url, &path, limit).await {
            Ok(size) => Ok(format!("{size}:{}", std::fs::read_to_string(&path).unwrap())),
            Err(e) => Err(format!("{e}")),
        }
    }

    #[tokio::test]
    async fn a_source_url_is_fetched_only_where_the_egress_policy_allows_without_redirects_within_its_limit() {
        let address = source_server().await;
        let port = address.rsplit(':').next().unwrap();
        let allowed = Arc::new(EgressPolicy::new(vec![paas_sandbox::egress::parse_allow("127.0.0.1/32").unwrap()], Vec::new()));
        assert_eq!(fetched(&allowed, &format!("http://{address}/ok"), 100).await, Ok("5:hello".into()));
        let redirect = fetched(&allowed, &format!("http://{address}/redirect"), 100).await.unwrap_err();
        assert!(redirect.contains("Cannot fetch source_blob.url: the server answered 302 Found."), "{redirect}");
        let big = fetched(&allowed, &format!("http://{address}/big"), 4).await.unwrap_err();
        assert!(big.contains("The source is over the limit"), "{big}");
        let scheme = fetched(&allowed, &format!("syslog://{address}"), 100).await.unwrap_err();
        assert!(scheme.contains("it must be an http:// or https:// URL."), "{scheme}");

        // The default policy denies loopback, by address and by name (resolved, then checked).
        let denied = Arc::new(EgressPolicy::new(Vec::new(), Vec::new()));
        let literal = fetched(&denied, &format!("http://{address}/ok"), 100).await.unwrap_err();
        assert!(literal.contains("(invalid_params): Cannot fetch source_blob.url: 127.0.0.1 denied (loopback); builds cannot"), "{literal}");
        let named = fetched(&denied, &format!("http://localhost:{port}/ok"), 100).await.unwrap_err();
        assert!(named.contains("(invalid_params): Cannot fetch source_blob.url: ") && named.contains("denied (loopback)"), "{named}");
    }

    #[test]
    fn checksums_are_sha256_and_64_hex_digits() {
        let hex = "Ab".repeat(32);
        assert_eq!(parse_checksum(&format!("SHA256:{hex}")).unwrap(), "ab".repeat(32));
        for bad in [format!("MD5:{hex}"), hex.clone(), format!("SHA256:{}", "ab".repeat(31)), format!("SHA256:{}", "zz".repeat(32))] {
            assert!(parse_checksum(&bad).is_err(), "{bad}");
        }
    }
}
