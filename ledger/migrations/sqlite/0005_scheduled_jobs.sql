-- Scheduled jobs (`paas scheduler:add "*/10 * * * *" -- COMMAND`): a cron schedule (UTC) and a
-- command run as a one-off dyno. last_run_at is the scheduled time of the newest run the
-- scheduler has handled (run, or reported missed); it is what a restarted server counts missed
-- runs from, and what two servers sharing the ledger compare-and-set to claim a run.

CREATE TABLE scheduled_jobs (
    id TEXT PRIMARY KEY NOT NULL,
    app_id TEXT NOT NULL REFERENCES apps (id),
    schedule TEXT NOT NULL,
    command TEXT NOT NULL,
    last_run_at TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX scheduled_jobs_app ON scheduled_jobs (app_id);
