//! Fuzz target `cms`: see `jpki_core::fuzzing::cms`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| jpki_core::fuzzing::cms(data));
