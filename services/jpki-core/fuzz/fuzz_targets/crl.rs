//! Fuzz target `crl`: see `jpki_core::fuzzing::crl`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| jpki_core::fuzzing::crl(data));
