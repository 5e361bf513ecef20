-- The dyno grid: nodes (each `paas server` on this ledger), their join tokens, the coordinator's
-- leader row and the placement it writes. Lease times are milliseconds since the epoch on the
-- database's clock (so nodes' clocks never need to agree); every other time is RFC 3339 text.

-- A node: where it is reached, what it offers, and its lease. `epoch` is the node's fencing
-- token: it grows each time the node registers and each time the coordinator finds its lease
-- expired (state 'down'); a node runs only assignments of its current epoch.
CREATE TABLE nodes (
    id TEXT PRIMARY KEY NOT NULL,
    name TEXT NOT NULL UNIQUE,
    api_url TEXT NOT NULL,
    router_url TEXT NOT NULL,
    memory_mib BIGINT NOT NULL,
    millicores BIGINT NOT NULL,
    wasm BIGINT NOT NULL,
    native BIGINT NOT NULL,
    version TEXT NOT NULL,
    key_hash TEXT UNIQUE,
    state TEXT NOT NULL,
    epoch BIGINT NOT NULL,
    registered_at TEXT NOT NULL,
    heartbeat_ms BIGINT NOT NULL,
    lease_until_ms BIGINT NOT NULL
);

-- Tokens an operator issues (`paas nodes:token`) for a new machine to join with; stored hashed,
-- used once.
CREATE TABLE node_join_tokens (
    id TEXT PRIMARY KEY NOT NULL,
    token_hash TEXT NOT NULL UNIQUE,
    created_by TEXT NOT NULL REFERENCES users (id),
    created_at TEXT NOT NULL,
    expires_ms BIGINT NOT NULL,
    used_by TEXT
);

-- The one coordinator: the node holding this row's lease places dynos; `term` fences its writes.
CREATE TABLE grid_leader (
    id BIGINT PRIMARY KEY NOT NULL,
    node_id TEXT,
    term BIGINT NOT NULL,
    lease_until_ms BIGINT NOT NULL
);
INSERT INTO grid_leader (id, node_id, term, lease_until_ms) VALUES (1, NULL, 0, 0);

-- Which node runs which dyno (web.2 of an app), written by the coordinator of `term` for the
-- node's `epoch`.
CREATE TABLE dyno_assignments (
    app_id TEXT NOT NULL REFERENCES apps (id),
    process_type TEXT NOT NULL,
    dyno BIGINT NOT NULL,
    node_id TEXT NOT NULL REFERENCES nodes (id),
    epoch BIGINT NOT NULL,
    term BIGINT NOT NULL,
    assigned_at TEXT NOT NULL,
    PRIMARY KEY (app_id, process_type, dyno)
);
CREATE INDEX dyno_assignments_node ON dyno_assignments (node_id);
