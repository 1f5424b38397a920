#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| rust_grpc_fuzz::plugin_request::run(data));
