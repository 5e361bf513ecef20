//! Fuzz target `slug_manifest`: see `paas_platform::fuzzing::slug_manifest`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| paas_platform::fuzzing::slug_manifest(data));
