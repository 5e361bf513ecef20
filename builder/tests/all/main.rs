//! Integration tests of paas-builder.
