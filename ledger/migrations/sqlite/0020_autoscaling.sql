-- Autoscaling of a process type (a paas extension in the manner of Heroku's): keep its p95
-- response time under p95_ms with min_quantity..max_quantity dynos. One row per process type
-- that ever had it; enabled = 0 once disabled (the bounds are kept for the next enable).

CREATE TABLE autoscaling (
    app_id TEXT NOT NULL REFERENCES apps (id),
    process_type TEXT NOT NULL,
    enabled INTEGER NOT NULL,
    min_quantity INTEGER NOT NULL,
    max_quantity INTEGER NOT NULL,
    p95_ms INTEGER NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (app_id, process_type)
);
