//! The scheduler: runs each app's scheduled jobs (`paas scheduler:add`) as one-off dynos on their
//! cron schedules ([`cron`]).
pub mod cron;
