-- Deploys (git push, paas deploy): each build's buildpack and output, the slugs builds make
-- (content-addressed by their sha256 in the data dir's slug store) and each app's buildpack.

ALTER TABLE builds ADD COLUMN buildpack TEXT;
ALTER TABLE builds ADD COLUMN output TEXT;

CREATE TABLE slugs (
    id TEXT PRIMARY KEY NOT NULL,
    app_id TEXT NOT NULL REFERENCES apps (id),
    checksum TEXT NOT NULL,
    size INTEGER NOT NULL,
    stack TEXT NOT NULL,
    commit_sha TEXT,
    buildpack TEXT,
    process_types TEXT NOT NULL,
    created_at TEXT NOT NULL
);

CREATE TABLE app_buildpacks (
    app_id TEXT PRIMARY KEY NOT NULL REFERENCES apps (id),
    url TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
