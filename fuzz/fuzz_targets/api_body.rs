//! Fuzz target `api_body`: see `paas_platform::fuzzing::api_body`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| paas_platform::fuzzing::api_body(data));
