-- One platform across the grid's nodes.

-- The node that runs a build: a node starting again fails only its own interrupted builds, not
-- the builds another live node is running. NULL: made before nodes recorded it.
ALTER TABLE builds ADD COLUMN node_id TEXT;
CREATE INDEX builds_pending_node ON builds (status, node_id);

-- Restart and stop requests in the order they were recorded: every node carries out the ones
-- after the last it saw on its own dynos (a `ps:restart` made through another node's API).
ALTER TABLE dyno_actions ADD COLUMN seq BIGSERIAL;
CREATE INDEX dyno_actions_seq ON dyno_actions (seq);
