//! End-to-end tests: each starts the real `paas` binary and talks to it as a user would.

mod addons;
mod build_bounds;
mod build_sandbox;
mod client;
mod crash;
mod deploy;
mod dyno_network;
mod edge;
mod egress;
mod features;
mod heroku_cli;
mod https;
mod languages;
mod limits;
mod logs;
mod native;
mod native_crash;
mod readme;
mod release_phase;
mod router;
mod run;
mod scheduler;
mod server;
mod support;
mod teams;
mod tenant_files;
