//! End-to-end tests that drive a real server with the official `heroku` CLI (npm).
