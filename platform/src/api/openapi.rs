//! `GET /openapi.json`: an OpenAPI 3.1 document of every route (its summary here, in [`ROUTES`];
//! its request and response schemas in `openapi_schemas.rs`), extensions to Heroku's API
//! marked `x-paas-extension: true`. Served without authentication.

use axum::Json;
use serde_json::{Map, Value, json};

/// (path, method, summary, is a paas extension).
pub const ROUTES: &[(&str, &str, &str, bool)] = &[
    ("/openapi.json", "get", "This document (no authentication).", true),
    ("/paas/ca.pem", "get", "The local CA's certificate (PEM, no authentication) that signs the rendezvous's (and HTTPS API's) certificate; 404 with --tls-cert.", true),
    ("/account", "get", "The caller's account.", false),
    ("/users", "post", "Create a user {email, password?} → 201 {id, email, api_key}; operators only (else 403).", true),
    ("/users/{user}", "get", "The account (`~` = the caller; others: operators only) with the dyno sizes it may use, dyno_sizes.", false),
    ("/users/{user}", "patch", "Set the dyno sizes a user may use {dyno_sizes: [size…] | null (the default: Eco, Basic, Standard-1X, Standard-2X)}; operators only (else 403). Scaling and one-off dynos of an app may use its owner's sizes; another size is a 422 naming them.", true),
    ("/users/{user}/apps", "get", "Apps the user (`~` = the caller) owns or collaborates on. Range: name, id, created_at, updated_at.", false),
    ("/oauth/authorizations", "get", "The caller's API keys as authorizations.", false),
    ("/oauth/authorizations", "post", "Create an API key; accepts Basic email:password (heroku login -i) or a Bearer key.", false),
    ("/oauth/authorizations/{id}", "get", "One authorization; `~` is the key in use (with its token).", false),
    ("/oauth/authorizations/{id}", "delete", "Revoke one of the caller's API keys (`~` = the key in use).", false),
    ("/oauth/sessions/{id}", "delete", "End a session (a no-op: only API keys exist).", false),
    ("/oauth/sessions", "get", "OAuth sessions: none (logins make API keys, listed as authorizations).", false),
    ("/account/features", "get", "Account features (Heroku Labs): none on this server.", false),
    ("/regions", "get", "The one region, us {id, name, description, country, locale, private_capable, provider, created_at, updated_at}.", false),
    ("/dyno-sizes", "get", "The dyno sizes {id, name, memory (GB), compute, cost, dyno_units, precise_dyno_units, private_space_only, architecture, generation}: Eco and Basic 128 MiB, Standard-1X/2X 512 MiB, Performance-M/L 2 GiB.", false),
    ("/stacks", "get", "The one stack, paas-wasm {id, name, state, default, created_at, updated_at}; Heroku's heroku-24 is accepted where a stack is named and mapped to it.", false),
    ("/apps", "get", "Apps: all for operators, else owned and collaborated. Range: name, id, created_at, updated_at.", false),
    ("/apps", "post", "Create an app {name?, region?, stack?}; makes v1 `Initial release`.", false),
    ("/apps/{app}", "get", "App info (by name or id).", false),
    ("/apps/{app}", "patch", "Update an app {name?, maintenance?}.", false),
    ("/apps/{app}", "delete", "Destroy an app (owner or operator).", false),
    ("/apps/{app}/config-vars", "get", "Config vars, a flat object.", false),
    ("/apps/{app}/config-vars", "patch", "Set config vars; a null value unsets. Makes a release when something changes.", false),
    ("/apps/{app}/releases", "get", "Releases. Range: version, id, created_at.", false),
    ("/apps/{app}/releases", "post", "Roll back {release: id or version} (a new release copying its slug and config), or release {slug: id, description?} (the app's own slug or one of another app the caller can see). A release process type runs first (release phase); if it fails: 422 release_phase_failed with its output, the release recorded as failed, the current one kept.", false),
    ("/apps/{app}/releases/{release}", "get", "One release by version or id.", false),
    ("/release-output/{token}", "get", "A release's output_stream_url (signed, no authentication): its release phase's output, text/plain (kept in memory for the last 1000 releases whose phase ran through the API).", true),
    ("/apps/{app}/releases/{release}/config-vars", "get", "The config vars as that release had them, a flat object.", false),
    ("/apps/{app}/formation", "get", "The formation of the current release's process types; a release phase is listed as type release, quantity 0. Range: type, id.", false),
    ("/apps/{app}/formation", "patch", "Scale/resize {updates: [{type, quantity: N | \"N\" | \"+N\" | \"-N\", size?}]}; all or nothing. A size the app's owner is not granted: 422.", false),
    ("/apps/{app}/formation/{type}", "get", "One process type's formation.", false),
    ("/apps/{app}/formation/{type}", "patch", "Scale/resize one process type {quantity?, size?}.", false),
    ("/apps/{app}/formations/{type}", "delete", "Restart the dynos of a process type (recorded; 202).", false),
    ("/apps/{app}/formations/{type}/actions/stop", "post", "Stop the dynos of a process type (recorded; 202).", false),
    ("/apps/{app}/dynos", "get", "Running dynos.", false),
    ("/apps/{app}/dynos", "post", "Start a one-off dyno {command, attach?, env?, size?, type? (run), force_no_tty?, time_to_live? (s, 3600)} from the current release → 201 dyno run.N; attached: attach_url rendezvous://HOST:PORT/SECRET (TLS; the secret works once, within 60 s). A size the app's owner is not granted: 422; more one-off dynos at once than --oneoffs-per-app (5): 429 oneoff_limit.", false),
    ("/apps/{app}/dynos", "delete", "Restart all dynos (recorded; 202).", false),
    ("/apps/{app}/dynos/{dyno}", "get", "One running dyno.", false),
    ("/apps/{app}/dynos/{dyno}", "delete", "Restart one dyno (recorded; 202).", false),
    ("/apps/{app}/dynos/{dyno}/actions/stop", "post", "Stop a dyno (recorded; 202).", false),
    ("/apps/{app}/builds", "get", "Builds. Range: created_at, id.", false),
    ("/apps/{app}/builds", "post", "Build from a URL {source_blob: {url, version?, checksum?: SHA256:hex}} → 201 the build (output at output_stream_url while it runs and after); a URL from POST /sources is read from this server's store, any other is fetched under the node's egress policy (no redirects, 1 GiB, 10 min); a checksum that does not match: 422, nothing built. Or (a paas extension) a tarball (.tar or .tar.gz) sent as the body (?source_version=SHA): 200 text/plain, the build's output as it is written; Paas-Build-Id names the build.", false),
    ("/apps/{app}/builds/{build}", "get", "One build: status pending, succeeded or failed; output at output_stream_url.", false),
    ("/sources", "post", "A put/get URL pair on this server's blob store → 201 {source_blob: {get_url, put_url}}: PUT the source tarball (1 GiB at most), then build from get_url; the URL's token is its credential; it works for an hour.", false),
    ("/sources/{token}", "put", "Upload a source (no authentication: the token is the credential); 404 once expired.", true),
    ("/sources/{token}", "get", "Read a source back (no authentication: the token is the credential); 404 once expired.", true),
    ("/apps/{app}/builds/{build}/output", "get", "A build's output, text/plain (a build's output_stream_url).", true),
    ("/build-output/{token}", "get", "A build's output_stream_url (signed, no authentication): its output, text/plain, while it runs and after; 404 for a wrong signature or one from before a server restart.", true),
    ("/apps/{app}/build-cache", "delete", "Empty the app's build cache (202).", false),
    ("/apps/{app}/buildpack-installations", "get", "The app's buildpack (none: detection).", false),
    ("/apps/{app}/buildpack-installations", "put", "Set the buildpack {updates: [{buildpack: URL, folder or built-in name}]}; [] clears it; one at most.", false),
    ("/apps/{app}/slugs/{slug}", "get", "One slug: checksum (SHA256:…, its name in the slug store), process_types, size, stack.", false),
    ("/apps/{app}/log-sessions", "post", "Make a log session {dyno?: web.1 or web, lines?: at most 1500 (100), source?: app or paas, tail?} → 201 {id, logplex_url, created_at, updated_at}.", false),
    ("/log-sessions/{token}", "get", "A log session's logplex_url (the token is the capability; no authentication; expires): text/event-stream, retry: 1, one event per line with its id; Last-Event-ID resumes; unknown or expired → 404.", true),
    ("/apps/{app}/log-drains", "get", "Log drains {id, url, token, created_at, updated_at, addon}.", false),
    ("/apps/{app}/log-drains", "post", "Add a log drain {url: syslog://host:port or http://host/path} → 201.", false),
    ("/apps/{app}/log-drains/{drain}", "get", "One log drain by id, URL or token.", false),
    ("/apps/{app}/log-drains/{drain}", "delete", "Remove a log drain by id, URL or token.", false),
    ("/metrics", "get", "Every app of this node in Prometheus' text format (0.0.4): requests by status class and H-code, the response-time histogram, bytes, dynos, memory, restarts, CPU time, wasm instances; operators only (else 403).", true),
    ("/apps/{app}/metrics", "get", "The app's one-minute series {app, resolution_seconds, since, until, points: [{time, requests {1xx..5xx}, errors {H12: n}, response_time_ms {p50, p95, p99}, bytes_in, bytes_out, memory_bytes, cpu_seconds, dynos, instances, restarts}], processes, dynos [{name, process_type, memory_bytes, cpu_seconds}], instances, budget}; ?since= an RFC 3339 time or 90m / 6h / 1d (default 1h, at most 24 h).", true),
    ("/apps/{app}/formation/{type}/autoscaling", "get", "The process type's autoscaling {process_type, enabled, min_quantity, max_quantity, p95_ms, ceiling (a wasm app's instance budget for the size), created_at, updated_at}.", true),
    ("/apps/{app}/formation/{type}/autoscaling", "put", "Enable autoscaling {min_quantity, max_quantity, p95_ms} (web only; 1 <= min <= max <= 100): every minute the p95 response time is compared with the target and the formation scaled (an app[api] line per decision).", true),
    ("/apps/{app}/formation/{type}/autoscaling", "delete", "Disable autoscaling (the formation stays as it is).", true),
    ("/apps/{app}/features", "get", "App features {id, name, description, doc_url, enabled, state, created_at, updated_at, display_name, feedback_email}: preboot, sleep.", false),
    ("/apps/{app}/features/{name}", "get", "One app feature (404 for an unknown name).", false),
    ("/apps/{app}/features/{name}", "patch", "Enable or disable a feature {enabled: bool}.", false),
    ("/apps/{app}/scheduled-jobs", "get", "Scheduled jobs {id, schedule, command, next_run_at, last_run_at, app, created_at, updated_at}, oldest first.", true),
    ("/apps/{app}/scheduled-jobs", "post", "Add a scheduled job {schedule: cron, 5 fields in UTC (\"*/10 * * * *\", @daily), command} → 201; at most 50 per app, commands up to 4096 bytes; a bad schedule is a 422 saying why. Runs as a detached one-off dyno scheduler.N.", true),
    ("/apps/{app}/scheduled-jobs/{job}", "get", "One scheduled job by id (or a prefix naming one).", true),
    ("/apps/{app}/scheduled-jobs/{job}", "delete", "Remove a scheduled job by id (or a prefix naming one).", true),
    ("/apps/{app}/addons", "get", "The add-ons the app owns or has attached (addon_service and plan expanded). Range: created_at, id, name.", false),
    ("/apps/{app}/addons", "post", "Create an add-on {plan: \"heroku-postgresql:essential-0\" | {name|id}, attachment?: {name}, name?} → 201: provisioned (a database and role on the add-on PostgreSQL server) and attached as DATABASE (then HEROKU_POSTGRESQL_<COLOR>, or attachment.name) in a new release setting <NAME>_URL. Unknown service or plan: 422 naming the available ones; a failed provisioning records nothing (503).", false),
    ("/apps/{app}/addons/{addon}", "get", "One add-on of the app (by name, id or attachment name).", false),
    ("/apps/{app}/addons/{addon}", "patch", "Change plan {plan} (the role's connection limit follows); renaming is refused.", false),
    ("/apps/{app}/addons/{addon}", "delete", "Destroy an add-on the app owns (owner or operator): its database and role are dropped, and each attachment removed in a release of its app.", false),
    ("/apps/{app}/addon-attachments", "get", "Attachments on the app. Range: created_at, id, name.", false),
    ("/apps/{app}/addon-attachments/{attachment}", "get", "One attachment on the app, by id or name.", false),
    ("/addons", "get", "Add-ons on apps the caller may see (all for operators). Range: created_at, id, name.", false),
    ("/addons/{addon}", "get", "One add-on by name or id.", false),
    ("/addons/{addon}/addon-attachments", "get", "The add-on's attachments the caller may see.", false),
    ("/addon-attachments", "get", "Attachments on apps the caller may see. Range: created_at, id, name.", false),
    ("/addon-attachments", "post", "Attach an add-on {addon, app, name?} → 201; a new release on that app sets <NAME>_URL. A name used on the app: 422.", false),
    ("/addon-attachments/{id}", "get", "One attachment.", false),
    ("/addon-attachments/{id}", "delete", "Detach: the config vars leave the app in a new release; the add-on stays.", false),
    ("/actions/addons/resolve", "post", "Add-ons named by {addon (name, id, or attachment name on app), app?, addon_service?}; 404 when none.", false),
    ("/actions/addon-attachments/resolve", "post", "Attachments named by {addon_attachment (name on app, DATABASE_URL too, id, or an add-on), app?, addon_service?}; 404 when none.", false),
    ("/addon-services", "get", "Add-on services (heroku-postgresql).", false),
    ("/addon-services/{service}", "get", "One add-on service.", false),
    ("/addon-services/{service}/plans", "get", "A service's plans (heroku-postgresql essential-0: 20 connections, 1 GB; essential-1: 20, 10 GB; essential-2: 40, 32 GB; heroku-redis mini: 20 clients, 25 MB; premium-0: 40, 50 MB; premium-1: 80, 100 MB; premium-2: 200, 250 MB; premium-3: 400, 500 MB).", false),
    ("/addon-services/{service}/plans/{plan}", "get", "One plan.", false),
    ("/plans", "get", "Every plan of every service.", false),
    ("/apps/{app}/sni-endpoints", "get", "The app's custom certificates {id, name, certificate_chain, domains (ids), ssl_cert {cert_domains, subject, issuer, starts_at, expires_at, self_signed?, ca_signed?}, app, created_at, updated_at}; never the private key.", false),
    ("/apps/{app}/sni-endpoints", "post", "Add a certificate {certificate_chain, private_key} (PEM; 64 KiB and 16 KiB at most, 10 certificates) → 201: refused with 422 saying why when it is not PEM, the key does not go with it, or it is expired or not valid yet. Served by the router's HTTPS listener (--router-tls-listen) for the app's custom domains it covers or that are set to it.", false),
    ("/apps/{app}/sni-endpoints/{endpoint}", "get", "One certificate by name or id.", false),
    ("/apps/{app}/sni-endpoints/{endpoint}", "patch", "Replace a certificate and key {certificate_chain, private_key}, checked as on create.", false),
    ("/apps/{app}/sni-endpoints/{endpoint}", "delete", "Remove a certificate; its domains are served with the server's certificate.", false),
    ("/apps/{app}/domains/{domain}", "patch", "Set the certificate a custom domain is served with {sni_endpoint: name | id | null} (heroku domains:update --cert).", false),
    ("/apps/{app}/domains", "get", "Domains: <app>.<domain> (kind heroku) and custom ones. Range: id, hostname.", false),
    ("/apps/{app}/domains", "post", "Add a custom domain {hostname, sni_endpoint?: name or id}.", false),
    ("/apps/{app}/domains/{domain}", "get", "One domain by hostname or id.", false),
    ("/apps/{app}/domains/{domain}", "delete", "Remove a custom domain.", false),
    ("/apps/{app}/collaborators", "get", "The owner (role owner) and collaborators.", false),
    ("/apps/{app}/collaborators", "post", "Add a collaborator {user: email or id} (owner or operator).", false),
    ("/apps/{app}/collaborators/{who}", "get", "One collaborator by email or id.", false),
    ("/apps/{app}/collaborators/{who}", "delete", "Remove a collaborator (owner, operator, or themselves).", false),
    ("/pipelines", "get", "Pipelines the caller owns (or their teams do) {id, name, owner: {id, type}, generation, created_at, updated_at}; ?eq[name]=NAME filters by name.", false),
    ("/pipelines", "post", "Create a pipeline {name, owner?: {id, type: user | team}} → 201; names are unique on the server.", false),
    ("/pipelines/{pipeline}", "get", "One pipeline by name or id.", false),
    ("/pipelines/{pipeline}", "patch", "Rename a pipeline {name}.", false),
    ("/pipelines/{pipeline}", "delete", "Delete a pipeline and its couplings (the apps stay).", false),
    ("/pipelines/{pipeline}/pipeline-couplings", "get", "The pipeline's couplings {id, app, pipeline, stage, created_at, updated_at}.", false),
    ("/pipeline-couplings", "get", "The couplings of every pipeline the caller sees.", false),
    ("/pipeline-couplings", "post", "Couple an app {app, pipeline, stage: development | staging | production} → 201 (manage on the app; an app is in one pipeline at most).", false),
    ("/pipeline-couplings/{coupling}", "get", "One coupling.", false),
    ("/pipeline-couplings/{coupling}", "patch", "Move the app to another stage {stage}.", false),
    ("/pipeline-couplings/{coupling}", "delete", "Take the app out of its pipeline.", false),
    ("/apps/{app}/pipeline-couplings", "get", "The app's coupling; 404 when it is in no pipeline.", false),
    ("/filters/apps", "post", "The apps of {in: {id: [ids]}} the caller may see (what heroku pipelines:info reads).", false),
    ("/pipeline-promotions", "post", "Promote {pipeline: {id}, source: {app: {id}}, targets: [{app: {id}}]}: the source's current slug is released on each target (after its release phase) as Promote <app> vN → 201 once done (view on the source, deploy on each target).", false),
    ("/pipeline-promotions/{promotion}", "get", "One promotion {id, pipeline, source: {app, release}, status, created_at, updated_at}.", false),
    ("/pipeline-promotions/{promotion}/promotion-targets", "get", "Its targets {id, app, release, status: succeeded | failed, error_message}.", false),
    ("/apps/{app}/webhooks", "get", "App webhooks {id, app, url, include, level, created_at, updated_at} (never the secret).", false),
    ("/apps/{app}/webhooks", "post", "Add a webhook {url: http(s), include: [kinds], level: notify | sync, secret?, authorization?} → 201, the secret in Heroku-Webhook-Secret; a host the egress policy denies: 422.", false),
    ("/apps/{app}/webhooks/{webhook}", "get", "One webhook.", false),
    ("/apps/{app}/webhooks/{webhook}", "patch", "Change a webhook (any field of create).", false),
    ("/apps/{app}/webhooks/{webhook}", "delete", "Remove a webhook.", false),
    ("/apps/{app}/webhook-deliveries", "get", "Recent deliveries, newest first {id, event, webhook, status, num_attempts, next_attempt_at, last_attempt, created_at, updated_at} (kept in memory, 100 per app).", false),
    ("/apps/{app}/webhook-deliveries/{delivery}", "get", "One delivery.", false),
    ("/apps/{app}/webhook-events", "get", "Recent events sent to webhooks, newest first {id, include, payload, created_at, updated_at} (kept in memory, 100 per app).", false),
    ("/apps/{app}/webhook-events/{event}", "get", "One event.", false),
    ("/app-setups", "post", "Create an app from a source tarball and its app.json {app?: {name, region, stack}, source_blob: {url, checksum?, version?}, overrides?: {env}} → 202 pending; a bad app.json: 422 listing every problem, nothing made. Then env, add-ons, build, formation and scripts.postdeploy (a one-off).", false),
    ("/app-setups/{setup}", "get", "One setup {id, app, build, status: pending | succeeded | failed, failure_message, postdeploy: {output, exit_code}, created_at, updated_at}.", false),
    ("/account", "patch", "Update the caller's account (name, email settings); answers the account.", false),
    ("/nodes", "get", "The nodes of the grid {id, name, api_url, router_url, state, lease…}; operators only.", true),
    ("/nodes/tokens", "post", "A join token for a new node (paas node --join); operators only.", true),
    ("/grid/node", "get", "The node a node key names (node key, no API key).", true),
    ("/grid/slugs/{checksum}", "get", "A slug by checksum for another node (node key), application/octet-stream.", true),
    ("/grid/apps/{app_id}/dynos", "get", "This node's dynos of an app, for another node (node key).", true),
    ("/grid/apps/{app_id}/logs", "get", "This node's log lines of an app, for another node (node key), NDJSON.", true),
    ("/grid/apps/{app_id}/latency", "get", "This node's web response-time histogram of an app {counts, sum_us}, for the grid's autoscaler (node key).", true),
    ("/teams", "get", "The teams the caller is a member of.", false),
    ("/teams", "post", "Create a team {name} → 201; the caller is its admin.", false),
    ("/teams/{team}", "get", "One team by name or id.", false),
    ("/teams/{team}", "delete", "Delete a team without apps (admins).", false),
    ("/teams/{team}/features", "get", "Team features: none.", false),
    ("/teams/{team}/members", "get", "The team's members {email, role, user}.", false),
    ("/teams/{team}/members", "post", "Add a member {email, role: admin | member | viewer} (admins).", false),
    ("/teams/{team}/members", "put", "Add or update a member {email, role} (admins).", false),
    ("/teams/{team}/members", "patch", "Change a member's role {email, role} (admins).", false),
    ("/teams/{team}/members/{member}", "delete", "Remove a member by email or id (admins).", false),
    ("/teams/{team}/apps", "get", "The team's apps.", false),
    ("/teams/apps", "post", "Create a team app {name?, team} → 201.", false),
    ("/teams/apps/{app}", "get", "A team app (with locked).", false),
    ("/teams/apps/{app}", "patch", "Lock, unlock or transfer a team app {locked?, owner?}.", false),
    ("/teams/apps/{app}/collaborators", "get", "A team app's collaborators with their permissions.", false),
    ("/teams/apps/{app}/collaborators", "post", "Add a collaborator {user, permissions?} to a team app.", false),
    ("/teams/apps/{app}/collaborators/{who}", "get", "One collaborator of a team app.", false),
    ("/teams/apps/{app}/collaborators/{who}", "patch", "Set a collaborator's permissions {permissions}.", false),
    ("/teams/apps/{app}/collaborators/{who}", "delete", "Remove a collaborator of a team app.", false),
    ("/teams/permissions", "get", "The app permissions a team member may hold: view, deploy, operate, manage.", false),
    ("/team-app-permissions", "get", "The same, at Heroku's older path.", false),
    ("/account/app-transfers", "post", "Transfer a personal app {app, recipient} (owner) → 201.", false),
    ("/dashboard", "get", "The web dashboard (HTML; it calls this API with the user's key).", true),
    ("/dashboard/", "get", "The web dashboard (HTML).", true),
    ("/dashboard/{*file}", "get", "The dashboard's files (HTML, JavaScript, CSS).", true),
];

