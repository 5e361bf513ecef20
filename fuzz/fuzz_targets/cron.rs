//! Fuzz target `cron`: see `paas_platform::fuzzing::cron`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| paas_platform::fuzzing::cron(data));
