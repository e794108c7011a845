//! Fuzz target `certificate`: see `jpki_core::fuzzing::certificate`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| jpki_core::fuzzing::certificate(data));
