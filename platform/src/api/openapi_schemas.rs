//! The request and response schemas of `/openapi.json`: [`IO`] gives each route (method and
//! path, as in the permission table) its request body and its success answer, naming
//! [`components`]' schemas. The test `tests/all/openapi.rs` fails for a route of the router
//! without a row here (or in `openapi::ROUTES`), and the schemathesis run
//! (`tests/e2e/schemathesis.rs`) checks live answers against these schemas.
//!
//! Adding a route: a row in [`IO`]: `(method, path, request, answer)`, where `request` is `None`
//! or a component's name, and `answer` is `"<status> <what>"`: `<what>` is a component's name,
//! `[Name]` for a list of them, `text` (text/plain), `pem` (application/x-pem-file), `any` (a file of any type), `events` (text/event-stream), `bytes`
//! (application/octet-stream) or `empty`. `Object` and `[Object]` fit any JSON object while a
//! resource has no schema of its own yet.

use serde_json::{Value, json};

/// (method, path, request body schema, success answer).
#[rustfmt::skip]
pub const IO: &[(&str, &str, Option<&str>, &str)] = &[
    ("GET", "/openapi.json", None, "200 Object"),
    ("GET", "/paas/ca.pem", None, "200 pem"),
    ("GET", "/account", None, "200 Account"),
    ("PATCH", "/account", Some("Object"), "200 Account"),
    ("POST", "/users", Some("UserCreate"), "201 Object"),
    ("GET", "/users/{user}", None, "200 Account"),
    ("PATCH", "/users/{user}", Some("UserUpdate"), "200 Account"),
    ("GET", "/nodes", None, "200 [Object]"),
    ("POST", "/nodes/tokens", Some("Object"), "201 Object"),
    ("GET", "/grid/node", None, "200 Object"),
    ("GET", "/grid/slugs/{checksum}", None, "200 bytes"),
    ("GET", "/grid/apps/{app_id}/dynos", None, "200 [Object]"),
    ("GET", "/grid/apps/{app_id}/logs", None, "200 text"),
    ("GET", "/grid/apps/{app_id}/latency", None, "200 Object"),
    ("GET", "/users/{user}/apps", None, "200 [App]"),
    ("GET", "/oauth/authorizations", None, "200 [Authorization]"),
    ("POST", "/oauth/authorizations", Some("Object"), "201 Authorization"),
    ("GET", "/oauth/authorizations/{id}", None, "200 Authorization"),
    ("DELETE", "/oauth/authorizations/{id}", None, "200 Authorization"),
    ("GET", "/oauth/sessions", None, "200 [Object]"),
    ("DELETE", "/oauth/sessions/{id}", None, "200 Object"),
    ("GET", "/account/features", None, "200 [Feature]"),
    ("GET", "/regions", None, "200 [Named]"),
    ("GET", "/stacks", None, "200 [Named]"),
    ("GET", "/dyno-sizes", None, "200 [Named]"),
    ("GET", "/apps", None, "200 [App]"),
    ("POST", "/apps", Some("AppCreate"), "201 App"),
    ("GET", "/apps/{app}", None, "200 App"),
    ("PATCH", "/apps/{app}", Some("AppUpdate"), "200 App"),
    ("DELETE", "/apps/{app}", None, "200 App"),
    ("GET", "/apps/{app}/config-vars", None, "200 ConfigVars"),
    ("PATCH", "/apps/{app}/config-vars", Some("ConfigVarsUpdate"), "200 ConfigVars"),
    ("GET", "/apps/{app}/releases", None, "200 [Release]"),
    ("POST", "/apps/{app}/releases", Some("ReleaseCreate"), "201 Release"),
    ("GET", "/apps/{app}/releases/{release}", None, "200 Release"),
    ("GET", "/apps/{app}/releases/{release}/config-vars", None, "200 ConfigVars"),
    ("GET", "/release-output/{token}", None, "200 text"),
    ("GET", "/apps/{app}/formation", None, "200 [Formation]"),
    ("PATCH", "/apps/{app}/formation", Some("FormationBatch"), "200 [Formation]"),
    ("GET", "/apps/{app}/formation/{type}", None, "200 Formation"),
    ("PATCH", "/apps/{app}/formation/{type}", Some("FormationUpdate"), "200 Formation"),
    ("DELETE", "/apps/{app}/formations/{type}", None, "202 Object"),
    ("POST", "/apps/{app}/formations/{type}/actions/stop", None, "202 Object"),
    ("GET", "/apps/{app}/dynos", None, "200 [Dyno]"),
    ("POST", "/apps/{app}/dynos", Some("DynoCreate"), "201 Dyno"),
    ("DELETE", "/apps/{app}/dynos", None, "202 Object"),
    ("GET", "/apps/{app}/dynos/{dyno}", None, "200 Dyno"),
    ("DELETE", "/apps/{app}/dynos/{dyno}", None, "202 Object"),
    ("POST", "/apps/{app}/dynos/{dyno}/actions/stop", None, "202 Object"),
    ("GET", "/apps/{app}/builds", None, "200 [Build]"),
    ("POST", "/apps/{app}/builds", Some("BuildCreate"), "201 Build"),
    ("GET", "/apps/{app}/builds/{build}", None, "200 Build"),
    ("POST", "/sources", None, "201 Source"),
    ("GET", "/sources/{token}", None, "200 bytes"),
    ("PUT", "/sources/{token}", Some("bytes"), "200 empty"),
    ("GET", "/apps/{app}/builds/{build}/output", None, "200 text"),
    ("GET", "/build-output/{token}", None, "200 text"),
    ("DELETE", "/apps/{app}/build-cache", None, "202 empty"),
    ("GET", "/apps/{app}/buildpack-installations", None, "200 [Object]"),
    ("PUT", "/apps/{app}/buildpack-installations", Some("BuildpackUpdate"), "200 [Object]"),
    ("GET", "/apps/{app}/slugs/{slug}", None, "200 Slug"),
    ("POST", "/apps/{app}/log-sessions", Some("LogSessionCreate"), "201 LogSession"),
    ("GET", "/log-sessions/{token}", None, "200 events"),
    ("GET", "/apps/{app}/log-drains", None, "200 [LogDrain]"),
    ("POST", "/apps/{app}/log-drains", Some("LogDrainCreate"), "201 LogDrain"),
    ("GET", "/apps/{app}/log-drains/{drain}", None, "200 LogDrain"),
    ("DELETE", "/apps/{app}/log-drains/{drain}", None, "200 LogDrain"),
    ("GET", "/metrics", None, "200 text"),
    ("GET", "/apps/{app}/metrics", None, "200 Object"),
    ("GET", "/apps/{app}/formation/{type}/autoscaling", None, "200 Object"),
    ("PUT", "/apps/{app}/formation/{type}/autoscaling", Some("Object"), "200 Object"),
    ("DELETE", "/apps/{app}/formation/{type}/autoscaling", None, "200 Object"),
    ("GET", "/apps/{app}/features", None, "200 [Feature]"),
    ("GET", "/apps/{app}/features/{name}", None, "200 Feature"),
    ("PATCH", "/apps/{app}/features/{name}", Some("FeatureUpdate"), "200 Feature"),
    ("GET", "/apps/{app}/scheduled-jobs", None, "200 [ScheduledJob]"),
    ("POST", "/apps/{app}/scheduled-jobs", Some("ScheduledJobCreate"), "201 ScheduledJob"),
    ("GET", "/apps/{app}/scheduled-jobs/{job}", None, "200 ScheduledJob"),
    ("DELETE", "/apps/{app}/scheduled-jobs/{job}", None, "200 ScheduledJob"),
    ("GET", "/apps/{app}/addons", None, "200 [Addon]"),
    ("POST", "/apps/{app}/addons", Some("AddonCreate"), "201 Addon"),
    ("GET", "/apps/{app}/addons/{addon}", None, "200 Addon"),
    ("PATCH", "/apps/{app}/addons/{addon}", Some("AddonUpdate"), "200 Addon"),
    ("DELETE", "/apps/{app}/addons/{addon}", None, "200 Addon"),
    ("GET", "/apps/{app}/addon-attachments", None, "200 [Attachment]"),
    ("GET", "/apps/{app}/addon-attachments/{attachment}", None, "200 Attachment"),
    ("GET", "/addons", None, "200 [Addon]"),
    ("GET", "/addons/{addon}", None, "200 Addon"),
    ("GET", "/addons/{addon}/addon-attachments", None, "200 [Attachment]"),
    ("GET", "/addon-attachments", None, "200 [Attachment]"),
    ("POST", "/addon-attachments", Some("AttachmentCreate"), "201 Attachment"),
    ("GET", "/addon-attachments/{id}", None, "200 Attachment"),
    ("DELETE", "/addon-attachments/{id}", None, "200 Attachment"),
    ("POST", "/actions/addons/resolve", Some("Resolve"), "200 [Addon]"),
    ("POST", "/actions/addon-attachments/resolve", Some("Resolve"), "200 [Attachment]"),
    ("GET", "/addon-services", None, "200 [Named]"),
    ("GET", "/addon-services/{service}", None, "200 Named"),
    ("GET", "/addon-services/{service}/plans", None, "200 [Named]"),
    ("GET", "/addon-services/{service}/plans/{plan}", None, "200 Named"),
    ("GET", "/plans", None, "200 [Named]"),
    ("GET", "/apps/{app}/sni-endpoints", None, "200 [SniEndpoint]"),
    ("POST", "/apps/{app}/sni-endpoints", Some("Certificate"), "201 SniEndpoint"),
    ("GET", "/apps/{app}/sni-endpoints/{endpoint}", None, "200 SniEndpoint"),
    ("PATCH", "/apps/{app}/sni-endpoints/{endpoint}", Some("Certificate"), "200 SniEndpoint"),
    ("DELETE", "/apps/{app}/sni-endpoints/{endpoint}", None, "200 SniEndpoint"),
    ("GET", "/apps/{app}/domains", None, "200 [Domain]"),
    ("POST", "/apps/{app}/domains", Some("DomainCreate"), "201 Domain"),
    ("GET", "/apps/{app}/domains/{domain}", None, "200 Domain"),
    ("PATCH", "/apps/{app}/domains/{domain}", Some("DomainUpdate"), "200 Domain"),
    ("DELETE", "/apps/{app}/domains/{domain}", None, "200 Domain"),
    ("GET", "/apps/{app}/collaborators", None, "200 [Collaborator]"),
    ("POST", "/apps/{app}/collaborators", Some("CollaboratorCreate"), "201 Collaborator"),
    ("GET", "/apps/{app}/collaborators/{who}", None, "200 Collaborator"),
    ("DELETE", "/apps/{app}/collaborators/{who}", None, "200 Collaborator"),
    ("GET", "/teams", None, "200 [Named]"),
    ("POST", "/teams", Some("TeamCreate"), "201 Named"),
    ("GET", "/teams/{team}", None, "200 Named"),
    ("DELETE", "/teams/{team}", None, "200 Named"),
    ("GET", "/teams/{team}/features", None, "200 [Object]"),
    ("GET", "/teams/{team}/members", None, "200 [Object]"),
    ("POST", "/teams/{team}/members", Some("MemberCreate"), "200 Object"),
    ("PUT", "/teams/{team}/members", Some("MemberCreate"), "200 Object"),
    ("PATCH", "/teams/{team}/members", Some("MemberCreate"), "200 Object"),
    ("DELETE", "/teams/{team}/members/{member}", None, "200 Object"),
    ("GET", "/teams/{team}/apps", None, "200 [App]"),
    ("POST", "/teams/apps", Some("TeamAppCreate"), "201 App"),
    ("GET", "/teams/apps/{app}", None, "200 App"),
    ("PATCH", "/teams/apps/{app}", Some("Object"), "200 App"),
    ("GET", "/teams/apps/{app}/collaborators", None, "200 [Collaborator]"),
    ("POST", "/teams/apps/{app}/collaborators", Some("CollaboratorCreate"), "201 Collaborator"),
    ("GET", "/teams/apps/{app}/collaborators/{who}", None, "200 Collaborator"),
    ("PATCH", "/teams/apps/{app}/collaborators/{who}", Some("Object"), "200 Collaborator"),
    ("DELETE", "/teams/apps/{app}/collaborators/{who}", None, "200 Collaborator"),
    ("GET", "/teams/permissions", None, "200 [Object]"),
    ("GET", "/team-app-permissions", None, "200 [Object]"),
    ("POST", "/account/app-transfers", Some("Object"), "201 Object"),
    ("GET", "/dashboard", None, "200 any"),
    ("GET", "/dashboard/", None, "200 any"),
    ("GET", "/dashboard/{*file}", None, "200 any"),
    // Pipelines, webhooks, app setups (api-pipelines): their own schemas to come.
    ("POST", "/app-setups", Some("Object"), "202 Object"),
    ("GET", "/app-setups/{setup}", None, "200 Object"),
    ("GET", "/pipelines", None, "200 [Named]"),
    ("POST", "/pipelines", Some("Object"), "201 Named"),
    ("GET", "/pipelines/{pipeline}", None, "200 Named"),
    ("PATCH", "/pipelines/{pipeline}", Some("Object"), "200 Named"),
    ("DELETE", "/pipelines/{pipeline}", None, "200 Named"),
    ("GET", "/pipelines/{pipeline}/pipeline-couplings", None, "200 [Object]"),
    ("GET", "/pipeline-couplings", None, "200 [Object]"),
    ("POST", "/pipeline-couplings", Some("Object"), "201 Object"),
    ("GET", "/pipeline-couplings/{coupling}", None, "200 Object"),
    ("PATCH", "/pipeline-couplings/{coupling}", Some("Object"), "200 Object"),
    ("DELETE", "/pipeline-couplings/{coupling}", None, "200 Object"),
    ("GET", "/apps/{app}/pipeline-couplings", None, "200 Object"),
    ("POST", "/filters/apps", Some("Object"), "200 [App]"),
    ("POST", "/pipeline-promotions", Some("Object"), "201 Object"),
    ("GET", "/pipeline-promotions/{promotion}", None, "200 Object"),
    ("GET", "/pipeline-promotions/{promotion}/promotion-targets", None, "200 [Object]"),
    ("GET", "/apps/{app}/webhooks", None, "200 [Object]"),
    ("POST", "/apps/{app}/webhooks", Some("Object"), "201 Object"),
    ("GET", "/apps/{app}/webhooks/{webhook}", None, "200 Object"),
    ("PATCH", "/apps/{app}/webhooks/{webhook}", Some("Object"), "200 Object"),
    ("DELETE", "/apps/{app}/webhooks/{webhook}", None, "200 Object"),
    ("GET", "/apps/{app}/webhook-deliveries", None, "200 [Object]"),
    ("GET", "/apps/{app}/webhook-deliveries/{delivery}", None, "200 Object"),
    ("GET", "/apps/{app}/webhook-events", None, "200 [Object]"),
    ("GET", "/apps/{app}/webhook-events/{event}", None, "200 Object"),
];

