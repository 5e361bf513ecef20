-- Custom certificates (Heroku's SNI endpoints, `heroku certs:add`): an app's certificate chain and
-- private key (PEM; the key is never rendered by the API), served by the router's HTTPS listener
-- for the app's custom domains. A domain may be set to one (`domains:update --cert`).

CREATE TABLE sni_endpoints (
    id TEXT PRIMARY KEY NOT NULL,
    app_id TEXT NOT NULL REFERENCES apps (id),
    name TEXT NOT NULL UNIQUE,
    certificate_chain TEXT NOT NULL,
    private_key TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX sni_endpoints_app ON sni_endpoints (app_id);

ALTER TABLE domains ADD COLUMN sni_endpoint_id TEXT REFERENCES sni_endpoints (id);
