//! Fuzz target `four_fields`: see `jpki_fuzz::four_fields`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| jpki_fuzz::four_fields(data));
