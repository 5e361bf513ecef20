-- Log drains: where an app's log stream is forwarded (syslog:// or http(s)://), each with the
-- token that names it to the receiver (Heroku's d.<uuid>).

CREATE TABLE log_drains (
    id TEXT PRIMARY KEY NOT NULL,
    app_id TEXT NOT NULL REFERENCES apps (id),
    url TEXT NOT NULL,
    token TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    UNIQUE (app_id, url)
);
