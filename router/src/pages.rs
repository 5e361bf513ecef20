//! The small HTML pages the router answers with when it cannot give the dyno's response.

use http::{Response, StatusCode, header};

use crate::backend::{RouterBody, full_body};
use crate::log::ErrorCode;

/// The page for a router error: status per [`ErrorCode::status`], a short HTML body.
pub fn error_response(code: ErrorCode) -> Response<RouterBody> {
    let (title, text) = match code {
        ErrorCode::H80 => (
            "Offline for maintenance",
            "This app is undergoing maintenance right now. Please check back later.",
        ),
        ErrorCode::H25 => ("Request too large", "The request body is larger than this platform accepts."),
        _ => (
            "Application error",
            "An error occurred in the application and your page could not be served. \
             If you are the application owner, check your logs for details.",
        ),
    };
    let mut response = page(code.status(), title, text);
    if code != ErrorCode::H25 {
        response.headers_mut().insert(header::RETRY_AFTER, http::HeaderValue::from_static("5"));
    }
    response
}

/// The 404 page for a host that routes to no app. It names no app.
pub fn no_such_app() -> Response<RouterBody> {
    page(StatusCode::NOT_FOUND, "No such app", "There is no app configured at this address.")
}

fn page(status: StatusCode, title: &str, text: &str) -> Response<RouterBody> {
    let html = format!(
        "<!DOCTYPE html>\n<html>\n<head>\n<meta charset=\"utf-8\">\n<title>{title}</title>\n\
         <style>body{{font-family:sans-serif;margin:4em auto;max-width:36em;color:#333}}</style>\n\
         </head>\n<body>\n<h1>{title}</h1>\n<p>{text}</p>\n</body>\n</html>\n"
    );
    let mut response = Response::new(full_body(html));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, http::HeaderValue::from_static("text/html; charset=utf-8"));
    headers.insert(header::CACHE_CONTROL, http::HeaderValue::from_static("no-cache, no-store"));
    response
}
