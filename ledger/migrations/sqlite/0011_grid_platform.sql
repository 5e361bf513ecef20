-- One platform across the grid's nodes.

-- The node that runs a build: a node starting again fails only its own interrupted builds, not
-- the builds another live node is running. NULL: made before nodes recorded it.
ALTER TABLE builds ADD COLUMN node_id TEXT;
CREATE INDEX builds_pending_node ON builds (status, node_id);

-- Restart and stop requests in the order they were recorded (SQLite serialises writers, so the
-- next number is read inside the inserting transaction).
ALTER TABLE dyno_actions ADD COLUMN seq INTEGER;
UPDATE dyno_actions SET seq = rowid;
CREATE INDEX dyno_actions_seq ON dyno_actions (seq);
