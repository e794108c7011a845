//! Fuzz target `auth_proof`: see `jpki_fuzz::auth_proof`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| jpki_fuzz::auth_proof(data));
