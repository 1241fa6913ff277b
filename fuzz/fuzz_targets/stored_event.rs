#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| fuzzing::stored_event(data));
