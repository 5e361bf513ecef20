//! Fuzz target `procfile`: see `paas_platform::fuzzing::procfile`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| paas_platform::fuzzing::procfile(data));
