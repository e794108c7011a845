//! Fuzz target `certificate`: see `jpki_fuzz::certificate`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| jpki_fuzz::certificate(data));
