-- Pipelines (Heroku's): a named group of apps, each coupled at one stage (development,
-- staging, production); a promotion copies the source app's current slug to each target as a
-- new release, and records each target's outcome. App webhooks: where an app's events are
-- POSTed (Heroku's payload, signed with the webhook's secret), for the event kinds included.

CREATE TABLE pipelines (
    id TEXT PRIMARY KEY NOT NULL,
    name TEXT NOT NULL UNIQUE,
    owner_type TEXT NOT NULL,
    owner_id TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);

-- An app is in one pipeline at most.
CREATE TABLE pipeline_couplings (
    id TEXT PRIMARY KEY NOT NULL,
    pipeline_id TEXT NOT NULL REFERENCES pipelines (id),
    app_id TEXT NOT NULL UNIQUE REFERENCES apps (id),
    stage TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX pipeline_couplings_pipeline ON pipeline_couplings (pipeline_id);

CREATE TABLE pipeline_promotions (
    id TEXT PRIMARY KEY NOT NULL,
    pipeline_id TEXT NOT NULL REFERENCES pipelines (id),
    source_app_id TEXT NOT NULL REFERENCES apps (id),
    source_release_id TEXT NOT NULL,
    status TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);

CREATE TABLE pipeline_promotion_targets (
    id TEXT PRIMARY KEY NOT NULL,
    promotion_id TEXT NOT NULL REFERENCES pipeline_promotions (id),
    app_id TEXT NOT NULL REFERENCES apps (id),
    release_id TEXT,
    status TEXT NOT NULL,
    error_message TEXT,
    position INTEGER NOT NULL
);
CREATE INDEX pipeline_promotion_targets_promotion ON pipeline_promotion_targets (promotion_id);

-- `include` is a comma-separated list of event kinds (api:release, dyno, …).
CREATE TABLE app_webhooks (
    id TEXT PRIMARY KEY NOT NULL,
    app_id TEXT NOT NULL REFERENCES apps (id),
    url TEXT NOT NULL,
    secret TEXT NOT NULL,
    include_kinds TEXT NOT NULL,
    level TEXT NOT NULL,
    authorization_header TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    UNIQUE (app_id, url)
);
