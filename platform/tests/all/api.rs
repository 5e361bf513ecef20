//! The Platform API in-process: `paas_platform::api::app(state)` driven with
//! `tower::ServiceExt::oneshot` over a real SQLite ledger.
