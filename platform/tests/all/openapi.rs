//! `/openapi.json` describes every route the API serves: a summary (`openapi::ROUTES`), and
//! request and response schemas (`openapi_schemas::IO`) whose names resolve. A route added
//! without them fails here, naming it and where to add it.

use axum::http::Method;
use paas_platform::api::{self, openapi, openapi_schemas, permissions};

use crate::api::setup_with;

#[tokio::test]
async fn every_route_has_a_summary_and_request_and_response_schemas() {
    let api = setup_with(Default::default()).await;
    let (_, paths) = api::app_and_paths(api.state.clone());
    let routes: Vec<(&str, &str)> =
        permissions::TABLE.iter().filter(|(_, path, _)| paths.contains(path)).map(|(m, p, _)| (*m, *p)).collect();
    assert!(routes.len() > 100, "the permission table names the routes: {}", routes.len());
    let mut missing = Vec::new();
    for (method, path) in &routes {
        if !openapi::ROUTES.iter().any(|(p, m, _, _)| p == path && m.eq_ignore_ascii_case(method)) {
            missing.push(format!("{method} {path}: no summary in api/openapi.rs ROUTES"));
        }
        if openapi_schemas::operation_io(method, path).is_none() {
            missing.push(format!("{method} {path}: no (request, answer) row in api/openapi_schemas.rs IO"));
        }
    }
    for (method, path, _, _) in openapi_schemas::IO {
        if !routes.contains(&(method, path)) {
            missing.push(format!("{method} {path}: a row in openapi_schemas.rs IO, but no such route"));
        }
    }
    assert!(missing.is_empty(), "/openapi.json misses routes:\n{}", missing.join("\n"));

    // The document as served: each operation's schemas resolve, and bodies go with writes.
    let document = api.send(Method::GET, "/openapi.json", None, None, &[]).await.body;
    let schemas = document["components"]["schemas"].as_object().expect("components.schemas");
    let text = document["paths"].to_string();
    for reference in text.split("#/components/schemas/").skip(1) {
        let name: String = reference.chars().take_while(|c| c.is_ascii_alphanumeric()).collect();
        assert!(schemas.contains_key(&name), "the schema {name} is named but not defined");
    }
    for (method, path) in &routes {
        let operation = &document["paths"][*path][method.to_ascii_lowercase()];
        let responses = operation["responses"].as_object().expect("responses");
        assert!(responses.keys().any(|status| status.starts_with('2')), "{method} {path}: no success answer");
        assert!(responses.contains_key("default"), "{method} {path}: no error answer");
    }
}
