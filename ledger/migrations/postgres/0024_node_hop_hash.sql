-- The hash of each node's hop secret (grid::auth::hop_secret, derived from its node key with its
-- own label): what routers check forwarded requests against, so that a hop header seen on the
-- wire is not the node key and opens no /grid/* endpoint. NULL until the node registers again.
ALTER TABLE nodes ADD COLUMN hop_hash TEXT;
