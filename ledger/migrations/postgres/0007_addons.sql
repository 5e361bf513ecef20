-- Add-ons and their attachments. An add-on belongs to one app (the one it was created on) and is
-- a resource on a service's server (`provider_id`: its database and role there); `config` is the
-- JSON object of what its attachments set (`{"URL": "postgres://…"}` sets `<NAME>_URL`). An
-- attachment gives an app the add-on's config under a name unique on that app (`DATABASE`).
-- Destroying an add-on deletes its row and its attachments (the releases keep the history).

CREATE TABLE addons (
    id TEXT PRIMARY KEY NOT NULL,
    name TEXT NOT NULL UNIQUE,
    app_id TEXT NOT NULL REFERENCES apps (id),
    service TEXT NOT NULL,
    plan TEXT NOT NULL,
    provider_id TEXT NOT NULL,
    config TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);

CREATE TABLE addon_attachments (
    id TEXT PRIMARY KEY NOT NULL,
    addon_id TEXT NOT NULL REFERENCES addons (id),
    app_id TEXT NOT NULL REFERENCES apps (id),
    name TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    UNIQUE (app_id, name)
);
CREATE INDEX addon_attachments_addon ON addon_attachments (addon_id);
