//! Fuzz target `resign`: see `jpki_fuzz::resign`. The test PKI's keys are derived once, before
//! the first input (so that the per-input timeout does not count them).
#![no_main]

libfuzzer_sys::fuzz_target!(init: jpki_fuzz::resign::warm_up(), |data: &[u8]| jpki_fuzz::resign::resign(data));
