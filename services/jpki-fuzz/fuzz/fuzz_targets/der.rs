//! Fuzz target `der`: see `jpki_fuzz::der`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| jpki_fuzz::der(data));