/// An object schema with these required properties (typed) and any others.
fn object(required: &[(&str, Value)]) -> Value {
    let properties: serde_json::Map<String, Value> = required.iter().map(|(k, v)| (k.to_string(), v.clone())).collect();
    json!({
        "type": "object",
        "required": required.iter().map(|(k, _)| *k).collect::<Vec<_>>(),
        "properties": properties,
    })
}

/// A request body's object schema: these properties, `required` among them.
fn body(required: &[&str], properties: Value) -> Value {
    json!({"type": "object", "required": required, "properties": properties})
}

/// The schemas [`IO`] names (`components.schemas`).
pub fn components() -> Value {
    let string = || json!({"type": "string"});
    let nullable_string = || json!({"type": ["string", "null"]});
    let id = || json!({"type": "string", "minLength": 1});
    let integer = || json!({"type": "integer"});
    let boolean = || json!({"type": "boolean"});
    let any_object = || json!({"type": "object"});
    let schemas: Vec<(&str, Value)> = vec![
        ("Error", object(&[("id", string()), ("message", string())])),
        ("Object", json!({"type": "object"})),
        ("Named", object(&[("id", id()), ("name", string())])),
        ("Account", object(&[("id", id()), ("email", string())])),
        ("Authorization", object(&[("id", id())])),
        ("App", object(&[
            ("id", id()), ("name", string()), ("owner", any_object()), ("region", any_object()),
            ("stack", any_object()), ("web_url", string()), ("git_url", string()), ("created_at", string()),
        ])),
        ("ConfigVars", json!({"type": "object", "additionalProperties": {"type": "string"}})),
        ("Release", object(&[("id", id()), ("version", integer()), ("status", string()), ("current", boolean())])),
        ("Formation", object(&[("type", string()), ("quantity", integer()), ("size", string())])),
        ("Dyno", object(&[("name", string()), ("type", string()), ("state", string())])),
        ("Build", object(&[("id", id()), ("status", json!({"enum": ["pending", "succeeded", "failed"]}))])),
        ("Slug", object(&[("id", id())])),
        ("Source", object(&[("source_blob", object(&[("get_url", string()), ("put_url", string())]))])),
        ("LogSession", object(&[("id", id()), ("logplex_url", string())])),
        ("LogDrain", object(&[("id", id()), ("url", string())])),
        ("Feature", object(&[("name", string()), ("enabled", boolean())])),
        ("ScheduledJob", object(&[("id", id()), ("schedule", string()), ("command", string())])),
        ("Addon", object(&[("id", id()), ("name", string())])),
        ("Attachment", object(&[("id", id()), ("name", string())])),
        ("Domain", object(&[
            ("id", id()), ("hostname", string()), ("kind", json!({"enum": ["heroku", "custom"]})),
            ("sni_endpoint", json!({"type": ["object", "null"]})),
        ])),
        ("Collaborator", object(&[("id", id()), ("user", any_object()), ("role", nullable_string())])),
        // An SNI endpoint never carries its private key.
        ("SniEndpoint", json!({
            "allOf": [object(&[
                ("id", id()), ("name", string()), ("certificate_chain", string()),
                ("domains", json!({"type": "array", "items": string()})), ("ssl_cert", json!({"type": ["object", "null"]})),
            ])],
            "not": {"required": ["private_key"]},
        })),
        ("AppCreate", body(&[], json!({"name": string(), "region": string(), "stack": string()}))),
        ("AppUpdate", body(&[], json!({"name": string(), "maintenance": boolean(), "build_stack": string()}))),
        ("ConfigVarsUpdate", json!({"type": "object", "additionalProperties": {"type": ["string", "null"]}})),
        ("ReleaseCreate", body(&[], json!({"release": string(), "slug": string(), "description": string()}))),
        ("FormationBatch", body(&["updates"], json!({"updates": {"type": "array", "items": body(&["type"], json!({
            "type": string(), "quantity": {"type": ["integer", "string"]}, "size": string(),
        }))}}))),
        ("FormationUpdate", body(&[], json!({"quantity": {"type": ["integer", "string"]}, "size": string()}))),
        ("DynoCreate", body(&["command"], json!({
            "command": string(), "attach": boolean(), "size": string(), "type": string(),
            "env": {"type": "object", "additionalProperties": string()}, "time_to_live": integer(),
        }))),
        ("BuildCreate", body(&["source_blob"], json!({"source_blob": body(&["url"], json!({
            "url": string(), "version": nullable_string(), "checksum": nullable_string(),
        }))}))),
        ("BuildpackUpdate", body(&["updates"], json!({"updates": {"type": "array", "items": body(&["buildpack"], json!({"buildpack": string()}))}}))),
        ("LogSessionCreate", body(&[], json!({"dyno": string(), "lines": integer(), "source": string(), "tail": boolean()}))),
        ("LogDrainCreate", body(&["url"], json!({"url": string()}))),
        ("FeatureUpdate", body(&["enabled"], json!({"enabled": boolean()}))),
        ("ScheduledJobCreate", body(&["schedule", "command"], json!({"schedule": string(), "command": string()}))),
        ("AddonCreate", body(&["plan"], json!({"plan": {"type": ["string", "object"]}, "name": string(), "attachment": any_object()}))),
        ("AddonUpdate", body(&["plan"], json!({"plan": {"type": ["string", "object"]}}))),
        ("AttachmentCreate", body(&["addon", "app"], json!({"addon": string(), "app": string(), "name": string()}))),
        ("Resolve", body(&[], json!({"addon": string(), "addon_attachment": string(), "app": string(), "addon_service": string()}))),
        ("Certificate", body(&["certificate_chain", "private_key"], json!({"certificate_chain": string(), "private_key": string()}))),
        ("DomainCreate", body(&["hostname"], json!({"hostname": string(), "sni_endpoint": nullable_string()}))),
        ("DomainUpdate", body(&["sni_endpoint"], json!({"sni_endpoint": nullable_string()}))),
        ("CollaboratorCreate", body(&["user"], json!({"user": string(), "permissions": {"type": "array", "items": string()}}))),
        ("UserCreate", body(&["email"], json!({"email": string(), "password": string()}))),
        ("UserUpdate", body(&[], json!({"dyno_sizes": {"type": ["array", "null"], "items": string()}}))),
        ("TeamCreate", body(&["name"], json!({"name": string()}))),
        ("MemberCreate", body(&["email"], json!({"email": string(), "role": string()}))),
        ("TeamAppCreate", body(&[], json!({"name": string(), "team": string()}))),
    ];
    Value::Object(schemas.into_iter().map(|(name, schema)| (name.to_string(), schema)).collect())
}

