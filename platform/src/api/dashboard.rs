//! The dashboard: a small browser app served under `/dashboard` on the API listener. Its files
//! (`platform/dashboard/`) are built into the binary; they are public, and every piece of data
//! the app shows comes from this API, fetched by the browser with the user's key in an
//! `Authorization` header, so a user sees exactly what the API lets them see. Every answer
//! carries a strict Content-Security-Policy: scripts and styles only from these files, fetches
//! only to this origin, no inline script, no framing.

use axum::extract::Path;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};

use super::ApiError;

/// The policy of every dashboard answer.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
     img-src 'self' data:; connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

/// One built-in file: its path under `/dashboard/`, content type and bytes.
struct Asset {
    path: &'static str,
    content_type: &'static str,
    body: &'static str,
}

macro_rules! asset {
    ($path:literal, $type:expr) => {
        Asset { path: $path, content_type: $type, body: include_str!(concat!("../../dashboard/", $path)) }
    };
}

const JS: &str = "text/javascript; charset=utf-8";

/// The dashboard's files.
const ASSETS: &[Asset] = &[
    asset!("index.html", "text/html; charset=utf-8"),
    asset!("style.css", "text/css; charset=utf-8"),
    asset!("js/main.js", JS),
    asset!("js/api.js", JS),
    asset!("js/dom.js", JS),
    asset!("js/signin.js", JS),
    asset!("js/apps.js", JS),
    asset!("js/app.js", JS),
    asset!("js/resources.js", JS),
    asset!("js/logs.js", JS),
    asset!("js/charts.js", JS),
];

/// `GET /dashboard`: to `/dashboard/`, so that the page's relative links resolve under it.
pub async fn root() -> Redirect {
    Redirect::permanent("/dashboard/")
}

/// `GET /dashboard/`: the page.
pub async fn index() -> Response {
    serve("index.html")
}

/// `GET /dashboard/{*file}`: one of the built-in files; anything else is a 404.
pub async fn file(Path(file): Path<String>) -> Response {
    serve(&file)
}

fn serve(path: &str) -> Response {
    let Some(asset) = ASSETS.iter().find(|asset| asset.path == path) else {
        let mut response = ApiError::not_found(format!("No dashboard file {path:?}.")).into_response();
        secure(&mut response);
        return response;
    };
    let mut response = (StatusCode::OK, asset.body).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(asset.content_type));
    // Small files, served from memory: always revalidated, so an upgraded server is seen at once.
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    secure(&mut response);
    response
}

/// The security headers of every dashboard answer.
fn secure(response: &mut Response) {
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CONTENT_SECURITY_POLICY));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_file_is_served_with_the_policy_and_nothing_else_is() {
        for asset in ASSETS {
            let response = serve(asset.path);
            assert_eq!(response.status(), StatusCode::OK, "{}", asset.path);
            assert_eq!(response.headers()[header::CONTENT_SECURITY_POLICY], CONTENT_SECURITY_POLICY);
            assert_eq!(response.headers()[header::CONTENT_TYPE], asset.content_type);
        }
        for missing in ["", "../Cargo.toml", "js/../index.html", "nope.js"] {
            let response = serve(missing);
            assert_eq!(response.status(), StatusCode::NOT_FOUND, "{missing}");
            assert_eq!(response.headers()[header::CONTENT_SECURITY_POLICY], CONTENT_SECURITY_POLICY);
        }
    }

    #[test]
    fn no_file_has_inline_script_or_a_foreign_source() {
        for asset in ASSETS {
            // The SVG namespace is a name, not a source.
            let body = asset.body.replace("\"http://www.w3.org/2000/svg\"", "");
            assert!(!body.contains("http://") && !body.contains("https://"), "{} names another origin", asset.path);
            assert!(!body.contains("innerHTML") && !body.contains("eval("), "{} writes markup from strings", asset.path);
        }
        let html = ASSETS[0].body;
        assert!(!html.contains("<script>") && !html.contains("javascript:"), "index.html has inline script");
        let handler = html.split(|c: char| c.is_whitespace()).any(|word| word.starts_with("on") && word.contains('='));
        assert!(!handler, "index.html has an inline event handler");
    }
}