/// `GET /openapi.json`.
pub async fn document() -> Json<Value> {
    let mut paths = Map::new();
    for (path, method, summary, extension) in ROUTES {
        let entry = paths.entry(path.to_string()).or_insert_with(|| json!({}));
        let mut operation = json!({
            "summary": summary,
            "responses": {
                "default": {"description": "JSON; errors are {\"id\": \"not_found\", \"message\": \"…\"}"}
            },
        });
        if let Some((request, responses)) = super::openapi_schemas::operation_io(method, path) {
            operation["responses"] = responses;
            if let Some(request) = request {
                operation["requestBody"] = request;
            }
        }
        let parameters: Vec<Value> = path
            .split('/')
            .filter_map(|segment| segment.strip_prefix('{')?.strip_suffix('}'))
            .map(|name| json!({"name": name, "in": "path", "required": true, "schema": {"type": "string", "minLength": 1}}))
            .collect();
        if !parameters.is_empty() {
            operation["parameters"] = json!(parameters);
        }
        if *extension {
            operation["x-paas-extension"] = json!(true);
        }
        entry[*method] = operation;
    }
    Json(json!({
        "openapi": "3.1.0",
        "info": {
            "title": "paas Platform API",
            "version": "3",
            "description": "Heroku's Platform API v3 on the wire. Send `Accept: application/vnd.heroku+json; \
                version=3` and `Authorization: Bearer <api key>`. Lists take Heroku's Range header \
                (`<field> [\\]]start..[end]; max=N, order=asc|desc`) and answer 206 with Next-Range \
                while more remain. Each account (not an operator) may make --api-rate-limit requests \
                an hour (4,500, refilled continuously): authenticated responses carry \
                RateLimit-Remaining, and past it the API answers 429 {\"id\": \"rate_limit\"}.",
        },
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": super::openapi_schemas::components(),
        },
        "security": [{"bearer": []}],
        "paths": paths,
    }))
}
