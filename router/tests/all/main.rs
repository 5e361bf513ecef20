//! paas-router integration tests: real HTTP on 127.0.0.1:0.
