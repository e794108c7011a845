//! Fuzz target `cms`: see `jpki_fuzz::cms`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| jpki_fuzz::cms(data));
