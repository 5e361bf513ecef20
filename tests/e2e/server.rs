//! End-to-end tests of `paas server` itself: start-up, operator key, restart, shutdown.
