-- App setups (POST /app-setups, app.json): kept in the ledger so that GET /app-setups/{id}
-- answers after a restart and on every node of a grid. A setup goes with its app.

CREATE TABLE app_setups (
    id TEXT PRIMARY KEY,
    app_id TEXT NOT NULL REFERENCES apps (id),
    build_id TEXT,
    status TEXT NOT NULL,
    failure_message TEXT,
    postdeploy_output TEXT,
    postdeploy_exit_code BIGINT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);

CREATE INDEX app_setups_app ON app_setups (app_id);
