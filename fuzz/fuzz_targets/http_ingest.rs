#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| logq_fuzz::http_ingest(data));
