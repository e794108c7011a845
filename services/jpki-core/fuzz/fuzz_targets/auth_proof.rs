//! Fuzz target `auth_proof`: see `jpki_core::fuzzing::auth_proof`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| jpki_core::fuzzing::auth_proof(data));
