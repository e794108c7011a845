//! Fuzz target `crl`: see `jpki_fuzz::crl`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| jpki_fuzz::crl(data));