/// The request body and responses of `method path` (`None`: no row in [`IO`]).
pub fn operation_io(method: &str, path: &str) -> Option<(Option<Value>, Value)> {
    let (_, _, request, answer) = IO.iter().find(|(m, p, _, _)| m.eq_ignore_ascii_case(method) && *p == path)?;
    let content = |what: &str| -> Value {
        let reference = |name: &str| json!({"$ref": format!("#/components/schemas/{name}")});
        match what {
            "text" => json!({"text/plain": {"schema": {"type": "string"}}}),
            "any" => json!({"*/*": {"schema": {}}}),
            "pem" => json!({"application/x-pem-file": {"schema": {"type": "string"}}}),
            "events" => json!({"text/event-stream": {"schema": {"type": "string"}}}),
            "bytes" => json!({"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}),
            list if list.starts_with('[') => {
                json!({"application/json": {"schema": {"type": "array", "items": reference(list.trim_matches(['[', ']']))}}})
            }
            name => json!({"application/json": {"schema": reference(name)}}),
        }
    };
    let request = request.map(|name| json!({"required": false, "content": content(name)}));
    let (status, what) = answer.split_once(' ').unwrap_or((answer, "empty"));
    let success = match what {
        "empty" => json!({"description": "Done."}),
        what => json!({"description": "Done.", "content": content(what)}),
    };
    let responses = json!({
        status: success,
        "default": {
            "description": "An error: {\"id\": \"not_found\", \"message\": \"…\"}",
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
        },
    });
    Some((request, responses))
}
