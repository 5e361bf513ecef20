//! paas-router: the Host-based routing table (`<app>.<domain>` and custom domains), random choice
//! among an app's web dynos, proxying (in-process to wasm dynos, TCP to native ones), timeouts,
//! Heroku-style router log lines and error codes (H10, H12, H14, …).
