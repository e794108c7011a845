//! Fuzz target `der`: see `jpki_core::fuzzing::der`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| jpki_core::fuzzing::der(data));
