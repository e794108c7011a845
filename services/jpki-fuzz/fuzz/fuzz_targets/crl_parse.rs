//! Fuzz target `crl_parse`: see `jpki_fuzz::crl_parse`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| jpki_fuzz::crl_parse::crl_parse(data));
