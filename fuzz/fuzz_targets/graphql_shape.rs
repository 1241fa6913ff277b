#![no_main]
// Structure-aware: the bytes describe nested constructs (fuzzing::render_shape).
libfuzzer_sys::fuzz_target!(|data: &[u8]| fuzzing::graphql_shape(data));
