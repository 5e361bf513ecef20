-- App features (Heroku's app-features, e.g. preboot, sleep): one row per feature an app has
-- set; a feature with no row has its default state (disabled).

CREATE TABLE app_features (
    app_id TEXT NOT NULL REFERENCES apps (id),
    name TEXT NOT NULL,
    enabled INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (app_id, name)
);
