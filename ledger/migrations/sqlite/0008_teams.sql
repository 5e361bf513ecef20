-- Teams (issue 27): a team owns apps together; its members have a role (admin, member, viewer).
-- A team app keeps a user in owner_id (its creator, for the dyno sizes it may use) and names its
-- team in team_id; `locked` apps give team members no implicit view. Collaborators get a
-- comma-separated permission set (view, deploy, operate, manage): existing rows keep all four.

CREATE TABLE teams (
    id TEXT PRIMARY KEY NOT NULL,
    name TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    deleted_at TEXT
);
-- Deleted teams are kept (deleted_at set): destroyed apps of theirs still name them.
CREATE UNIQUE INDEX teams_live_name ON teams (name) WHERE deleted_at IS NULL;

CREATE TABLE team_members (
    id TEXT PRIMARY KEY NOT NULL,
    team_id TEXT NOT NULL REFERENCES teams (id),
    user_id TEXT NOT NULL REFERENCES users (id),
    role TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    UNIQUE (team_id, user_id)
);
CREATE INDEX team_members_user ON team_members (user_id);

ALTER TABLE apps ADD COLUMN team_id TEXT REFERENCES teams (id);
ALTER TABLE apps ADD COLUMN locked INTEGER NOT NULL DEFAULT 0;
ALTER TABLE collaborators ADD COLUMN permissions TEXT NOT NULL DEFAULT 'view,deploy,operate,manage';
ALTER TABLE users ADD COLUMN default_team_id TEXT REFERENCES teams (id);
